// The elements of a bulk enqueue body, `{"jobs":[…]}`, as byte ranges, so that codec.ts
// can parse each job from a short string. Why: the whole text of a 1,000-job body is one
// string of ~140 KB, and V8 maps a page of its own for every string over 128 KiB, then
// unmaps it after the next GC (docs/benchmarks.md, "Page faults").
// Nothing here validates. Each range is JSON.parse'd on its own, and a body of any other
// shape (another key, a second "jobs", a stray bracket) gives undefined, so the caller
// parses the whole text as before, with the same result and the same error messages.

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

/**
 * [start, end) of every element of the "jobs" array, flattened; undefined for any other
 * shape. Throws JsonTooDeep for an element nested past JSON_MAX_DEPTH (counting the two
 * levels around it), the one check made here: this scan is the only one such a body gets.
 */
export function bulkJobRanges(b: Buffer): number[] | undefined {
  let pos = skipSpace(b, 0);
  if (b[pos] !== OPEN_OBJECT) return undefined;
  pos = skipSpace(b, pos + 1);
  if (pos + JOBS_KEY.length > b.length || b.compare(JOBS_KEY, 0, JOBS_KEY.length, pos, pos + JOBS_KEY.length) !== 0) return undefined;
  pos = skipSpace(b, pos + JOBS_KEY.length);
  if (b[pos] !== COLON) return undefined;
  pos = skipSpace(b, pos + 1);
  if (b[pos] !== OPEN_ARRAY) return undefined;
  const ranges: number[] = [];
  const first = skipSpace(b, pos + 1);
  if (b[first] === CLOSE_ARRAY) {
    pos = first + 1;
  } else {
    pos++;
    for (;;) {
      const end = elementEnd(b, pos);
      if (end < 0) return undefined;
      ranges.push(pos, end);
      pos = end + 1;
      if (b[end] === CLOSE_ARRAY) break;
    }
  }
  pos = skipSpace(b, pos);
  if (b[pos] !== CLOSE_OBJECT) return undefined;
  return skipSpace(b, pos + 1) === b.length ? ranges : undefined;
}

/** Index of the ',' or ']' that ends the element starting at `pos`, or -1. */
function elementEnd(b: Buffer, pos: number): number {
  let depth = 0;
  while (pos < b.length) {
    const c = b[pos];
    if (c === QUOTE) {
      pos = stringEnd(b, pos);
      if (pos < 0) return -1;
      continue;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > JSON_MAX_DEPTH - 2) throw new JsonTooDeep(pos);
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth === 0) return c === CLOSE_ARRAY ? pos : -1;
      depth--;
    } else if (c === COMMA && depth === 0) {
      return pos;
    }
    pos++;
  }
  return -1;
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
