// Spans of member values inside JSON text that JSON.parse has already accepted (internal to
// codec.ts). `jsonMemberSpans` finds where the value at a path (`payload`, `jobs[*].payload`)
// starts and ends, choosing the duplicate key JSON.parse keeps (the last); `jsonSpanText`
// returns that value's text, compacted. Nothing here validates: invalid text gives nonsense.

import { stringEnd } from "../queue/json-text.ts";

/** Path segment matching every element of an array. */
export const EACH = Symbol("each element");

/** Object keys and EACH, from the root: `["jobs", EACH, "payload"]`. */
export type MemberPath = readonly (string | typeof EACH)[];

/** A value's extent [start, end) and the array indices that led to it (one per EACH). */
export interface Span {
  start: number;
  end: number;
  indices: number[];
  /** true when the value may hold whitespace outside strings (needs compaction). */
  loose: boolean;
}

/** JSON's structural characters (char codes, which are also their UTF-8 bytes). */
export const QUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const OPEN_OBJECT = 0x7b;
export const CLOSE_OBJECT = 0x7d;
export const OPEN_ARRAY = 0x5b;
export const CLOSE_ARRAY = 0x5d;

/** Set by skipValue when it passed whitespace outside strings. */
let sawSpace = false;

/** Index just past the value starting at `pos` (no leading whitespace). */
function skipValue(text: string, pos: number): number {
  let depth = 0;
  for (;;) {
    const c = text.charCodeAt(pos);
    if (c === QUOTE) {
      pos = stringEnd(text, pos);
      if (depth === 0) return pos;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      depth++;
      pos++;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      pos++;
      if (--depth === 0) return pos;
    } else if (c === COMMA || c === COLON) {
      pos++;
    } else if (c <= 0x20) {
      // Outside strings, valid JSON has no character ≤ 0x20 other than its 4 whitespaces.
      sawSpace = true;
      pos++;
    } else {
      // A number or literal: runs until a delimiter or whitespace.
      pos++;
      for (let d = text.charCodeAt(pos); d > 0x20 && d !== COMMA && d !== CLOSE_OBJECT && d !== CLOSE_ARRAY; d = text.charCodeAt(++pos));
      if (depth === 0) return pos;
    }
  }
}

function skipSpace(text: string, pos: number): number {
  while (text.charCodeAt(pos) <= 0x20) pos++;
  return pos;
}

/** Does the key string text[start, end) (quotes included) equal `key` once unescaped? */
function keyEquals(text: string, start: number, end: number, key: string): boolean {
  if (end - start - 2 === key.length && text.startsWith(key, start + 1)) return true;
  // Why a loop and not indexOf("\\"): indexOf would search past the key, to the end of a
  // large bulk body, once per key.
  for (let i = start + 1; i < end - 1; i++) {
    if (text.charCodeAt(i) === BACKSLASH) return JSON.parse(text.slice(start, end)) === key;
  }
  return false;
}

/**
 * The spans of every value at `path` in `text`, in document order. A missing member, or a
 * value of the wrong kind on the way (e.g. `jobs` not an array), yields no span there, as
 * the parsed value has nothing there either. Requires: JSON.parse(text) succeeded.
 */
export function jsonMemberSpans(text: string, path: MemberPath): Span[] {
  const out: Span[] = [];
  collect(text, skipSpace(text, 0), path, 0, [], out);
  return out;
}

/** Walks the value at `pos` along path[depth..]; returns the index just past that value. */
function collect(text: string, pos: number, path: MemberPath, depth: number, indices: number[], out: Span[]): number {
  if (depth === path.length) {
    sawSpace = false;
    const end = skipValue(text, pos);
    out.push({ start: pos, end, indices: indices.slice(), loose: sawSpace });
    return end;
  }
  const segment = path[depth];
  const c = text.charCodeAt(pos);
  if (segment === EACH ? c !== OPEN_ARRAY : c !== OPEN_OBJECT) return skipValue(text, pos);
  const close = segment === EACH ? CLOSE_ARRAY : CLOSE_OBJECT;
  pos = skipSpace(text, pos + 1);
  // Spans found under an earlier duplicate of the key are dropped: JSON.parse keeps the last.
  const mark = out.length;
  for (let index = 0; text.charCodeAt(pos) !== close; index++) {
    if (segment === EACH) {
      indices.push(index);
      pos = collect(text, pos, path, depth + 1, indices, out);
      indices.pop();
    } else {
      const keyEnd = stringEnd(text, pos);
      const matches = keyEquals(text, pos, keyEnd, segment);
      pos = skipSpace(text, skipSpace(text, keyEnd) + 1); // past the colon
      if (matches) {
        if (out.length !== mark) out.length = mark;
        pos = collect(text, pos, path, depth + 1, indices, out);
      } else {
        pos = skipValue(text, pos);
      }
    }
    pos = skipSpace(text, pos);
    if (text.charCodeAt(pos) === COMMA) pos = skipSpace(text, pos + 1);
  }
  return pos + 1;
}

/** The span's value as compact JSON text: strings and number tokens exactly as sent. */
export function jsonSpanText(text: string, span: Span): string {
  if (!span.loose) return text.slice(span.start, span.end);
  let out = "";
  let from = span.start;
  let pos = span.start;
  while (pos < span.end) {
    const c = text.charCodeAt(pos);
    if (c === QUOTE) {
      pos = stringEnd(text, pos);
    } else if (c <= 0x20) {
      out += text.slice(from, pos);
      while (pos < span.end && text.charCodeAt(pos) <= 0x20) pos++;
      from = pos;
    } else {
      pos++;
    }
  }
  return out + text.slice(from, span.end);
}
