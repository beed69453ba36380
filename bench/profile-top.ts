// Summarise a V8 .cpuprofile (from `node --cpu-prof`, e.g. `npm run bench -- --profile DIR`):
// the top functions by self time, and self time grouped by file (node_modules by package).
// Run: node --import tsx bench/profile-top.ts FILE.cpuprofile [N=25] [FIRST_MS]
// FIRST_MS: only the samples of the profile's first FIRST_MS ms (e.g. a server's start,
// without the close that wrote the profile).

import fs from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[] }

process.stdout.on("error", () => process.exit(0)); // e.g. piped into head
const [file, n = "25", firstMs] = process.argv.slice(2);
if (!file) throw new Error("usage: bench/profile-top.ts FILE.cpuprofile [N]");
const profile = JSON.parse(fs.readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfUs = new Map<number, number>();
const untilUs = firstMs === undefined ? Infinity : Number(firstMs) * 1000;
let atUs = 0;
profile.samples.forEach((id, i) => {
  atUs += profile.timeDeltas[i] ?? 0;
  if (atUs <= untilUs) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

const shortUrl = (url: string) => url.replace(/^file:\/\//, "").replace(/^.*\/node_modules\//, "~/").replace(/^.*\/main\//, "");
const fileKey = (url: string) => {
  if (!url) return "(native/vm)";
  const m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  return m ? `npm:${m[1]}` : url.startsWith("node:") ? "node:*" : shortUrl(url);
};
const fns = new Map<string, number>();
const files = new Map<string, number>();
for (const [id, us] of selfUs) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const key = `${functionName || "(anonymous)"}  ${url ? `${shortUrl(url)}:${lineNumber + 1}` : ""}`;
  fns.set(key, (fns.get(key) ?? 0) + us);
  files.set(fileKey(url), (files.get(fileKey(url)) ?? 0) + us);
}
const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
console.log("\nself time by function:");
for (const [k, us] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) console.log(`${pct(us)}  ${k}`);
console.log("\nself time by file / package:");
for (const [k, us] of [...files].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(us)}  ${k}`);
