// What ran during each event-loop stall the server logged (`loop_gap` events of
// ZIZQ_DEBUG_LOOP_DELAY=1), from a CPU profile of the same process: for each stall over
// the threshold, the stacks its samples name, and how much of it the sampler did not see
// at all. An unseen stretch is time the thread was not running (the OS or the VM ran
// something else), not time our code spent: a stall made mostly of it is the machine's.
// Run on what `PROFILE=DIR node --import tsx bench/delete-stall.ts` leaves in DIR:
//   node --import tsx bench/loop-gaps.ts DIR/CPU.….cpuprofile DIR/server-PID.log [min_ms=18]

import fs from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string };
  children?: number[];
}
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number }

process.stdout.on("error", () => process.exit(0)); // e.g. piped into head
const [profileFile, logFile, minMs = "18"] = process.argv.slice(2);
if (!profileFile || !logFile) throw new Error("usage: bench/loop-gaps.ts FILE.cpuprofile SERVER.log [min_ms]");
const profile = JSON.parse(fs.readFileSync(profileFile, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
const nameOf = (id: number) => byId.get(id)!.callFrame.functionName || "(anonymous)";
/** Root-first frames of a sample, without the profile's root. */
const stackOf = (id: number): string[] => {
  const frames: string[] = [];
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) frames.push(nameOf(at));
  return frames.reverse().slice(1);
};
// Sample i was taken at `at[i]` (µs, the monotonic clock the server logs gaps on) and
// covers the `timeDeltas[i]` before it: a long delta is a stretch the sampler did not run.
const at: number[] = [];
let clock = profile.startTime;
for (const delta of profile.timeDeltas) at.push((clock += delta));
const SAMPLE_US = 2000; // a delta above this counts as unseen beyond one sample period

const gaps = fs.readFileSync(logFile, "utf8").split("\n").filter((l) => l.includes('"loop_gap"'))
  .map((l) => JSON.parse(l) as { ms: number; start_mono_us: number; time: string })
  .filter((g) => g.ms >= Number(minMs));
for (const gap of gaps) {
  const from = gap.start_mono_us;
  const to = from + gap.ms * 1000;
  const stacks = new Map<string, number>();
  let unseenUs = 0;
  let seenUs = 0;
  for (let i = 0; i < at.length; i++) {
    // Sample i covers (at[i] - delta, at[i]]; the part inside the stall counts.
    const overlap = Math.min(at[i], to) - Math.max(at[i] - profile.timeDeltas[i], from);
    if (overlap <= 0) continue;
    const seen = Math.min(overlap, SAMPLE_US);
    seenUs += seen;
    unseenUs += overlap - seen;
    const frames = stackOf(profile.samples[i]);
    const key = `${frames.slice(0, 5).join(" > ")} :: ${frames[frames.length - 1] ?? "?"}`;
    stacks.set(key, (stacks.get(key) ?? 0) + seen);
  }
  console.log(`${gap.ms.toFixed(1)} ms stall at ${gap.time}: ${(seenUs / 1000).toFixed(1)} ms sampled, ${(unseenUs / 1000).toFixed(1)} ms unseen by the sampler`);
  for (const [key, us] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 4))) console.log(`  ${(us / 1000).toFixed(1)} ms  ${key}`);
}
