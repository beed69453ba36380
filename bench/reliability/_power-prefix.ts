// The prefix rule of the storage power-loss judge (power-loss.ts): what recovery serves
// after a cut must be a prefix of the log. Given every job's and blob's writes with their
// places in log order, and which of them the served state equals, it finds the newest
// write recovery must have kept, and checks that nothing written before it was lost.
// Pure: the harness says what was written and served; this only compares.

/** One job or blob, as judged at one cut. */
export interface PrefixItem {
  /** "job 00000000000000000000012", "blob k0". */
  name: string;
  /** Log position of each write issued by the cut (its place in append order); undefined: not appended by then. */
  positions: readonly (number | undefined)[];
  /**
   * Does the served state equal the state write `i` left? (Any state may equal several;
   * with failed writes before `i`, also that state with any of them under it.)
   */
  serves: (i: number) => boolean;
  /**
   * Was write `i` told "failed"? Its records may be in the log or not (the writer pads
   * over them, and a cut may lose the pad), so a later write kept does not require it;
   * one served still counts as kept, and so do the writes before it.
   */
  failed?: (i: number) => boolean;
  /** Served absent: no write has to have been kept for that (the state before the first). */
  absent: boolean;
  /** The served state, and the state write `i` left, for the failure text. */
  served: string;
  describe: (i: number) => string;
}

export interface PrefixVerdict {
  /** The failure text, or undefined when the rule held. */
  failure?: string;
  /** Items the rule asked something of: a write at or before the newest kept one. */
  held: number;
}

/**
 * The rule: let k be the newest log position recovery must have kept (over every present
 * item, the earliest write whose state it serves: a state equal to several writes'
 * is taken to come from the earliest, so the rule can only get weaker). Then each item
 * is served in the state of its last write at or before k, or of a later one: at or
 * before, not only before, as writes at the same position are one record group (a
 * bulk insert's TXN, a DELETE of several jobs, a RESET), kept whole or not at all.
 * Its last write not told "failed": a failed one may be gone (its pad kept or its
 * bytes lost) while the writes after it are kept, and the item is then served in the
 * state of its write before that one.
 */
export function judgePrefix(items: readonly PrefixItem[]): PrefixVerdict {
  let k = -1;
  let source: { item: PrefixItem; write: number } | undefined;
  for (const item of items) {
    if (item.absent) continue;
    for (const [i, p] of item.positions.entries()) {
      if (p === undefined || !item.serves(i)) continue;
      if (p > k) {
        k = p;
        source = { item, write: i };
      }
      break;
    }
  }
  if (!source) return { held: 0 };
  let held = 0;
  for (const item of items) {
    let last = -1;
    for (const [i, p] of item.positions.entries()) if (p !== undefined && p <= k && !item.failed?.(i)) last = i;
    if (last < 0) continue;
    held++;
    let newer = false;
    for (let i = last; i < item.positions.length && !newer; i++) newer = item.serves(i);
    if (newer) continue;
    return {
      held,
      failure: `not a prefix of the log: ${item.name} is ${item.served}, older than its write ${last} at log position ${item.positions[last]} `
        + `(${item.describe(last)}); yet ${source.item.name} is served as its write ${source.write} left it, at log position ${k} `
        + `(${source.item.describe(source.write)})`,
    };
  }
  return { held };
}
