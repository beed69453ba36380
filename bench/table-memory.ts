// Memory of the engine holding N jobs, in-process (the embedded queue: the server's
// store and queue without HTTP): RSS, V8 heap and array buffers after a bulk load of N
// jobs (90% in queue Q, 10% in K; 1,000 per call), with a forced GC before each reading.
// For the job table's memory decisions (docs/decisions.md, "Job table"):
//
//   node --expose-gc --import tsx bench/table-memory.ts 5000000
//   MALLOC_MMAP_THRESHOLD_=262144 node --expose-gc --import tsx bench/table-memory.ts 5000000   # glibc's fixed threshold
//
// RSS includes tsx's transpiler (~90 MB with nothing loaded, printed as "empty").

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { open } from "../lib/embedded/open.ts";

const total = Number(process.argv[2] ?? 1_000_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zizq-table-memory-"));
const mb = (bytes: number) => (bytes / 1048576).toFixed(0);
const show = (label: string) => {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  console.log(`${label}: rss ${mb(m.rss)} MB, heap used ${mb(m.heapUsed)} / total ${mb(m.heapTotal)} MB, array buffers ${mb(m.arrayBuffers)} MB`);
};

const queue = await open({ dir });
try {
  show("empty");
  for (let i = 0; i < total; i += 1000) {
    const jobs = Array.from({ length: Math.min(1000, total - i) }, (_, j) => ({
      queue: i < total * 0.9 ? "Q" : "K", type: "t", payload: { n: i + j, pad: "x".repeat(100) },
    }));
    await queue.enqueueBulk(jobs);
  }
  show(`${total.toLocaleString("en")} jobs`);
} finally {
  await queue.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
