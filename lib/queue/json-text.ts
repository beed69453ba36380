// Walks over compact JSON text that a parser has already accepted: the payload texts the
// queue stores. Shared by the queue (payload depth) and the HTTP decoders (payload spans,
// JSON → MessagePack), which import it from here; nothing here validates.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Index just past the closing quote of the string starting at `pos`. Why indexOf jumps: a
 * payload is mostly string bytes, and a native search beats a charCodeAt loop ~5× on them.
 * Requires: text[pos] is the opening quote of a valid JSON string.
 */
export function stringEnd(text: string, pos: number): number {
  let quote = text.indexOf('"', pos + 1);
  while (text.charCodeAt(quote - 1) === BACKSLASH) {
    let slashes = 1;
    while (text.charCodeAt(quote - 1 - slashes) === BACKSLASH) slashes++;
    if ((slashes & 1) === 0) break; // an escaped backslash, then the real closing quote
    quote = text.indexOf('"', quote + 1);
  }
  return quote + 1;
}

/**
 * How deep a payload may nest, in jq's measure: an array level counts 1, an object level
 * 2 (jq 1.7.1's parser, in jq-web, reads 256 such units: arrays 256 deep, objects 128).
 * Why a limit: jq could not read a deeper payload, so that job silently matched no
 * filter, not even `filter=true`, and `DELETE /jobs?filter=…` left it behind. The
 * reference server's JSON decoder stops at 128 levels of either; every payload it takes
 * fits here.
 */
export const PAYLOAD_MAX_DEPTH = 256;

/**
 * The 400 message for a payload (compact JSON text) nested deeper than PAYLOAD_MAX_DEPTH.
 * Each unit costs at least two characters, so short texts (nearly all) are not scanned.
 * Requires: `json` is valid JSON.
 */
export function payloadDepthError(json: string): string | undefined {
  if (json.length <= 2 * PAYLOAD_MAX_DEPTH) return undefined;
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(json, i) - 1;
    } else if (c === 0x5b || c === 0x7b) {
      depth += c === 0x7b ? 2 : 1;
      if (depth > PAYLOAD_MAX_DEPTH) {
        return `payload is nested too deeply for jq filters (at most ${PAYLOAD_MAX_DEPTH} levels of arrays, or ${PAYLOAD_MAX_DEPTH / 2} of objects)`;
      }
    } else if (c === 0x5d || c === 0x7d) {
      depth -= c === 0x7d ? 2 : 1;
    }
  }
  return undefined;
}
