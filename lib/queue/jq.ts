// jq payload filters and batch expressions (API.md §4.4, §4.6), with jq-web (jq 1.7.1 in
// wasm) as the engine. Filters compile once per request and match payloads in batches:
// client-generated shapes run on a JS fast path, the rest in a worker thread with a
// per-call deadline, so a runaway program costs a 400, never a blocked event loop.

import { yieldToLoop } from "../storage/time-slice.ts";
import { QueueError, type QueueErrorCode } from "./types.ts";
import { JqAbortError, JqPool, type JqPoolOptions, type JqRawResult } from "./_jq-pool.ts";
import { compileFastPath, type FastFilter } from "./jq-fast-path.ts";

export interface JqOptions extends JqPoolOptions {
  /** Most payloads sent to the engine in one call. @default 10000 */
  chunkPayloads?: number;
  /** Most payload characters sent to the engine in one call (keeps a call under its deadline). @default 8388608 */
  chunkChars?: number;
}

export interface JqFilter {
  readonly program: string;
  /** True when the program runs on the JS fast path (no engine round trip per chunk). */
  readonly fast: boolean;
  /** One verdict per payload (compact JSON text; "" is read as null), in order. */
  matchMany(payloadsJson: readonly string[]): Promise<boolean[]>;
}

// ---- engine plumbing -------------------------------------------------------

let options: Required<Pick<JqOptions, "chunkPayloads" | "chunkChars">> & JqPoolOptions = {
  chunkPayloads: 10_000,
  chunkChars: 8 * 1024 * 1024,
};
let pool: JqPool | undefined;
const getPool = () => (pool ??= new JqPool(options));

/** Replaces the engine settings (call at start-up): calls still running on the old workers reject. */
export function configureJq(next: JqOptions): void {
  options = { ...options, ...next };
  const old = pool;
  pool = undefined;
  void old?.close();
}

/** Starts the engine worker(s) ahead of the first filter (call at server start). */
export function warmJq(): void {
  getPool().warm();
}

/** Stops the engine worker(s); the next call starts fresh ones. */
export async function closeJq(): Promise<void> {
  const old = pool;
  pool = undefined;
  await old?.close();
}

/** Makes jq's stderr fit in one error line: no "jq: error:" prefix or shell hints. */
function cleanDetail(stderr: string): string {
  const text = stderr
    .split("\n")
    .filter((line) => line.trim() !== "" && !/^jq: \d+ compile errors?$/.test(line))
    .map((line) => line.replace(/^jq: error(?: \(at [^)]*\))?(?: \(not a string\))?: /, "").replace(" (Unix shell quoting issues?)", "").trimEnd())
    .join(" ");
  return text || "unknown jq error";
}

type Outcome = JqRawResult | { ok: false; aborted: string };

/** One engine call; a timeout or engine crash becomes a result, not a throw. */
async function runEngine(input: string, program: string, flags: string[], urgent = false): Promise<Outcome> {
  try {
    return await getPool().run(input, program, flags, urgent);
  } catch (err) {
    if (err instanceof JqAbortError) return { ok: false, aborted: cleanDetail(err.message) };
    throw err;
  }
}

const detailOf = (r: Exclude<Outcome, { ok: true }>) => ("aborted" in r ? r.aborted : cleanDetail(r.stderr));

/**
 * Builtins that would let a program read other jobs' payloads (input, inputs) or stop the
 * run early (halt, halt_error) and so put verdicts out of step with jobs. They raise a
 * normal runtime error instead; debug and stderr become no-ops to keep logs clean.
 */
const GUARD = [
  'def input: error("input is disabled");',
  'def inputs: error("inputs is disabled");',
  'def halt: error("halt is disabled");',
  'def halt_error: error("halt_error is disabled");',
  'def halt_error($code): error("halt_error is disabled");',
  "def debug: .;",
  "def debug($message): .;",
  "def stderr: .;",
].join(" ");

/**
 * One 0/1 line per payload line (jq -R): `fromjson` inside `try` makes a bad payload a
 * no-match instead of a parse error that would end the run. The program sits on its own
 * lines so a trailing `# comment` cannot swallow our closing parenthesis.
 */
const filterProgram = (program: string) =>
  `${GUARD} first(try (fromjson | (\n${program}\n)) | select(. != null and . != false) | 1) // 0`;

/** Outputs `"ok"`, the output count, then each output (at most `max`); or `"error"`, value. */
const batchProgram = (program: string, max: number) =>
  `${GUARD} . as [$existing, $new] | null | ` +
  `(try ([limit(${max}; (\n${program}\n))] | "ok", length, .[]) catch ("error", .))`;

// ---- filters ---------------------------------------------------------------

const validated = new Map<string, true>();
const VALIDATED_MAX = 1000;

function remember(key: string): void {
  validated.delete(key);
  validated.set(key, true);
  if (validated.size > VALIDATED_MAX) validated.delete(validated.keys().next().value!);
}

/**
 * The program as jq's last argv entry. Why the space: a program starting with `-` (`-1 < .n`,
 * `--slurp`) was read by jq as a command-line option.
 */
const asArgument = (program: string) => (program.startsWith("-") ? ` ${program}` : program);

const invalidFilter = (detail: string) => new QueueError("invalid_argument", `invalid filter: ${detail}`);

/** Deepest bracket nesting a filter or batch expression may have (docs/jq.md, Limits). */
export const JQ_MAX_NESTING = 256;

/**
 * The deepest nesting of `(`, `[`, `{` and string interpolations `\(…)` in `program`,
 * string literals skipped. Why: ~2,000 levels overflowed the stack (a 500) in our parser
 * and can in jq's; no real filter comes near JQ_MAX_NESTING.
 */
export function nestingDepth(program: string): number {
  let depth = 0;
  let max = 0;
  // One entry per open bracket: true when it is an interpolation (its `)` re-enters a string).
  const opens: boolean[] = [];
  let inString = false;
  for (let i = 0; i < program.length; i++) {
    const c = program[i];
    if (inString) {
      if (c === "\\") {
        if (program[i + 1] === "(") {
          opens.push(true);
          inString = false;
          max = Math.max(max, ++depth);
        }
        i++;
      } else if (c === '"') {
        inString = false;
      }
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "#") {
      while (i < program.length && program[i] !== "\n") i++; // a comment runs to the end of the line
    } else if (c === "(" || c === "[" || c === "{") {
      opens.push(false);
      max = Math.max(max, ++depth);
    } else if (c === ")" || c === "]" || c === "}") {
      if (opens.length > 0) {
        depth--;
        if (opens.pop()) inString = true;
      }
    }
  }
  return max;
}

const nestingProblem = (program: string): string | undefined =>
  nestingDepth(program) > JQ_MAX_NESTING ? `nested deeper than ${JQ_MAX_NESTING} levels` : undefined;

/**
 * Validates `program` once per request. Compiling it on its own first (empty input: jq
 * compiles, then runs nothing) proves it is balanced, so it cannot escape the wrapper.
 * Throws QueueError invalid_argument `invalid filter: <detail>` (HTTP 400).
 */
export async function compileFilter(program: string): Promise<JqFilter> {
  const tooDeep = nestingProblem(program);
  if (tooDeep !== undefined) throw invalidFilter(tooDeep);
  const fast = compileFastPath(program);
  if (!fast && !validated.has(program)) {
    for (const [text, flags] of [[asArgument(program), ["-c"]], [filterProgram(program), ["-c", "-R"]]] as const) {
      const result = await runEngine("", text, [...flags]);
      if (!result.ok) throw invalidFilter(detailOf(result));
    }
    remember(program);
  }
  return new CompiledFilter(program, fast);
}

class CompiledFilter implements JqFilter {
  readonly fast: boolean;
  constructor(
    readonly program: string,
    private readonly fastPath: FastFilter | undefined,
  ) {
    this.fast = fastPath !== undefined;
  }

  async matchMany(payloadsJson: readonly string[]): Promise<boolean[]> {
    const verdicts = new Array<boolean>(payloadsJson.length).fill(false);
    const toEngine: number[] = [];
    if (this.fastPath) {
      // Time-sliced: yield to the event loop every ~10 ms of fast-path work. The clock is
      // read every 256 payloads or 1 MB of text, so huge payloads cannot stretch a slice.
      let sliceStart = performance.now();
      let charsSinceCheck = 0;
      for (let i = 0; i < payloadsJson.length; i++) {
        const payload = payloadsJson[i]!;
        const verdict = this.fastPath.test(payload);
        if (verdict === undefined) toEngine.push(i);
        else verdicts[i] = verdict;
        charsSinceCheck += payload.length;
        if ((i & 255) === 255 || charsSinceCheck > 1 << 20) {
          charsSinceCheck = 0;
          if (performance.now() - sliceStart > 10) {
            await yieldToLoop();
            sliceStart = performance.now();
          }
        }
      }
    } else {
      for (let i = 0; i < payloadsJson.length; i++) toEngine.push(i);
    }
    if (toEngine.length > 0) {
      const engineVerdicts = await engineMatch(this.program, toEngine.map((i) => payloadsJson[i]!));
      toEngine.forEach((payloadIndex, k) => (verdicts[payloadIndex] = engineVerdicts[k]!));
    }
    return verdicts;
  }
}

/** Payload texts → jq -R lines. Raw newlines in JSON text can only be whitespace. */
const toLine = (json: string) => (json === "" ? "null" : json.includes("\n") ? json.replaceAll("\n", " ") : json);

function* chunksOf(payloads: readonly string[]): Generator<string[]> {
  let chunk: string[] = [];
  let chars = 0;
  for (const payload of payloads) {
    chunk.push(toLine(payload));
    chars += payload.length + 1;
    if (chunk.length >= options.chunkPayloads || chars >= options.chunkChars) {
      yield chunk;
      chunk = [];
      chars = 0;
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** One engine call per chunk; up to one chunk in flight per worker. */
async function engineMatch(program: string, payloads: readonly string[]): Promise<boolean[]> {
  const wrapped = filterProgram(program);
  const verdicts: boolean[] = [];
  const runChunk = async (chunk: string[]): Promise<boolean[]> => {
    const result = await runEngine(chunk.join("\n"), wrapped, ["-c", "-R"]);
    if (!result.ok) throw invalidFilter(detailOf(result));
    const lines = result.stdout.split("\n");
    // Invariant: one line per payload (guarded builtins, balanced program, try around all).
    if (lines.length !== chunk.length) throw new Error(`jq filter gave ${lines.length} verdicts for ${chunk.length} payloads`);
    return lines.map((line) => line === "1");
  };
  const inFlight = Math.max(1, options.workers ?? 2);
  let group: string[][] = [];
  const flush = async () => {
    for (const part of await Promise.all(group.map(runChunk))) verdicts.push(...part);
    group = [];
  };
  for (const chunk of chunksOf(payloads)) {
    group.push(chunk);
    if (group.length >= inFlight) await flush();
  }
  await flush();
  return verdicts;
}

// ---- batch expressions ----------------------------------------------------

type BatchResult = { ok: true; values: string[] } | { ok: false; detail: string };

/** Runs `program` with input null and $existing/$new bound; collects up to `max` outputs. */
async function runBatch(program: string, existingJson: string, newJson: string, max: number): Promise<BatchResult> {
  const input = `[${existingJson || "null"},${newJson || "null"}]`;
  const result = await runEngine(input, batchProgram(program, max), ["-c"], true);
  if (!result.ok) return { ok: false, detail: detailOf(result) };
  const lines = result.stdout.split("\n");
  if (lines[0] === '"ok"') return { ok: true, values: lines.slice(2) };
  const value = lines.slice(1).join("\n");
  return { ok: false, detail: value.startsWith('"') ? (JSON.parse(value) as string) : `${value} (not a string)` };
}

const truthyJson = (json: string) => json !== "null" && json !== "false";

/** Compiles `program` alone with $existing/$new defined; returns an error detail or undefined. */
async function batchCompileError(program: string): Promise<string | undefined> {
  const tooDeep = nestingProblem(program);
  if (tooDeep !== undefined) return tooDeep;
  const key = `batch\u0000${program}`;
  if (validated.has(key)) return undefined;
  const result = await runEngine("", asArgument(program), ["-c", "--arg", "existing", "", "--arg", "new", ""], true);
  if (!result.ok) return detailOf(result);
  remember(key);
  return undefined;
}

/**
 * A batch's `when`: true iff its first output is truthy. No output, a runtime error or a
 * timeout all count as false, which seals the open batch (API.md §4.4 step 3).
 */
export async function evalWhen(program: string, existingJson: string, newJson: string): Promise<boolean> {
  const result = await runBatch(program, existingJson, newJson, 1);
  return result.ok && result.values.length > 0 && truthyJson(result.values[0]!);
}

function foldProblem(result: BatchResult): string | undefined {
  if (!result.ok) return result.detail;
  const n = result.values.length;
  return n === 1 ? undefined : `expected exactly one output, got ${n === 0 ? "none" : "more than one"}`;
}

/**
 * A batch's `fold`: the new payload as compact JSON (jq's own serialisation, so number
 * literals keep their digits). Throws QueueError unprocessable `batch fold failed: ...`.
 */
export async function evalFold(program: string, existingJson: string, newJson: string): Promise<string> {
  const result = await runBatch(program, existingJson, newJson, 2);
  const problem = foldProblem(result);
  if (problem !== undefined) throw new QueueError("unprocessable", `batch fold failed: ${problem}`);
  return (result as { values: string[] }).values[0]!;
}

/**
 * Enqueue-time validation (API.md §3.4 item 5): both expressions compile, then a dry run
 * with the incoming payload as $existing and $new: `when` must not fail, `fold` must give
 * exactly one output. Throws QueueError `code` (422 on enqueue; cron writes pass
 * "invalid_argument" for their 400).
 */
export async function checkBatchExpressions(
  when: string,
  fold: string,
  payloadJson: string,
  code: QueueErrorCode = "unprocessable",
): Promise<void> {
  const whenCompile = await batchCompileError(when);
  if (whenCompile !== undefined) throw new QueueError(code, `batch expression: when: ${whenCompile}`);
  const foldCompile = await batchCompileError(fold);
  if (foldCompile !== undefined) throw new QueueError(code, `batch expression: fold: ${foldCompile}`);
  const whenRun = await runBatch(when, payloadJson, payloadJson, 1);
  if (!whenRun.ok) throw new QueueError(code, `batch dry-run: when: ${whenRun.detail}`);
  const foldRun = foldProblem(await runBatch(fold, payloadJson, payloadJson, 2));
  if (foldRun !== undefined) throw new QueueError(code, `batch dry-run: fold: ${foldRun}`);
}

/** @internal For tests: the live pool (respawn counter) and the program wrappers. */
export const _internals = {
  pool: () => getPool(),
  filterProgram,
  batchProgram,
};
