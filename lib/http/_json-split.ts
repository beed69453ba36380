// The elements of a bulk enqueue body, `{"jobs":[…]}`, as byte ranges, so that codec.ts
// can parse each job from a short string. Why: the whole text of a 1,000-job body is one
// string of ~140 KB, and V8 maps a page of its own for every string over 128 KiB, then
// unmaps it after the next GC (docs/benchmarks.md, "Page faults").
// Nothing here validates. Each range is JSON.parse'd on its own, and a body of any other
// shape (another key, a second "jobs", a stray bracket) gives undefined, so the caller
// parses the whole text as before, with the same result and the same error messages.
// The same pass notes where each job's payload lies, so its bytes go to the job's record
// as they came (a job's text is parsed, and its payload found, once).

import { BACKSLASH, CLOSE_ARRAY, CLOSE_OBJECT, COLON, COMMA, OPEN_ARRAY, OPEN_OBJECT, QUOTE } from "./_json-scan.ts";

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const JOBS_KEY = Buffer.from('"jobs"');

/**
 * Deepest nesting of containers a JSON body may have, as for MessagePack bodies. Why:
 * JSON.parse on the main thread took ~5 s for a 15 MiB body nested 7.9M levels deep,
 * and the server answered nothing else meanwhile; the payload depth rule (256 jq units)
 * is checked only after the parse.
 */
export const JSON_MAX_DEPTH = 512;

/** A body nested deeper than JSON_MAX_DEPTH: its message names the byte. */
export class JsonTooDeep extends Error {
  constructor(at: number) {
    super(`nested deeper than ${JSON_MAX_DEPTH} levels (byte ${at})`);
  }
}

/**
 * Throws JsonTooDeep when `b` nests containers deeper than JSON_MAX_DEPTH (strings
 * skipped). A level takes two bytes, so a body of up to twice that (a single enqueue, an
 * ack) cannot be too deep and is not scanned.
 */
export function checkJsonDepth(b: Buffer): void {
  if (b.length <= 2 * JSON_MAX_DEPTH) return;
  let depth = 0;
  let pos = 0;
  while (pos < b.length) {
    const c = b[pos];
    if (c === QUOTE) {
      pos = stringEnd(b, pos);
      if (pos < 0) return; // unterminated: JSON.parse says so
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > JSON_MAX_DEPTH) throw new JsonTooDeep(pos);
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
    }
    pos++;
  }
}

/** How the last top-level `"payload"` member of a job lies in its bytes (bulkJobRanges). */
export const PAYLOAD_NONE = 0; // no such member (or the element is not an object)
export const PAYLOAD_EXACT = 1; // [start, end) is its compact text, byte for byte
export const PAYLOAD_LOOSE = 2; // [start, end) holds whitespace outside strings: compact it first
export const PAYLOAD_UNSURE = 3; // a key with escapes might spell "payload": find it in the text
/** Numbers bulkJobRanges gives per element: start, end, payload start, payload end, PAYLOAD_*. */
export const RANGE_STRIDE = 5;

/**
 * Per element of the "jobs" array: [start, end) and where its payload lies (RANGE_STRIDE
 * numbers each, flattened); undefined for any other shape. Throws JsonTooDeep for an
 * element nested past JSON_MAX_DEPTH (counting the two levels around it), the one check
 * made here: this scan is the only one such a body gets. Why the payload here: the scan
 * passes every byte anyway, and finding the payload in each job's text again after the
 * parse, then encoding that text back to UTF-8 for the record, was ~8% of a bulk enqueue.
 * Why a Uint32Array (offsets of a Buffer fit): a JS array of the five numbers cost ~40 bytes
 * a job (~300 MiB for a 16 MiB body of `{}`s), and past V8's array length limit (~112.8M
 * numbers: ~22.5M jobs, a 46 MiB body of `1,`s) growing it aborts the process.
 */
export function bulkJobRanges(b: Buffer): Uint32Array | undefined {
  let pos = skipSpace(b, 0);
  if (b[pos] !== OPEN_OBJECT) return undefined;
  pos = skipSpace(b, pos + 1);
  if (pos + JOBS_KEY.length > b.length || b.compare(JOBS_KEY, 0, JOBS_KEY.length, pos, pos + JOBS_KEY.length) !== 0) return undefined;
  pos = skipSpace(b, pos + JOBS_KEY.length);
  if (b[pos] !== COLON) return undefined;
  pos = skipSpace(b, pos + 1);
  if (b[pos] !== OPEN_ARRAY) return undefined;
  let ranges = new Uint32Array(64 * RANGE_STRIDE);
  let count = 0;
  const first = skipSpace(b, pos + 1);
  if (b[first] === CLOSE_ARRAY) {
    pos = first + 1;
  } else {
    pos++;
    for (;;) {
      const end = elementEnd(b, pos);
      if (end < 0) return undefined;
      if (count === ranges.length) {
        const grown = new Uint32Array(ranges.length * 2);
        grown.set(ranges);
        ranges = grown;
      }
      ranges[count] = pos;
      ranges[count + 1] = end;
      ranges[count + 2] = payloadStart;
      ranges[count + 3] = payloadEnd;
      ranges[count + 4] = payloadKind;
      count += RANGE_STRIDE;
      pos = end + 1;
      if (b[end] === CLOSE_ARRAY) break;
    }
  }
  pos = skipSpace(b, pos);
  if (b[pos] !== CLOSE_OBJECT) return undefined;
  return skipSpace(b, pos + 1) === b.length ? ranges.subarray(0, count) : undefined;
}

// What elementEnd found of the element's payload (module state: no object per job).
let payloadStart = 0;
let payloadEnd = 0;
let payloadKind = PAYLOAD_NONE;

const PAYLOAD_KEY = Buffer.from('"payload"');

/**
 * Index of the ',' or ']' that ends the element starting at `pos`, or -1; sets the
 * payload* variables. Keys are the strings that follow the '{' or a ',' of an object at
 * depth 1 (the element itself); a later "payload" replaces an earlier one, as JSON.parse
 * keeps the last. Nothing is validated: the element is JSON.parse'd after this.
 */
function elementEnd(b: Buffer, pos: number): number {
  let depth = 0;
  let inObject = false; // the element is an object: depth 1 holds its members
  let expectKey = false;
  let keyIsPayload = false;
  let inPayload = false; // from the payload's colon to the ',' or '}' after its value
  payloadKind = PAYLOAD_NONE;
  while (pos < b.length) {
    const c = b[pos];
    if (c === QUOTE) {
      const end = stringEnd(b, pos);
      if (end < 0) return -1;
      if (expectKey && depth === 1) {
        expectKey = false;
        keyIsPayload = end - pos === PAYLOAD_KEY.length && b.compare(PAYLOAD_KEY, 0, PAYLOAD_KEY.length, pos, end) === 0;
        if (!keyIsPayload && hasBackslash(b, pos, end)) payloadKind = PAYLOAD_UNSURE;
      }
      pos = end;
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > JSON_MAX_DEPTH - 2) throw new JsonTooDeep(pos);
      if (depth === 1) expectKey = inObject = c === OPEN_OBJECT;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth === 0) return c === CLOSE_ARRAY ? pos : -1;
      if (depth === 1 && inPayload) inPayload = endPayload(b, pos);
      depth--;
    } else if (c === COMMA) {
      if (depth === 0) return pos;
      if (depth === 1 && inObject) {
        if (inPayload) inPayload = endPayload(b, pos);
        expectKey = true;
      }
    } else if (c === COLON) {
      if (depth === 1 && keyIsPayload) {
        keyIsPayload = false;
        inPayload = true;
        payloadStart = skipSpace(b, pos + 1);
        if (payloadKind !== PAYLOAD_UNSURE) payloadKind = PAYLOAD_EXACT;
      }
    } else if (c <= 0x20 && inPayload && depth > 1 && payloadKind === PAYLOAD_EXACT) {
      // Valid JSON has no byte ≤ 0x20 outside strings but whitespace.
      payloadKind = PAYLOAD_LOOSE;
    }
    pos++;
  }
  return -1;
}

/** The payload's value ends before the ',' or '}' at `pos`, less whitespace; returns false (no longer in it). */
function endPayload(b: Buffer, pos: number): boolean {
  let end = pos;
  while (end > payloadStart && b[end - 1] <= 0x20) end--;
  payloadEnd = end;
  return false;
}

/** Whether b[from, to) holds a backslash (a loop: indexOf would search on to the end of the body). */
function hasBackslash(b: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] === BACKSLASH) return true;
  return false;
}

/** Index just past the quote that closes the string opening at `pos`, or -1. */
function stringEnd(b: Buffer, pos: number): number {
  let quote = b.indexOf(QUOTE, pos + 1);
  while (quote > 0) {
    let slashes = 0;
    while (quote - 1 - slashes > pos && b[quote - 1 - slashes] === BACKSLASH) slashes++;
    if ((slashes & 1) === 0) return quote + 1;
    quote = b.indexOf(QUOTE, quote + 1);
  }
  return -1;
}

function skipSpace(b: Buffer, pos: number): number {
  while (pos < b.length) {
    const c = b[pos];
    if (c !== SPACE && c !== TAB && c !== LF && c !== CR) break;
    pos++;
  }
  return pos;
}
