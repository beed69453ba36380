// Seeded random JSON texts for the payload property tests: each value comes as the text a
// client might send (random whitespace, escapes, every number spelling) and the compact
// text we must store. Also `canonicalJson`, an independent oracle for what a MessagePack
// round trip of a text gives back (numbers and strings re-spelled, kinds kept).

export { prng as seededRandom } from "../helpers/random.ts";

export interface RandomJsonOptions {
  /** Float tokens (1.0, 1e2, …). @default true */
  floats?: boolean;
  /** Repeat a key inside an object now and then. @default true */
  duplicateKeys?: boolean;
  /** Integers beyond u64/i64 (which a MessagePack round trip turns into floats). @default true */
  hugeIntegers?: boolean;
  /** Integers beyond 2^53 (which JSON.parse rounds). @default true */
  unsafeIntegers?: boolean;
}

const INTEGERS = ["0", "-0", "1", "-1", "127", "128", "-32", "-33", "255", "256", "65535", "65536", "-32768", "-32769",
  "4294967295", "4294967296", "-2147483648", "-2147483649", "9007199254740993", "12345678901234567890",
  "18446744073709551615", "-9223372036854775808", "1735689600000"];
const FLOATS = ["1.0", "10.0", "1e2", "1E+2", "2.5e-3", "-0.0", "0.1", "0.10", "1.5", "-1.25E-7", "1e300", "123456789.123456789",
  "4294967296.0", "1e10"];
const HUGE = ["123456789012345678901234567890", "-98765432109876543210"];
const STRINGS = ['"plain"', '""', '"a\\"b\\\\n\\u2028"', '"tab\\tnew\\nline"', '"\\u00e9t\\u00e9"', '"é😀"', '"\u2028raw"',
  '"\\ud83d\\ude00"', '"\\/slash"', '"ends with \\\\"', '"{[,:]}"', '"  spaces  "'];
const SPACES = ["", "", "", " ", "\n", "\t", " \r\n  "];

export function randomJson(rand: () => number, options: RandomJsonOptions = {}, depth = 0): { sent: string; compact: string } {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)];
  const space = () => pick(SPACES);
  const r = rand();
  if (depth < 4 && r < 0.3) {
    const isObject = rand() < 0.5;
    const n = Math.floor(rand() * (rand() < 0.1 ? 20 : 5));
    const sent: string[] = [];
    const compact: string[] = [];
    const keys: string[] = [];
    for (let i = 0; i < n; i++) {
      const value = randomJson(rand, options, depth + 1);
      if (!isObject) {
        sent.push(space() + value.sent + space());
        compact.push(value.compact);
        continue;
      }
      const key = keys.length > 0 && options.duplicateKeys !== false && rand() < 0.1 ? pick(keys) : `"k${i}${pick(["", "é", "\\n"])}"`;
      keys.push(key);
      sent.push(space() + key + space() + ":" + space() + value.sent + space());
      compact.push(key + ":" + value.compact);
    }
    const [open, close] = isObject ? ["{", "}"] : ["[", "]"];
    return { sent: open + (sent.length ? sent.join(",") : space()) + close, compact: open + compact.join(",") + close };
  }
  let token: string;
  if (r < 0.5) token = rand() < 0.5 ? pick(INTEGERS) : String(Math.floor((rand() - 0.5) * 2 ** (1 + rand() * 52)));
  else if (r < 0.65 && options.floats !== false) token = rand() < 0.5 ? pick(FLOATS) : String((rand() - 0.5) * 10 ** (rand() * 40 - 20));
  else if (r < 0.68 && options.hugeIntegers !== false) token = pick(HUGE);
  else if (r < 0.9) token = pick(STRINGS);
  else token = pick(["true", "false", "null"]);
  const isNumber = /^-?\d/.test(token);
  if (isNumber && options.floats === false && /[.eE]/.test(token)) token = "7";
  if (isNumber && options.unsafeIntegers === false && !/[.eE]/.test(token) && !Number.isSafeInteger(Number(token))) token = "8";
  return { sent: token, compact: token };
}

const TOKEN = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|[{}[\],:]|\s+/g;

/** JSON text of a finite float that reads back as a float (the server's rule, restated). */
export function floatText(value: number): string {
  if (!Number.isInteger(value) || Math.abs(value) >= 1e21) return String(value);
  return Object.is(value, -0) ? "-0.0" : value + ".0";
}

/**
 * What JSON text → MessagePack → JSON text gives: compact, strings as JSON.stringify
 * writes them, integers in plain decimal (beyond 64 bits: a float), floats via floatText.
 */
export function canonicalJson(text: string): string {
  return (text.match(TOKEN) ?? []).map((token) => {
    if (/^\s/.test(token)) return "";
    if (token.startsWith('"')) return JSON.stringify(JSON.parse(token));
    if (!/^-?\d/.test(token)) return token;
    if (/[.eE]/.test(token)) return floatText(Number(token));
    const big = BigInt(token);
    return big >= -(2n ** 63n) && big < 2n ** 64n ? big.toString() : floatText(Number(token));
  }).join("");
}
