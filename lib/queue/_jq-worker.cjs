// Worker-thread body for lib/queue/_jq-pool.ts: owns one jq-web (jq 1.7.1 in wasm) instance
// and runs one `raw()` call per message, replying { id, ok, stdout } or { id, ok, exitCode,
// stderr }. Plain CommonJS on purpose: a worker must start without the TypeScript loader
// (in-process loader hooks are not inherited by workers), and jq-web itself is CommonJS.
"use strict";
const { parentPort, workerData } = require("node:worker_threads");

// A ceiling on the engine's wasm heap. Emscripten grows it through Memory.prototype.grow;
// refused, jq reports "cannot allocate memory" (a fatal reply: the worker is replaced).
// Why: `def f: 1+f; f` grew one worker to ~1.3 GB within its 2 s deadline, two workers
// ~2.5 GB, enough to get a server in a small container killed. 512 MiB leaves room for
// filters over the largest payloads (a 16 MiB one needs ~250–450 MB here).
const MAX_HEAP_BYTES = (workerData && workerData.maxHeapBytes) || 512 * 1024 * 1024;
const grow = WebAssembly.Memory.prototype.grow;
WebAssembly.Memory.prototype.grow = function growWithinCeiling(pages) {
  if (this.buffer.byteLength + pages * 65536 > MAX_HEAP_BYTES) throw new RangeError("jq heap ceiling reached");
  return grow.call(this, pages);
};

// jq-web reports the stderr of a successful run through console.warn, and emscripten prints
// "Aborted()" through console.error; both reach the caller as replies, so silence the
// console instead of spamming the server log.
console.warn = () => {};
console.error = () => {};

require("jq-web").then(
  (jq) => {
    parentPort.on("message", (task) => {
      let reply;
      try {
        // A fresh flags array each call: jq-web rewrites --argjson entries in place.
        const stdout = jq.raw(task.input, task.program, [...task.flags]);
        reply = { id: task.id, ok: true, stdout: stdout ?? "" };
      } catch (err) {
        // An exit that reports a broken heap is no ordinary jq error: the instance is unusable.
        const broken = err && /cannot allocate memory|memory access out of bounds|Aborted\(/.test(String(err.stderr || err.message || ""));
        if (err && typeof err.exitCode === "number" && !broken) {
          reply = { id: task.id, ok: false, exitCode: err.exitCode, stderr: err.stderr ?? "" };
        } else {
          // Not an exit: the wasm runtime aborted (e.g. out of memory) and is unusable now.
          const stderr = (err && err.stderr) || String((err && err.message) || err);
          reply = { id: task.id, ok: false, fatal: true, stderr };
        }
      }
      parentPort.postMessage(reply);
    });
    // One throwaway run before reporting ready: V8 compiles wasm functions lazily, so a
    // fresh engine's first call is many times slower than later ones, and on a busy machine
    // that alone overran short deadlines. The deadline clock starts only at dispatch, so the
    // warm-up is paid here, not by the first caller.
    try {
      jq.raw('{"a":[1,"x",null]}', '.a | map(tostring) | join(",") | length > 0', []);
    } catch {
      // Not fatal: the real calls report their own errors.
    }
    parentPort.postMessage({ ready: true });
  },
  (err) => parentPort.postMessage({ loadError: String((err && err.stack) || err) }),
);
