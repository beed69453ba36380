// A stand-in jq worker for test/queue/jq-pool.test.ts: program "break" answers normally but
// leaves this engine broken, so the next call on it dies (as jq 1.7.1's heap bugs do);
// program "crash" dies on any engine; anything else echoes its input.
"use strict";
const { parentPort } = require("node:worker_threads");
let broken = false;
parentPort.on("message", (task) => {
  if (broken || task.program === "crash") {
    parentPort.postMessage({ id: task.id, ok: false, fatal: true, stderr: "memory access out of bounds" });
    return;
  }
  if (task.program === "break") broken = true;
  parentPort.postMessage({ id: task.id, ok: true, stdout: task.input });
});
parentPort.postMessage({ ready: true });
