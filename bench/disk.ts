// DISK: bytes on disk (allocated blocks, as `du` counts) of a fresh `zizq serve`: empty,
// after 300 small jobs, and after 100,000 jobs of which 90% were then deleted and the
// store compacted (target: ≤ 16 MiB small; ≤ 2× live + 16 MiB once compaction settles).

import http from "node:http";
import { type BenchOptions, type Row, diskBytes, preload, request, sleep, startZizq } from "./_lib.ts";

export async function disk(opts: BenchOptions): Promise<Row[]> {
  const zizq = await startZizq("disk", opts);
  const agent = new http.Agent({ keepAlive: true });
  const mib = (b: number) => b / 1048576;
  try {
    await sleep(500); // the first spare is made at open
    const empty = diskBytes(zizq.dir);
    await preload(zizq.url, "small", 300, 100, 1);
    await sleep(500);
    const small = diskBytes(zizq.dir);
    const big = opts.quick ? 20_000 : 100_000;
    // 90% in queue "gone" (then deleted), 10% in "keep", interleaved batch by batch.
    for (let i = 0; i < big; i += 10_000) {
      await preload(zizq.url, "gone", 9000, 1000, 4, 1000 + i);
      await preload(zizq.url, "keep", 1000, 1000, 1, 1000 + i + 9000);
    }
    const del = await request(agent, `${zizq.url}/jobs?queue=gone`, "DELETE");
    if (del.status !== 200) throw new Error(`DELETE answered ${del.status}`);
    await preload(zizq.url, "more", 20_000, 1000, 4, 500_000); // seals segments: compaction runs
    await sleep(3000);
    const settled = diskBytes(zizq.dir);
    const live = 300 + big / 10 + 20_000;
    // Live data as the store counts it: one JOB record per job (9-byte frame, 81-byte meta,
    // queue, type, payload text).
    const record = (queue: string, n: number) => 9 + 81 + queue.length + "bench".length + `{"n":${n},"pad":"${"x".repeat(100)}"}`.length;
    const liveBytes = 300 * record("small", 0) + (big / 10) * record("keep", 10_000) + 20_000 * record("more", 500_000);
    const bound = 2 * liveBytes + 16 * 1048576;
    const res = await zizq.stop();
    return [
      { workload: "DISK empty server", mode: "buffered", target: "≤ 16 MiB", pass: mib(empty) <= 16, measured: `${mib(empty).toFixed(1)} MiB`, ...res },
      { workload: "DISK 300 jobs", mode: "buffered", target: "≤ 16 MiB", pass: mib(small) <= 16, measured: `${mib(small).toFixed(1)} MiB`, ...res },
      { workload: `DISK ${big} jobs, 90% deleted, +20k`, mode: "buffered", target: "≤ 2× live + 16 MiB", pass: settled <= bound,
        measured: `${mib(settled).toFixed(1)} MiB for ${live} live jobs (${mib(liveBytes).toFixed(1)} MiB live; bound ${mib(bound).toFixed(1)} MiB)`, ...res },
    ];
  } finally {
    agent.destroy();
  }
}
