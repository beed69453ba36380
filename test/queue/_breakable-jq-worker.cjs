// A stand-in jq worker for test/queue/jq-pool.test.ts: program "break" answers normally but
// leaves this engine broken, so the next call on it dies (as jq 1.7.1's heap bugs do);
// program "crash" dies on any engine; programs starting "hold" answer only once the file
// named by their input exists (a test's release); anything else echoes its input.
"use strict";
const fs = require("node:fs");
const { parentPort } = require("node:worker_threads");
const pause = new Int32Array(new SharedArrayBuffer(4));
let broken = false;
parentPort.on("message", (task) => {
  if (broken || task.program === "crash") {
    parentPort.postMessage({ id: task.id, ok: false, fatal: true, stderr: "memory access out of bounds" });
    return;
  }
  // Busy as a CPU-heavy program is: this thread answers nothing else meanwhile.
  if (task.program.startsWith("hold")) while (!fs.existsSync(task.input)) Atomics.wait(pause, 0, 0, 5);
  if (task.program === "break") broken = true;
  parentPort.postMessage({ id: task.id, ok: true, stdout: task.input });
});
parentPort.postMessage({ ready: true });
