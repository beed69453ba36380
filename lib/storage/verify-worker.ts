// Worker-thread body for verify-thread.ts: verifies the segments it is given (framing and
// checksums, as a scan verifies the log a checkpoint stands for) and replies with their
// damage, or with the error that stopped it (the caller then verifies in its own thread).

import { parentPort, workerData } from "node:worker_threads";
import { nodeFs } from "./fs-port.ts";
import { verifySegments } from "./recover.ts";
import type { VerifyReply, VerifyRequest } from "./verify-thread.ts";

const { request } = workerData as { request: VerifyRequest };
verifySegments(nodeFs, request.dir, request.numbers, request.maxBytes).then(
  (damage) => parentPort!.postMessage({ damage } satisfies VerifyReply),
  (err: unknown) => parentPort!.postMessage({ error: String((err as Error)?.message ?? err) } satisfies VerifyReply),
);
