// A JS evaluator for the filter shapes the official clients generate (API.md §4.6):
// `. == J`, `. | contains(J)`, `.[0:N] == J`, joined with `and` and parentheses. It follows
// jq 1.7.1's equality and containment rules exactly; anything it does not recognise, and
// any payload it cannot judge exactly like jq, is left to the real engine (lib/queue/jq.ts).

/** Parsed subset of jq. Every node yields exactly one value or raises a jq runtime error. */
type Node =
  | { kind: "identity" }
  | { kind: "literal"; value: unknown }
  | { kind: "slice"; from: number; to: number }
  | { kind: "contains"; arg: Node }
  | { kind: "eq"; left: Node; right: Node }
  | { kind: "and"; left: Node; right: Node };

/** Thrown while parsing when the program leaves the supported subset. */
class NotFastPath extends Error {}

/** A jq runtime error; a filter that raises one does not match. */
class JqRuntimeError extends Error {}

/**
 * Texts where JS numbers or strings could disagree with jq: 16+ significant digits or a
 * 3-digit exponent (jq 1.7.1 compares two number literals in decimal, not as doubles) and
 * surrogate escapes (jq rejects lone ones). Deliberately coarse: a false alarm only costs
 * one trip to the engine.
 */
const NEEDS_ENGINE = /[0-9][0-9.]{15}|[eE][+-]?[0-9]{3}|\\u[dD][89a-fA-F]/;

const isWellFormed = (s: string) => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

// ---- parser ----------------------------------------------------------------

class Parser {
  private pos = 0;
  constructor(private readonly src: string) {}

  parseProgram(): Node {
    const node = this.pipe();
    this.skipSpace();
    if (this.pos !== this.src.length) throw new NotFastPath();
    return node;
  }

  private skipSpace(): void {
    while (this.pos < this.src.length && " \t\r\n".includes(this.src[this.pos]!)) this.pos++;
    if (this.src[this.pos] === "#") throw new NotFastPath();
  }

  private peek(text: string): boolean {
    this.skipSpace();
    return this.src.startsWith(text, this.pos);
  }

  private word(): string {
    this.skipSpace();
    const m = /[a-zA-Z_][a-zA-Z0-9_]*/y;
    m.lastIndex = this.pos;
    return m.exec(this.src)?.[0] ?? "";
  }

  private expect(text: string): void {
    if (!this.peek(text)) throw new NotFastPath();
    this.pos += text.length;
  }

  /** `a | b` (lowest precedence); supported only as `. | b`, which is just `b`. */
  private pipe(): Node {
    const left = this.and();
    if (!this.peek("|") || this.src[this.pos + 1] === "=") return left;
    this.pos++;
    const right = this.pipe();
    if (left.kind !== "identity") throw new NotFastPath();
    return right;
  }

  private and(): Node {
    let left = this.equality();
    while (this.word() === "and") {
      this.pos += 3;
      left = { kind: "and", left, right: this.equality() };
    }
    return left;
  }

  /** `==` is non-associative in jq, so `a == b == c` is left for the engine to reject. */
  private equality(): Node {
    const left = this.postfix();
    if (!this.peek("==")) return left;
    this.pos += 2;
    return { kind: "eq", left, right: this.postfix() };
  }

  private postfix(): Node {
    const node = this.term();
    this.skipSpace();
    const next = this.src[this.pos];
    if (next === "[" && node.kind === "identity") return this.slice();
    if (next === "[" || next === "." || next === "?") throw new NotFastPath();
    return node;
  }

  /** `.[A:B]` with non-negative integer literals. */
  private slice(): Node {
    this.expect("[");
    const from = this.integer();
    this.expect(":");
    const to = this.integer();
    this.expect("]");
    this.skipSpace();
    if ("[.?".includes(this.src[this.pos] ?? " ")) throw new NotFastPath();
    return { kind: "slice", from, to };
  }

  private integer(): number {
    this.skipSpace();
    const m = /[0-9]{1,9}(?![0-9.eE])/y;
    m.lastIndex = this.pos;
    const text = m.exec(this.src)?.[0];
    if (text === undefined) throw new NotFastPath();
    this.pos += text.length;
    return Number(text);
  }

  private term(): Node {
    this.skipSpace();
    const c = this.src[this.pos];
    if (c === ".") {
      this.pos++;
      // `.foo`, `..`, `."k"` and friends are not in the subset.
      if (/[a-zA-Z_."$]/.test(this.src[this.pos] ?? "")) throw new NotFastPath();
      return { kind: "identity" };
    }
    if (c === "(") {
      this.pos++;
      const inner = this.pipe();
      this.expect(")");
      return inner;
    }
    const word = this.word();
    if (word === "contains") {
      this.pos += word.length;
      this.expect("(");
      const arg = this.pipe();
      this.expect(")");
      return { kind: "contains", arg };
    }
    if (word !== "" && word !== "true" && word !== "false" && word !== "null") throw new NotFastPath();
    return { kind: "literal", value: this.literal() };
  }

  /** A JSON literal (JSON is valid jq with the same meaning); its end is found by scanning. */
  private literal(): unknown {
    const start = this.pos;
    const src = this.src;
    let depth = 0;
    let i = start;
    do {
      const c = src[i];
      if (c === undefined) throw new NotFastPath();
      if (c === '"') {
        for (i++; src[i] !== '"'; i++) {
          if (i >= src.length) throw new NotFastPath();
          if (src[i] === "\\") i++;
        }
        i++;
      } else if (c === "{" || c === "[") {
        depth++;
        i++;
      } else if (c === "}" || c === "]") {
        depth--;
        i++;
      } else if (depth > 0) {
        i++;
      } else {
        const m = /-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?|true|false|null/y;
        m.lastIndex = i;
        const token = m.exec(src)?.[0];
        if (token === undefined) throw new NotFastPath();
        i += token.length;
      }
    } while (depth > 0);
    const text = src.slice(start, i);
    if (NEEDS_ENGINE.test(text) || !isWellFormed(text) || /^[a-z]/.test(src.slice(i, i + 1))) throw new NotFastPath();
    this.pos = i;
    try {
      return JSON.parse(text);
    } catch {
      throw new NotFastPath(); // e.g. jq string interpolation `"\(...)"`
    }
  }
}

// ---- jq semantics ----------------------------------------------------------

/** jq's value kinds: true and false are distinct kinds (it matters for `contains`). */
function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "boolean") return v ? "true" : "false";
  return typeof v; // number, string, object
}

/** jq `==`: same kind and value; numbers by value; object key order ignored. */
export function jqEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const kind = kindOf(a);
  if (kind !== kindOf(b)) return false;
  if (kind === "array") {
    const x = a as unknown[];
    const y = b as unknown[];
    return x.length === y.length && x.every((v, i) => jqEqual(v, y[i]));
  }
  if (kind === "object") {
    const x = a as Record<string, unknown>;
    const y = b as Record<string, unknown>;
    const keys = Object.keys(x);
    return keys.length === Object.keys(y).length && keys.every((k) => Object.hasOwn(y, k) && jqEqual(x[k], y[k]));
  }
  return false; // equal scalars were caught by ===
}

/** jv_contains: a missing key or a kind mismatch below the top level is simply "no". */
function containsValue(a: unknown, b: unknown): boolean {
  const kind = kindOf(a);
  if (kind !== kindOf(b)) return false;
  if (kind === "object") {
    const x = a as Record<string, unknown>;
    return Object.entries(b as Record<string, unknown>).every(([k, v]) => Object.hasOwn(x, k) && containsValue(x[k], v));
  }
  if (kind === "array") return (b as unknown[]).every((bv) => (a as unknown[]).some((av) => containsValue(av, bv)));
  if (kind === "string") return (a as string).includes(b as string);
  return jqEqual(a, b);
}

/** jq `contains`: at the top level, different kinds are a runtime error. */
export function jqContains(a: unknown, b: unknown): boolean {
  if (kindOf(a) !== kindOf(b)) throw new JqRuntimeError(`${kindOf(a)} and ${kindOf(b)} cannot have their containment checked`);
  return containsValue(a, b);
}

/** jq `.[from:to]`: arrays by element, strings by code point, null stays null. */
function sliceValue(v: unknown, from: number, to: number): unknown {
  if (v === null) return null;
  if (Array.isArray(v)) return v.slice(from, to);
  if (typeof v === "string") return /[\uD800-\uDFFF]/.test(v) ? Array.from(v).slice(from, to).join("") : v.slice(from, to);
  throw new JqRuntimeError(`Cannot index ${kindOf(v)} with object`);
}

const truthy = (v: unknown) => v !== null && v !== false;

function evaluate(node: Node, input: unknown): unknown {
  switch (node.kind) {
    case "identity":
      return input;
    case "literal":
      return node.value;
    case "slice":
      return sliceValue(input, node.from, node.to);
    case "contains":
      return jqContains(input, evaluate(node.arg, input));
    case "eq":
      return jqEqual(evaluate(node.left, input), evaluate(node.right, input));
    case "and":
      return truthy(evaluate(node.left, input)) && truthy(evaluate(node.right, input));
  }
}

// ---- public ----------------------------------------------------------------

export interface FastFilter {
  /** true/false = jq's verdict; undefined = this payload must go to the engine. */
  test(payloadJson: string): boolean | undefined;
}

/** Returns a JS evaluator when `program` is in the supported subset, else undefined. */
export function compileFastPath(program: string): FastFilter | undefined {
  let root: Node;
  try {
    root = new Parser(program).parseProgram();
  } catch (err) {
    // RangeError: nesting too deep for this recursive parser; the engine decides.
    if (err instanceof NotFastPath || err instanceof RangeError) return undefined;
    throw err;
  }
  // A bare `.` or literal is valid but not a client shape; leave oddities to the engine.
  if (root.kind === "identity" || root.kind === "literal" || root.kind === "slice") return undefined;
  return {
    test(payloadJson: string): boolean | undefined {
      const text = payloadJson === "" ? "null" : payloadJson;
      if (NEEDS_ENGINE.test(text) || !isWellFormed(text)) return undefined;
      let payload: unknown;
      try {
        payload = JSON.parse(text);
      } catch {
        return undefined;
      }
      try {
        return truthy(evaluate(root, payload));
      } catch (err) {
        if (err instanceof JqRuntimeError) return false; // runtime errors never match
        if (err instanceof RangeError) return undefined; // absurdly deep nesting: jq has its own limits
        throw err;
      }
    },
  };
}

/** @internal For tests: the parse tree, or undefined when not on the fast path. */
export const _internals = {
  parse(program: string): Node | undefined {
    try {
      return new Parser(program).parseProgram();
    } catch (err) {
      if (err instanceof NotFastPath) return undefined;
      throw err;
    }
  },
};
