// Cost of the id text paths (docs/benchmarks.md, "Ids"): IdGenerator.next (a new job's id),
// formatId (an id string from the table's words: every job view) and writeIdAscii (ids
// straight into a record: every acked job's DELETE). In-process, ns per id, four rounds
// (the first includes JIT warm-up).
//
//   node --import tsx bench/ids.ts

import { IdGenerator } from "../lib/queue/ids.ts";
import { formatId, writeIdAscii } from "../lib/storage/id-index.ts";

const N = 200_000;
const ids = new IdGenerator();
const words = new Uint32Array(4 * 1024).map(() => Math.floor(Math.random() * 2 ** 32));
const out = Buffer.alloc(25 * 1024);
let sink = 0;

function ns(run: (i: number) => void): string {
  const started = performance.now();
  for (let i = 0; i < N; i++) run(i);
  return ((performance.now() - started) * 1e6 / N).toFixed(0);
}

for (let round = 1; round <= 4; round++) {
  const next = ns(() => { sink += ids.next(1_765_000_000_000 + round).length; });
  const format = ns((i) => { sink += formatId(words, (i & 1023) * 4).length; });
  const write = ns((i) => { writeIdAscii(words, (i & 1023) * 4, out, (i & 1023) * 25); });
  console.log(`round ${round}: IdGenerator.next ${next} ns, formatId ${format} ns, writeIdAscii ${write} ns`);
}
if (sink < 0) console.log(sink); // keeps the loops from being optimised away
