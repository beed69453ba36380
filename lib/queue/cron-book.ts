// The cron groups (API.md §3.19): kept in memory, persisted as one store blob per group
// (namespace BLOB_NAMESPACE_CRON, MessagePack, docs/format.md) so they survive restarts
// and compaction. One operation per cron endpoint; every write runs under one lock
// (the scheduler's firing too), is durable before it is answered, and then re-arms the timer.

import { BLOB_NAMESPACE_CRON } from "../storage/format.ts";
import { packValue, unpackValue } from "../storage/codec.ts";
import type { BlobWrite, Store } from "../storage/store.ts";
import { Mutex } from "./_mutex.ts";
import type { Clock } from "./clock.ts";
import {
  type CronEntry, type CronGroup, type EntryRequest, type GroupRequest, advancePaused, byName, checkEntryBatch,
  checkCronName, effectiveZone, mergeEntry, newGroup, nextOccurrence, parseEntryRequest, parseGroupPatch, parseGroupRequest,
  parsePauseRequest, stampPause, toEnqueueInput,
} from "./cron.ts";
import { type BudgetBook, type CronRefs, writeBound } from "./budget-book.ts";
import type { BindingRequest } from "./budget-policy.ts";
import type { EnqueueInput } from "./enqueue.ts";
import { guarded, isStorageRefusal } from "./errors.ts";
import { QueueError } from "./types.ts";

/** An entry firing in fireDue: its job, and its stamps before and after. */
interface Firing {
  entry: CronEntry;
  input: EnqueueInput;
  was: { last: number | undefined; next: number | undefined };
  next: number | undefined;
}

const groupNotFound = (g: string) => new QueueError("not_found", `cron group '${g}' not found`);
const entryNotFound = (g: string, e: string) => new QueueError("not_found", `cron entry '${e}' not found in group '${g}'`);

/** A copy for the caller, entries sorted by name unless `inOrder`. */
function view(group: CronGroup, inOrder = false): CronGroup {
  const copy = structuredClone(group);
  if (!inOrder) copy.entries.sort(byName);
  return copy;
}

export class CronBook {
  private readonly groups = new Map<string, CronGroup>();
  /** Writes and firing are read-modify-write on a group: one at a time. */
  private readonly lock = new Mutex();
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly sync: boolean;
  /** Called after anything that may move the earliest next_enqueue_at. */
  onChange: () => void = () => {};
  /** Resolves templates' budget bindings at install (create_with, capacity); set by the Queue. */
  budgets: BudgetBook | undefined;

  constructor(store: Store, clock: Clock, sync: boolean) {
    this.store = store;
    this.clock = clock;
    this.sync = sync;
    for (const [name, bytes] of store.blobsIn(BLOB_NAMESPACE_CRON)) this.groups.set(name, unpackValue(bytes) as CronGroup);
  }

  get size(): number {
    return this.groups.size;
  }

  /** Write `group` (and `alsoWrite`, budgets its templates create, in the same record). */
  private async save(group: CronGroup, alsoWrite: readonly BlobWrite[] = []): Promise<void> {
    await guarded(this.store.insert([], this.sync, [], [this.blobOf(group), ...alsoWrite]));
    this.groups.set(group.name, group);
  }

  /**
   * Install entries: `change` builds the group to save from templates whose bindings are
   * resolved. Budgets their create_with makes ride in the group's write (API-budgets.md
   * §3.2 step 4, as for an enqueue): written first, a kill -9 or a failed install
   * (a 409 for an existing entry name, say) left a budget no entry drew on.
   */
  private install<T>(templates: readonly (readonly BindingRequest[])[], change: () => { group: CronGroup; result: T }): Promise<T> {
    // Unpinned once the book holds the entries (save): it counts them for the guards then.
    return writeBound(Promise.resolve(this.budgets?.prepareCron(templates)), async (carry) => {
      const { group, result } = change();
      await this.save(group, carry());
      return result;
    });
  }

  /** fireDue's fallback: one write per entry. Returns how many jobs were enqueued. */
  private async fireEach(
    group: CronGroup, firing: readonly Firing[], nowMs: number,
    enqueue: (inputs: EnqueueInput[], nowMs: number, alsoWrite: BlobWrite) => Promise<unknown>, onError: (err: unknown) => void,
  ): Promise<number> {
    // As before any of them fired; each write then carries only what has happened so far.
    for (const f of firing) {
      f.entry.last_enqueue_at = f.was.last;
      f.entry.next_enqueue_at = f.was.next;
    }
    let fired = 0;
    for (const f of firing) {
      if (f.next === undefined) delete f.entry.next_enqueue_at;
      else f.entry.next_enqueue_at = f.next;
      f.entry.last_enqueue_at = nowMs;
      try {
        await enqueue([f.input], nowMs, this.blobOf(group));
        fired++;
      } catch (err) {
        if (isStorageRefusal(err)) throw err; // as in fireDue: the rest would be refused too
        f.entry.last_enqueue_at = f.was.last; // the schedule still advances (saved after)
        onError(err);
      }
    }
    return fired;
  }

  /** The blob save() writes for `group`, for a write that carries it (fireDue). */
  private blobOf(group: CronGroup): BlobWrite {
    return { namespace: BLOB_NAMESPACE_CRON, key: group.name, value: packValue(group) };
  }

  private existing(name: string): CronGroup | undefined {
    const group = this.groups.get(name);
    if (group) advancePaused(group, this.clock.now());
    return group;
  }

  private write<T>(fn: (nowMs: number) => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      const result = await fn(this.clock.now());
      this.onChange();
      return result;
    });
  }

  names(): string[] {
    return [...this.groups.values()].sort(byName).map((g) => g.name);
  }

  getGroup(name: string): CronGroup {
    const group = this.existing(name);
    if (!group) throw groupNotFound(name);
    return view(group);
  }

  /** PUT /crons/{group}: replace the entry list (absent entries are deleted), merging state. */
  async putGroup(name: string, body: unknown): Promise<CronGroup> {
    checkCronName(name, "cron group name");
    const req: GroupRequest = parseGroupRequest(body);
    for (const entry of req.entries) await checkEntryBatch(entry);
    return this.write((nowMs) => this.install(req.entries.flatMap((e) => (e.budgets ? [e.budgets] : [])), () => {
      const old = this.existing(name);
      const group: CronGroup = old ? { ...old, entries: [] } : newGroup(name, req.paused, nowMs);
      if (old) stampPause(group, req.paused, nowMs);
      // PUT is a full replace: an omitted group timezone is cleared.
      if (req.timezone !== undefined) group.timezone = req.timezone;
      else delete group.timezone;
      const zones = { before: old?.timezone, after: req.timezone };
      const before = new Map(old?.entries.map((e) => [e.name, e]));
      group.entries = req.entries.map((e) => mergeEntry(before.get(e.name), e, e.name, nowMs, zones));
      return { group, result: view(group, true) };
    }));
  }

  /** PATCH /crons/{group}: `paused` and `timezone` (merge: null clears it), both optional. */
  async patchGroup(name: string, body: unknown): Promise<CronGroup> {
    const patch = parseGroupPatch(body);
    return this.write(async (nowMs) => {
      const old = this.existing(name);
      if (!old) throw groupNotFound(name);
      const zone = patch.timezone === undefined ? old.timezone : patch.timezone ?? undefined;
      const pauseChanges = patch.paused !== undefined && patch.paused !== old.paused;
      if (!pauseChanges && zone === old.timezone) return view(old);
      const group = structuredClone(old);
      stampPause(group, patch.paused, nowMs);
      if (zone !== old.timezone) {
        if (zone === undefined) delete group.timezone;
        else group.timezone = zone;
        // Entries that inherit the zone run on a new schedule from now.
        for (const e of group.entries) {
          if (e.timezone !== undefined) continue;
          const next = nextOccurrence(e.expression, zone, nowMs);
          if (next === undefined) delete e.next_enqueue_at;
          else e.next_enqueue_at = next;
        }
      }
      await this.save(group);
      return view(group);
    });
  }

  deleteGroup(name: string): Promise<void> {
    return this.write(async () => {
      if (!this.groups.has(name)) throw groupNotFound(name);
      await guarded(this.store.deleteBlob(BLOB_NAMESPACE_CRON, name, this.sync));
      this.groups.delete(name);
    });
  }

  deleteAll(): Promise<number> {
    return this.write(async () => {
      const names = [...this.groups.keys()];
      // One record per group: when some are refused, the groups whose delete was written
      // go and the others stay (a group kept in memory without its blob was lost at the
      // next restart).
      const results = await Promise.allSettled(names.map((n) => this.store.deleteBlob(BLOB_NAMESPACE_CRON, n, this.sync)));
      results.forEach((r, i) => { if (r.status === "fulfilled") this.groups.delete(names[i]); });
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) await guarded(Promise.reject(failed.reason));
      return names.length;
    });
  }

  getEntry(groupName: string, entryName: string): CronEntry {
    const group = this.existing(groupName);
    if (!group) throw groupNotFound(groupName);
    const entry = group.entries.find((e) => e.name === entryName);
    if (!entry) throw entryNotFound(groupName, entryName);
    return structuredClone(entry);
  }

  /**
   * POST (`replace` false: 409 if the entry exists) and PUT (`replace` true; the path
   * name wins over the body's) of one entry; either creates the group, unpaused.
   */
  async putEntry(groupName: string, pathName: string | undefined, body: unknown): Promise<CronEntry> {
    checkCronName(groupName, "cron group name");
    // The path name wins over the body's (API.md §3.19), so it gets the body name's rules:
    // otherwise a name POST refuses (`a,b`, a NUL, 300 bytes) was stored through the path.
    if (pathName !== undefined) checkCronName(pathName, "cron entry name");
    const req: EntryRequest = parseEntryRequest(body);
    await checkEntryBatch(req);
    const entryName = pathName ?? req.name;
    return this.write((nowMs) => this.install(req.budgets ? [req.budgets] : [], () => {
      const old = this.existing(groupName);
      const group: CronGroup = old ? { ...old, entries: [...old.entries] } : newGroup(groupName, undefined, nowMs);
      const at = group.entries.findIndex((e) => e.name === entryName);
      if (at !== -1 && pathName === undefined) {
        throw new QueueError("conflict", `cron entry '${entryName}' already exists in group '${groupName}'`);
      }
      const zones = { before: group.timezone, after: group.timezone };
      const entry = mergeEntry(at === -1 ? undefined : group.entries[at], req, entryName, nowMs, zones);
      if (at === -1) group.entries.push(entry);
      else group.entries[at] = entry;
      return { group, result: structuredClone(entry) };
    }));
  }

  async patchEntry(groupName: string, entryName: string, body: unknown): Promise<CronEntry> {
    const paused = parsePauseRequest(body);
    return this.write(async (nowMs) => {
      const old = this.existing(groupName);
      if (!old) throw groupNotFound(groupName);
      const at = old.entries.findIndex((e) => e.name === entryName);
      if (at === -1) throw entryNotFound(groupName, entryName);
      if (old.entries[at].paused === paused) return structuredClone(old.entries[at]);
      const group = structuredClone(old);
      stampPause(group.entries[at], paused, nowMs);
      await this.save(group);
      return structuredClone(group.entries[at]);
    });
  }

  deleteEntry(groupName: string, entryName: string): Promise<void> {
    return this.write(async () => {
      const old = this.groups.get(groupName);
      if (!old) throw groupNotFound(groupName);
      if (!old.entries.some((e) => e.name === entryName)) throw entryNotFound(groupName, entryName);
      await this.save({ ...old, entries: old.entries.filter((e) => e.name !== entryName) });
    });
  }

  /** POST /reset: the store already dropped every blob; forget the groups, after any write in progress. */
  reset(clearStore: () => Promise<void>): Promise<void> {
    return this.write(async () => {
      await clearStore();
      this.groups.clear();
    });
  }

  /** Cron templates drawing on budget `key` (the budget book's delete and shrink guards). */
  budgetRefs(key: string): CronRefs {
    const refs: { name: string; cost: number }[] = [];
    for (const group of [...this.groups.values()].sort(byName)) {
      for (const e of [...group.entries].sort(byName)) {
        const b = e.job.budgets?.find((x) => x.key === key);
        if (b) refs.push({ name: `${group.name}/${e.name}`, cost: b.cost });
      }
    }
    return {
      count: refs.length,
      first: refs[0]?.name,
      maxCost: refs.reduce((m, r) => Math.max(m, r.cost), 0),
      over: (cap) => refs.find((r) => r.cost > cap),
    };
  }

  /** Earliest next_enqueue_at among entries that would enqueue (group and entry unpaused). */
  earliestDue(): number | undefined {
    let earliest: number | undefined;
    for (const group of this.groups.values()) {
      if (group.paused) continue;
      for (const e of group.entries) {
        if (!e.paused && e.next_enqueue_at !== undefined && (earliest === undefined || e.next_enqueue_at < earliest)) earliest = e.next_enqueue_at;
      }
    }
    return earliest;
  }

  /**
   * Fire every due entry once (§4.5): unpaused → one job via `enqueue`, last_enqueue_at =
   * now; paused → only advance. next_enqueue_at moves past now either way (no back-fill).
   * A failed enqueue (e.g. a batch fold error) is reported and the schedule still advances,
   * so one bad template cannot spin the timer. Returns how many jobs were enqueued.
   * A group's due jobs are written in one transaction with the group as it stands after
   * them: written apart, a kill -9 between the two left the old schedule on disk, and the
   * restart fired the same occurrences again (found by a crash test: 2 jobs per tick). One
   * write per group, not per entry: the group's blob is packed per write (~1 µs an entry),
   * so per-entry writes cost n² for n entries due together (1 s for 1,000).
   */
  fireDue(enqueue: (inputs: EnqueueInput[], nowMs: number, alsoWrite: BlobWrite) => Promise<unknown>, onError: (err: unknown) => void): Promise<number> {
    return this.write(async (nowMs) => {
      let fired = 0;
      for (const old of [...this.groups.values()]) {
        if (!old.entries.some((e) => e.next_enqueue_at !== undefined && e.next_enqueue_at <= nowMs)) continue;
        const group = structuredClone(old);
        const firing: Firing[] = [];
        for (const entry of group.entries) {
          if (entry.next_enqueue_at === undefined || entry.next_enqueue_at > nowMs) continue;
          const was = { last: entry.last_enqueue_at, next: entry.next_enqueue_at };
          const next = nextOccurrence(entry.expression, effectiveZone(entry, group), nowMs);
          if (next === undefined) delete entry.next_enqueue_at;
          else entry.next_enqueue_at = next;
          if (group.paused || entry.paused) continue;
          firing.push({ entry, input: toEnqueueInput(entry.job, nowMs), was, next });
          entry.last_enqueue_at = nowMs;
        }
        // Invariant: no write replaced `old` while an enqueue awaited (writes hold the lock).
        if (firing.length === 0) {
          await this.save(group); // paused entries only advance
          continue;
        }
        try {
          await enqueue(firing.map((f) => f.input), nowMs, this.blobOf(group));
          fired += firing.length;
          this.groups.set(group.name, group); // that write carried the group
        } catch (err) {
          // The disk is full or out of files: every write would be refused alike, so
          // firing one by one would only repeat the refusal per entry, every second. The
          // caller reports it once and tries again later, the old schedule still due.
          if (isStorageRefusal(err)) throw err;
          // One template failed, and the write held them all (nothing was written): fire
          // them one by one, each with the group as it stands after it, so the others
          // still go and each failure is reported alone.
          fired += await this.fireEach(group, firing, nowMs, enqueue, onError);
          await this.save(group);
        }
      }
      return fired;
    });
  }
}
