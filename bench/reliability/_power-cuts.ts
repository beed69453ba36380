// The machinery the power-loss harnesses share (power-loss.ts on the store,
// power-loss-queue.ts on the queue): a uniform sample of the moments the disk model
// changed, each frozen with the workload's ledger, and the loop that materialises every
// sampled cut as possible post-power-loss dirs and has each opened twice (from its
// checkpoint, and by a full scan) by the harness's own judge.

import fs from "node:fs";
import path from "node:path";
import { type Cut, type NamesModel, type PowerLossFs, type Survival, materialise } from "../../test/helpers/power-loss-fs.ts";
import { prng } from "../../test/helpers/random.ts";
import { tmpDir } from "../../test/helpers/tmp.ts";

export interface Taken<L> {
  cut: Cut;
  /** The workload's ledger at the cut (what each caller had been told). */
  ledger: L;
  step: number;
}

/**
 * Keeps `want` cuts, a uniform sample (reservoir) of every moment `pfs` changed; each is
 * taken with `snapshot()` of the ledger at that moment. Replaces pfs.onChange.
 */
export function sampleCuts<L>(pfs: PowerLossFs, seed: number, want: number, snapshot: () => L, step: () => number): { taken: Taken<L>[]; moments: () => number } {
  const cutRandom = prng(seed ^ 0x5eed);
  const taken: Taken<L>[] = [];
  let moments = 0;
  pfs.onChange = () => {
    moments++;
    const take = (): Taken<L> => ({ cut: pfs.cut(), ledger: snapshot(), step: step() });
    if (taken.length < want) taken.push(take());
    else {
      const i = Math.floor(cutRandom() * moments);
      if (i < want) taken[i] = take();
    }
  };
  return { taken, moments: () => moments };
}

export interface ImageCounts {
  images: number;
  fromCheckpoint: number;
  failedImages: number;
}

/**
 * Materialise every cut (in disk order) `imagesPerCut` times under a fresh dir, and judge
 * each image twice: `judge(dir, true, ...)` may start from the checkpoint, `judge(copy,
 * false, ...)` scans. A judge throws on a failure and returns whether it recovered from
 * the checkpoint. ZIZQ_POWER_KEEP=<dir> keeps each failing image there, as materialised.
 */
export async function judgeCuts<L>(
  taken: Taken<L>[],
  options: {
    seed: number; label: string; liveDir: string; names: NamesModel; imagesPerCut: number; maxFailures: number; failures: string[];
    log?: (line: string) => void;
    /** Draws the later images' survival (the first is always "random"). @default the images' own stream */
    random?: () => number;
  },
  judge: (dir: string, checkpoint: boolean, t: Taken<L>, where: string) => Promise<boolean>,
): Promise<ImageCounts> {
  const { seed, names, liveDir, failures } = options;
  const counts: ImageCounts = { images: 0, fromCheckpoint: 0, failedImages: 0 };
  const imageRandom = prng(seed ^ 0x1ce);
  const survivalRandom = options.random ?? imageRandom;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(survivalRandom() * xs.length)];
  taken.sort((a, b) => a.cut.seq - b.cut.seq);
  for (const [c, t] of taken.entries()) {
    for (let img = 0; img < options.imagesPerCut && counts.failedImages < options.maxFailures; img++) {
      const survival: Survival = img === 0 ? "random" : pick(["random", "random", "none", "all"] as const);
      const where = `seed ${seed} ${options.label} cut ${c} (step ${t.step}, seq ${t.cut.seq}) image ${img} (${survival})`;
      const image = tmpDir("zizq-power-image-");
      materialise(t.cut, liveDir, image, imageRandom, survival, names);
      const scanCopy = tmpDir("zizq-power-scan-");
      fs.cpSync(image, scanCopy, { recursive: true });
      const keep = process.env.ZIZQ_POWER_KEEP;
      const pristine = keep ? tmpDir("zizq-power-pristine-") : undefined;
      if (pristine) fs.cpSync(image, pristine, { recursive: true });
      counts.images++;
      try {
        const fromCheckpoint = await judge(image, true, t, where);
        await judge(scanCopy, false, t, where);
        if (fromCheckpoint) counts.fromCheckpoint++;
      } catch (err) {
        counts.failedImages++;
        failures.push(`${where}: ${(err as Error).stack ?? err}`);
        options.log?.(failures.at(-1)!);
        if (pristine) fs.cpSync(pristine, path.join(keep!, `seed-${seed}-cut-${c}-image-${img}`), { recursive: true });
      }
      fs.rmSync(image, { recursive: true, force: true });
      fs.rmSync(scanCopy, { recursive: true, force: true });
      if (pristine) fs.rmSync(pristine, { recursive: true, force: true });
    }
  }
  return counts;
}
