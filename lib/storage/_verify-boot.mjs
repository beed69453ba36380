// Starts lib/storage/verify-worker.ts from the sources (tests, tsx): a worker thread does
// not inherit the TypeScript loader of the thread that made it, so it registers tsx's
// first. The built package starts dist/.../verify-worker.mjs instead and never loads this.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);
