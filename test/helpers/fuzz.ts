// Shared plumbing for the fuzz tests (test/fuzz/): one seed per run, printed on failure so
// it replays (`ZIZQ_SEED=<n> node --import tsx --test test/fuzz/<file>`), run counts kept
// small for `npm test` and scaled up with ZIZQ_FUZZ_RUNS (a multiplier, e.g. 50), and the
// invariant every input must keep: a 2xx or a 4xx with a JSON error, never a 5xx.

import assert from "node:assert/strict";
import { decode } from "@msgpack/msgpack";
import fc from "fast-check";

/** The seed of this process's fuzz runs: ZIZQ_SEED, or a fresh one. */
export const FUZZ_SEED = process.env.ZIZQ_SEED ? Number(process.env.ZIZQ_SEED) : Math.floor(Math.random() * 2 ** 31);

/** `base` runs, times ZIZQ_FUZZ_RUNS when set. */
export function fuzzRuns(base: number): number {
  const factor = Number(process.env.ZIZQ_FUZZ_RUNS ?? "1");
  return Math.max(1, Math.round(base * (Number.isFinite(factor) && factor > 0 ? factor : 1)));
}

/**
 * fc.assert with our seed and run count; a failure's message starts with the replay line.
 * `path` (fast-check's shrink path) is in fast-check's own message below it.
 */
export async function fuzz<T>(name: string, property: fc.IAsyncProperty<T>, baseRuns: number): Promise<void> {
  const numRuns = fuzzRuns(baseRuns);
  try {
    await fc.assert(property, { seed: FUZZ_SEED, numRuns, endOnFailure: false, interruptAfterTimeLimit: undefined });
  } catch (err) {
    const replay = `fuzz "${name}" failed; replay with ZIZQ_SEED=${FUZZ_SEED} (runs: ${numRuns})`;
    console.error(replay);
    const cause = (err as Error).cause as Error | undefined;
    throw new Error(`${replay}\n${(err as Error).message}\n${cause?.message ?? ""}`, { cause: err });
  }
}

export interface Answer {
  status: number;
  contentType: string | null | undefined;
  body: Buffer;
}

/**
 * The rule for every answer: no 5xx; every 4xx an error `{"error": "<string>", …}` in JSON
 * (or MessagePack when the client asked for it). HEAD answers carry no body.
 */
export function assertAnswer(a: Answer, what: string, head = false): void {
  const text = a.body.toString("utf8");
  assert.ok(a.status >= 200 && a.status < 500, `${what}: status ${a.status} ${text.slice(0, 300)}`);
  if (a.status < 400 || head) return;
  const type = a.contentType?.split(";")[0];
  let body: unknown;
  try {
    if (type === "application/msgpack") body = decode(a.body);
    else {
      assert.equal(type, "application/json", `${what}: ${a.status} content-type ${a.contentType}`);
      body = JSON.parse(text);
    }
  } catch (err) {
    assert.fail(`${what}: ${a.status} body does not decode (${(err as Error).message}): ${JSON.stringify(text.slice(0, 200))}`);
  }
  // The one 4xx without an `error` (API.md §3.9): bulk ack's 422 `{"not_found": [...]}`.
  if (a.status === 422 && Array.isArray((body as { not_found?: unknown }).not_found)) return;
  assert.equal(typeof (body as { error?: unknown }).error, "string", `${what}: ${a.status} ${text.slice(0, 200)}`);
}

/** One request over fetch, as an Answer. */
export async function send(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: Uint8Array | string): Promise<Answer> {
  const res = await fetch(base + path, { method, headers, body: body as BodyInit | undefined, signal: AbortSignal.timeout(60_000) });
  return { status: res.status, contentType: res.headers.get("content-type"), body: Buffer.from(await res.arrayBuffer()) };
}

/** The jobs of `queue` as the server returns them (ids, fields, exact payload text). */
export async function jobsOf(base: string, queue: string): Promise<string> {
  const r = await send(base, "GET", `/jobs?queue=${queue}&limit=2000`, { accept: "application/json" });
  assert.equal(r.status, 200, r.body.toString());
  return JSON.stringify((JSON.parse(r.body.toString()) as { jobs: unknown[] }).jobs);
}
