// The in-memory job table: a slab of parallel typed arrays indexed by slot, plus the
// indexes over it (ready buckets per queue, the scheduled heap, id order). No payloads:
// each job keeps only where its payload lives on disk.
//
// Why a slab and not an object per job: at 1M jobs an object with ~15 fields costs
// ~250 bytes plus GC pressure; parallel typed arrays (ids included, as 128-bit words:
// id-index.ts) cost ~90 bytes per job and nothing for the GC to trace. Rare fields
// (options, retention stamps, error locations) live in a sparse Map.
//
// Invariant: a freed slot is not reused until the id-order array (id-order.ts) no longer
// lists it (compactOrder), so a slot number read from that array always means one job.

import type { JobMeta } from "./codec.ts";
import { STATUS_FREE, STATUS_IN_FLIGHT, STATUS_READY, STATUS_SCHEDULED } from "./format.ts";
import { IdIndex, compareWords, formatId, parseId } from "./id-index.ts";
import { IdOrder } from "./id-order.ts";
import { layOutColumns } from "./_table-layout.ts";
import { NameTable } from "./name-table.ts";
import { ReadyIndex } from "./priority-index.ts";
import { IndexedHeap } from "./indexed-heap.ts";
import { ScheduledHeap } from "./scheduled-heap.ts";
import { SlotStack } from "./slot-stack.ts";

export interface ErrorLocation {
  attempt: number;
  segment: number;
  /** Offset of the framed ERROR record. */
  offset: number;
  /** Length of the framed record. */
  length: number;
}

export interface SlotExtras {
  options?: Record<string, unknown>;
  /**
   * Bytes `options` take packed in a record (the completion reserve counts them), when
   * known: set from the record that carried them, else computed on first use (_reserve.ts
   * optionsBytesOf), and kept while the same options object stays.
   */
  optionsBytes?: number;
  failedAtMs?: number;
  completedAtMs?: number;
  purgeAtMs?: number;
  /** Sorted by attempt. */
  errors?: ErrorLocation[];
}

/**
 * What hold() discards of a chunk of slots; enough to undo it while they are held. Packed
 * per chunk, not an object per job: a bulk delete holds ~9M jobs in turn, and per-job
 * rollback objects kept until their DELETE record was written fed the old-space GC
 * (45 ms loop stalls at 10M jobs).
 */
export interface HeldSlots {
  /** Each slot's status before, by its position in the chunk. */
  statuses: Uint8Array;
  /** The extras of the slots that had any. */
  extras: Map<number, SlotExtras> | undefined;
  orderEpoch: number;
}

export interface PayloadLocation {
  segment: number;
  /** Offset of the payload bytes inside the segment. */
  offset: number;
  length: number;
  /** Offset and length of the framed JOB record that holds it (for compaction). */
  recordOffset: number;
  recordLength: number;
}

/**
 * A second home for some ready jobs (budget parking, lib/queue/budget-gate.ts): a ready
 * slot it `claims` is indexed there instead of in the ready index. `claims` must not
 * change while the slot is indexed (options change only through update(), unindexed).
 */
export interface ReadyDiversion {
  /** At index(): should this ready slot live in the diversion? (Called for every ready slot indexed.) */
  claims(slot: number): boolean;
  /**
   * At unindex(): is this ready slot in the diversion? Answers what `claims` answered when
   * the slot was indexed; separate so the diversion can remember instead of look again.
   */
  holds(slot: number): boolean;
  insert(slot: number): void;
  remove(slot: number): void;
}

const NONE = Number.NaN;
const DOUBLE_UNTIL = 1 << 20;

export class JobTable {
  capacity = 0;
  size = 0;
  /** Four u32 words of the 128-bit id per slot, most significant first. */
  idw = new Uint32Array(0);
  status = new Uint8Array(0);
  priority = new Uint16Array(0);
  attempts = new Uint32Array(0);
  queue = new Uint32Array(0);
  type = new Uint32Array(0);
  readyAt = new Float64Array(0);
  dequeuedAt = new Float64Array(0);
  paySeg = new Uint32Array(0);
  payOff = new Uint32Array(0);
  payLen = new Uint32Array(0);
  recOff = new Uint32Array(0);
  next = new Int32Array(0);
  prev = new Int32Array(0);
  heapPos = new Int32Array(0);
  /** Bumped on every change; lets a failed write roll back only if nothing moved since. */
  gen = new Uint32Array(0);
  readonly extras = new Map<number, SlotExtras>();
  readonly slotById = new IdIndex(() => this.idw);
  // A queue whose last job went gives up its ready index (~11 KB): an app with a queue
  // per tenant would otherwise keep one for every queue that ever held jobs at once.
  readonly queues = new NameTable((q) => {
    this.ready[q] = undefined;
  });
  readonly types = new NameTable();
  /** Ready index per queue name index. */
  readonly ready: (ReadyIndex | undefined)[] = [];

  /** Queue indexes with at least one ready job (in heap order, not sorted). */
  get readyQueues(): readonly number[] {
    return this.readyHeads.values();
  }
  /**
   * Queue indexes with at least one ready job, in a heap on their head job: a take from
   * every queue reads the root instead of asking each queue (O(queues) per take: 22k
   * queues of one job took 30 s to drain). Re-sifted only when a queue's head changes.
   */
  private readonly readyHeads = new IndexedHeap<number>((a, b) => {
    const ra = this.ready[a]!;
    const rb = this.ready[b]!;
    const pa = ra.minPriority();
    const pb = rb.minPriority();
    return pa !== pb ? pa < pb : this.compare(ra.peek(), rb.peek()) < 0;
  });
  readonly scheduled = new ScheduledHeap(() => this, (a, b) => this.compare(a, b));
  readonly statusCounts = new Uint32Array(5);
  /**
   * Live jobs by (queue name index, status), at q * 5 + status: /metrics and the
   * dashboard read counts per queue in O(queues), never by scanning jobs.
   * Invariant: kept beside statusCounts by index()/unindex(), the only places that move it.
   */
  queueStatusCounts = new Uint32Array(5 * 16);
  /**
   * Live jobs per segment of their JOB record: compaction stops its search for the
   * oldest segment's jobs once it has them all, and knows the segment is empty without
   * a pass over every slot (each pass is tens of ms at 10M jobs).
   */
  private readonly liveBySegment = new Map<number, number>();
  /** Sum of the live jobs' JOB record lengths (compaction's measure of live data). */
  liveRecordBytes = 0;
  /** Off during replay: jobs change state many times there, and are indexed once after. */
  indexing = false;
  /** Set once budgets exist (divertReady); undefined keeps index() as it always was. */
  private diversion: ReadyDiversion | undefined;
  /** Freed slots ready for reuse (below `fresh`). */
  private readonly freeSlots = new SlotStack();
  /** Slots at and above this one have never held a job: a counter, not a list of free slots. */
  private fresh = 0;
  /** Freed slots still listed in the order array; reusable after compactOrder(). */
  private readonly pendingFree = new SlotStack();
  /**
   * Slots in ascending id order, including freed ones until the next compaction. A
   * column of the table's buffer: a slot is listed at most once, so it never outgrows it.
   */
  private readonly order = new IdOrder(this);
  /** Slots [unindexedFrom, unindexedTo) restored but not yet in the id index (-1: none). */
  private unindexedFrom = -1;
  private unindexedTo = -1;

  /**
   * Doubling up to 1M slots, then +25% a step: at 10M jobs doubling would leave up to
   * 8M spare slots, whose -1-filled link columns alone are ~100 MB of resident memory.
   * Each copy still costs O(slots), amortised O(1) a job either way.
   */
  private grow(): void {
    this.growTo(this.capacity < DOUBLE_UNTIL ? Math.max(1024, this.capacity * 2) : this.capacity + (this.capacity >>> 2));
  }

  /** Room for `n` jobs in one step (a checkpoint load knows its size: no copy per step). */
  reserve(n: number): void {
    if (n > this.capacity) this.growTo(Math.ceil(n / 1024) * 1024);
  }

  /** Move every column into a buffer for `cap` slots (_table-layout.ts). */
  private growTo(cap: number): void {
    layOutColumns(this, this.order, cap);
  }

  /** The job's id string (made on demand: ~0.6 µs). */
  idOf(slot: number): string {
    return formatId(this.idw, slot * 4);
  }

  /** Id order of two slots: negative, 0 or positive. */
  compare(a: number, b: number): number {
    return compareWords(this.idw, a * 4, b * 4);
  }

  /** Is `slot` still the live job `id` (after an await, say)? */
  sameJob(slot: number, id: string): boolean {
    return this.status[slot] !== STATUS_FREE && this.slotById.get(id) === slot;
  }

  /**
   * Add a job (not yet indexed: call index() when its state is final). `optionsBytes`:
   * the packed size of `meta.options`, when the caller has the record at hand.
   * `idWords[idAt..idAt+3]`, when given, are `meta.id`'s four words (the id generator
   * writes them as it formats the id): parsing the text back was ~3% of a bulk enqueue.
   */
  add(meta: JobMeta, location: PayloadLocation, optionsBytes?: number, idWords?: Uint32Array, idAt = 0): number {
    if (this.freeSlots.length === 0 && this.fresh === this.capacity) {
      if (this.pendingFree.length >= Math.max(1024, this.capacity / 8)) this.compactOrder();
      else this.grow();
    }
    const slot = this.freeSlots.pop() ?? this.fresh++;
    const at = slot * 4;
    if (idWords !== undefined) {
      this.idw[at] = idWords[idAt];
      this.idw[at + 1] = idWords[idAt + 1];
      this.idw[at + 2] = idWords[idAt + 2];
      this.idw[at + 3] = idWords[idAt + 3];
    } else if (!parseId(meta.id, this.idw, at)) {
      if (slot === this.fresh - 1) this.fresh--;
      else this.freeSlots.push(slot);
      throw new RangeError(`not a job id: ${JSON.stringify(meta.id)}`);
    }
    this.slotById.add(slot);
    this.queue[slot] = this.queues.intern(meta.queue);
    this.type[slot] = this.types.intern(meta.type);
    this.assign(slot, meta, optionsBytes);
    this.setLocation(slot, location, true);
    this.size++;
    this.order.add(slot);
    return slot;
  }

  /**
   * `n` consecutive free slots for a checkpoint chunk (checkpoint-codec.ts), the first
   * returned; -1 unless no slot was ever freed (a table being rebuilt), where every slot
   * from `size` up is free.
   */
  reserveSlots(n: number): number {
    if (this.pendingFree.length > 0 || this.freeSlots.length > 0 || this.fresh !== this.size) return -1;
    while (this.capacity - this.size < n) this.grow();
    this.fresh += n;
    return this.size;
  }

  /** Every slot at or above this is free: scans of the table stop here, not at `capacity`. */
  get slotLimit(): number {
    return this.fresh;
  }

  /**
   * Finish slots [base, base+n) whose columns a checkpoint chunk has just filled: the
   * id index, name references, record bytes and id order (as for add(), per slot).
   * Not `gen`: these slots never held a job, so no one holds a generation of them to
   * compare, and left at 0 its 4 bytes a job stay untouched (42 MB resident at 10M)
   * until the job first changes.
   */
  restoreSlots(base: number, n: number, queueNames: string[], queues: Uint32Array, typeNames: string[], types: Uint32Array): void {
    const q = queueNames.map((name) => this.queues.intern(name));
    const ty = typeNames.map((name) => this.types.intern(name));
    const qRefs = new Uint32Array(q.length);
    const tRefs = new Uint32Array(ty.length);
    // A chunk lists its jobs in id order: append them to the order array in one copy
    // when they also follow its last entry (they do, unless slots were reused meanwhile).
    const { queue, type, paySeg, payOff, payLen, recOff, idw, slotById } = this;
    const order = this.order;
    let ordered = order.sorted && (order.length === 0 || n === 0 || this.compare(order.slots[order.length - 1], base) < 0);
    for (let i = 1; ordered && i < n; i++) if (compareWords(idw, (base + i - 1) * 4, (base + i) * 4) >= 0) ordered = false;
    // In order, each id is above every id before it, so none can be a duplicate: the ids
    // are indexed later, all at once (indexRestored → addNewRange, one sorted sweep),
    // while their slots stay contiguous. One by one, indexing was half of a 10M restart.
    // Out of order, add() finds a duplicate (the load then fails its count check).
    if (!ordered || base !== this.unindexedTo) this.indexRestored();
    if (ordered) {
      if (this.unindexedFrom < 0) this.unindexedFrom = base;
      this.unindexedTo = base + n;
    }
    fillNames(queue, base, n, q, queues, qRefs);
    fillNames(type, base, n, ty, types, tRefs);
    if (!ordered) for (let slot = base; slot < base + n; slot++) slotById.add(slot);
    let bytes = 0;
    // Locals: the calls in the loop keep V8 from hoisting field loads (~0.3 µs a job at 10M).
    let runSegment = -1;
    let run = 0;
    for (let slot = base; slot < base + n; slot++) {
      bytes += payOff[slot] + payLen[slot] - recOff[slot];
      // Runs of one segment are the rule: count them, not each slot, into the map.
      if (paySeg[slot] !== runSegment) {
        if (run > 0) this.countInSegment(runSegment, run);
        runSegment = paySeg[slot];
        run = 0;
      }
      run++;
    }
    if (run > 0) this.countInSegment(runSegment, run);
    this.liveRecordBytes += bytes;
    if (ordered) {
      const { slots, length } = order;
      for (let i = 0; i < n; i++) slots[length + i] = base + i;
      order.length += n;
    } else {
      for (let i = 0; i < n; i++) order.add(base + i);
    }
    // intern() above took one reference per name; the jobs hold qRefs/tRefs of them.
    q.forEach((idx, i) => { this.queues.retain(idx, qRefs[i]); this.queues.release(idx); });
    ty.forEach((idx, i) => { this.types.retain(idx, tRefs[i]); this.types.release(idx); });
    this.size += n;
  }

  /** Index the ids restoreSlots left for later; a checkpoint load calls it at its end. */
  indexRestored(): void {
    if (this.unindexedFrom >= 0) this.slotById.addNewRange(this.unindexedFrom, this.unindexedTo);
    this.unindexedFrom = -1;
    this.unindexedTo = -1;
  }

  /**
   * Length of the slot's framed JOB record. Not stored: the payload is always the tail
   * of its JOB record, so the record ends where the payload ends (4 bytes a job saved).
   */
  recordLength(slot: number): number {
    return this.payOff[slot] + this.payLen[slot] - this.recOff[slot];
  }

  /** Live jobs whose record is in `segment` (compaction retires a segment at 0). */
  liveIn(segment: number): number {
    return this.liveBySegment.get(segment) ?? 0;
  }

  /** Segments holding at least one live job's record. */
  segmentsWithJobs(): IterableIterator<number> {
    return this.liveBySegment.keys();
  }

  private countInSegment(segment: number, delta: number): void {
    const n = (this.liveBySegment.get(segment) ?? 0) + delta;
    if (n === 0) this.liveBySegment.delete(segment);
    else this.liveBySegment.set(segment, n);
  }

  /** Point a live job at a new copy of its record (`fresh`: a slot being filled by add). */
  setLocation(slot: number, location: PayloadLocation, fresh = false): void {
    this.liveRecordBytes += location.recordLength - (fresh ? 0 : this.recordLength(slot));
    if (!fresh) this.countInSegment(this.paySeg[slot], -1);
    this.countInSegment(location.segment, 1);
    this.paySeg[slot] = location.segment;
    this.payOff[slot] = location.offset;
    this.payLen[slot] = location.length;
    this.recOff[slot] = location.recordOffset;
  }

  /** Replace a job's state (`optionsBytes` as in add). Requires: the slot is not indexed (see unindex). */
  update(slot: number, meta: JobMeta, optionsBytes?: number): void {
    const q = this.queues.intern(meta.queue);
    this.queues.release(this.queue[slot]);
    this.queue[slot] = q;
    const t = this.types.intern(meta.type);
    this.types.release(this.type[slot]);
    this.type[slot] = t;
    this.assign(slot, meta, optionsBytes);
  }

  private assign(slot: number, meta: JobMeta, optionsBytes: number | undefined): void {
    this.status[slot] = meta.status;
    this.priority[slot] = meta.priority;
    this.attempts[slot] = meta.attempts;
    this.readyAt[slot] = meta.readyAtMs;
    this.dequeuedAt[slot] = meta.dequeuedAtMs ?? NONE;
    this.gen[slot]++;
    // failed_at lives here rather than in a typed array: most jobs never fail.
    const hasExtras = meta.options !== undefined || meta.completedAtMs !== undefined || meta.purgeAtMs !== undefined
      || meta.failedAtMs !== undefined;
    const was = this.extras.get(slot);
    const errors = was?.errors;
    if (hasExtras || errors) {
      // The same options object (a completion, a status change) keeps its known size.
      if (optionsBytes === undefined && meta.options !== undefined && was?.options === meta.options) optionsBytes = was.optionsBytes;
      this.extras.set(slot, {
        options: meta.options, optionsBytes: meta.options === undefined ? undefined : optionsBytes,
        completedAtMs: meta.completedAtMs, purgeAtMs: meta.purgeAtMs, failedAtMs: meta.failedAtMs, errors,
      });
    } else {
      this.extras.delete(slot);
    }
  }

  meta(slot: number): JobMeta {
    const meta: JobMeta = {
      id: this.idOf(slot),
      status: this.status[slot],
      priority: this.priority[slot],
      attempts: this.attempts[slot],
      readyAtMs: this.readyAt[slot],
      queue: this.queues.name(this.queue[slot]),
      type: this.types.name(this.type[slot]),
    };
    if (!Number.isNaN(this.dequeuedAt[slot])) meta.dequeuedAtMs = this.dequeuedAt[slot];
    const extras = this.extras.get(slot);
    if (extras) {
      if (extras.failedAtMs !== undefined) meta.failedAtMs = extras.failedAtMs;
      if (extras.options) meta.options = extras.options;
      if (extras.completedAtMs !== undefined) meta.completedAtMs = extras.completedAtMs;
      if (extras.purgeAtMs !== undefined) meta.purgeAtMs = extras.purgeAtMs;
    }
    return meta;
  }

  location(slot: number): PayloadLocation {
    return {
      segment: this.paySeg[slot], offset: this.payOff[slot], length: this.payLen[slot],
      recordOffset: this.recOff[slot], recordLength: this.recordLength(slot),
    };
  }

  /** Remove a job entirely; its slot is reusable after the order array drops it. */
  free(slot: number): void {
    this.drop(slot);
    this.queues.release(this.queue[slot]);
    this.types.release(this.type[slot]);
    this.pendingFree.push(slot);
  }

  /**
   * Free jobs whose delete write may still fail: they are gone from every index and
   * count, but their slots keep their fields (and their queue and type names stay
   * interned) until release(), so revive() can put them back.
   */
  hold(slots: readonly number[]): HeldSlots {
    const statuses = new Uint8Array(slots.length);
    let extras: Map<number, SlotExtras> | undefined;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      statuses[i] = this.status[slot];
      const e = this.extras.get(slot);
      if (e) (extras ??= new Map()).set(slot, e);
      this.drop(slot);
    }
    return { statuses, extras, orderEpoch: this.order.epoch };
  }

  /** Undo hold(slots): the slots' other fields were untouched while held. */
  revive(slots: readonly number[], held: HeldSlots): void {
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      this.status[slot] = held.statuses[i];
      const e = held.extras?.get(slot);
      if (e) this.extras.set(slot, e);
      this.liveRecordBytes += this.recordLength(slot);
      this.countInSegment(this.paySeg[slot], 1);
      this.gen[slot]++;
      this.slotById.add(slot);
      this.size++;
      // The order array dropped the freed slot if it was compacted meanwhile.
      if (held.orderEpoch !== this.order.epoch) this.order.add(slot);
      this.index(slot);
    }
  }

  /** The held slots' delete is durable: their names go, and the slots may be reused. */
  release(slots: readonly number[]): void {
    for (const slot of slots) {
      this.queues.release(this.queue[slot]);
      this.types.release(this.type[slot]);
      this.pendingFree.push(slot);
    }
  }

  /** free() but for the names and the slot's reuse. */
  private drop(slot: number): void {
    this.unindex(slot);
    this.slotById.remove(slot);
    this.status[slot] = STATUS_FREE;
    this.extras.delete(slot);
    this.gen[slot]++;
    this.liveRecordBytes -= this.recordLength(slot);
    this.countInSegment(this.paySeg[slot], -1);
    this.size--;
  }

  /** Put the slot into the index its status calls for. */
  index(slot: number): void {
    if (!this.indexing) return;
    const status = this.status[slot];
    this.statusCounts[status]++;
    const at = this.queue[slot] * 5 + status;
    if (at >= this.queueStatusCounts.length) {
      const grown = new Uint32Array(Math.max(at + 1, this.queueStatusCounts.length * 2) + 4);
      grown.set(this.queueStatusCounts);
      this.queueStatusCounts = grown;
    }
    this.queueStatusCounts[at]++;
    if (status === STATUS_READY) {
      if (this.diversion !== undefined && this.diversion.claims(slot)) {
        this.diversion.insert(slot);
        return;
      }
      const q = this.queue[slot];
      let ready = this.ready[q];
      if (!ready) ready = this.ready[q] = new ReadyIndex(() => this);
      if (ready.insert(slot, this.priority[slot])) {
        if (this.readyHeads.has(q)) this.readyHeads.update(q);
        else this.readyHeads.push(q);
      }
    } else if (status === STATUS_SCHEDULED) {
      this.scheduled.push(slot);
    }
  }

  /**
   * index() of every live slot in `slots`, which lists them in ascending id order, none
   * indexed yet (rebuildIndexes after replay; freed slots in it are skipped). Why not
   * index() one by one: with the order known, a ready job appends to its bucket without
   * comparing ids with the tail, and the columns are read into locals once, not per job.
   */
  indexInIdOrder(slots: Int32Array): void {
    if (!this.indexing) return;
    if (this.statusCounts.some((n) => n > 0)) { // not the first indexing: the buckets may hold larger ids
      for (let i = 0; i < slots.length; i++) if (this.status[slots[i]] !== STATUS_FREE) this.index(slots[i]);
      return;
    }
    const { status, queue, priority, next, prev, statusCounts, ready } = this;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      const s = status[slot];
      if (s === STATUS_FREE) continue;
      const q = queue[slot];
      if (s !== STATUS_READY || this.diversion !== undefined || q * 5 + STATUS_READY >= this.queueStatusCounts.length) {
        this.index(slot);
        continue;
      }
      statusCounts[STATUS_READY]++;
      this.queueStatusCounts[q * 5 + STATUS_READY]++;
      let r = ready[q];
      if (r === undefined) r = ready[q] = new ReadyIndex(() => this);
      if (r.append(slot, priority[slot], next, prev)) {
        if (this.readyHeads.has(q)) this.readyHeads.update(q);
        else this.readyHeads.push(q);
      }
    }
  }

  /** Take the slot out of whatever index holds it (status unchanged). */
  unindex(slot: number): void {
    const status = this.status[slot];
    if (!this.indexing || status === STATUS_FREE) return;
    this.statusCounts[status]--;
    this.queueStatusCounts[this.queue[slot] * 5 + status]--;
    if (status === STATUS_READY) {
      if (this.diversion !== undefined && this.diversion.holds(slot)) {
        this.diversion.remove(slot);
        return;
      }
      const q = this.queue[slot];
      const ready = this.ready[q]!;
      const wasHead = ready.remove(slot, this.priority[slot]);
      if (ready.size === 0) {
        this.readyHeads.remove(q);
      } else if (wasHead) {
        this.readyHeads.update(q);
      }
    } else if (status === STATUS_SCHEDULED) {
      this.scheduled.remove(slot);
    }
  }

  /** Install the ready diversion; ready slots it claims move out of the ready index. */
  divertReady(diversion: ReadyDiversion): void {
    const moved: number[] = [];
    for (const slot of this.extras.keys()) {
      if (this.status[slot] === STATUS_READY && diversion.claims(slot)) {
        this.unindex(slot);
        moved.push(slot);
      }
    }
    this.diversion = diversion;
    for (const slot of moved) this.index(slot);
  }

  /** Change status and move between indexes. */
  setStatus(slot: number, status: number): void {
    this.unindex(slot);
    this.status[slot] = status;
    this.gen[slot]++;
    this.index(slot);
  }

  /**
   * The ready slot a take would get: lowest (priority, id) among `queues` (name
   * indexes; undefined = all queues), or -1. All queues: the root of readyHeads. Named
   * queues: their heads are scanned (a stream names a few).
   */
  peekReady(queues?: readonly number[]): number {
    let best = -1;
    let bestPriority = 0;
    const consider = (q: number) => {
      const ready = this.ready[q];
      if (!ready || ready.size === 0) return;
      const p = ready.minPriority();
      const slot = ready.peek();
      if (best === -1 || p < bestPriority || (p === bestPriority && this.compare(slot, best) < 0)) {
        best = slot;
        bestPriority = p;
      }
    };
    if (!queues) {
      const q = this.readyHeads.peek();
      return q === undefined ? -1 : this.ready[q]!.peek();
    }
    for (const q of queues) consider(q);
    return best;
  }

  /** Ready → in flight, in memory only (a restart makes in-flight jobs ready anyway). */
  take(slot: number, nowMs: number): void {
    this.setStatus(slot, STATUS_IN_FLIGHT);
    this.dequeuedAt[slot] = nowMs;
  }

  /** Promote scheduled jobs due at `nowMs`; returns how many. */
  promoteDue(nowMs: number, max = Infinity): number {
    let n = 0;
    while (n < max) {
      const slot = this.scheduled.peek();
      if (slot === -1 || this.readyAt[slot] > nowMs) break;
      this.setStatus(slot, STATUS_READY);
      n++;
    }
    return n;
  }

  /** Earliest scheduled ready_at, or undefined. */
  nextDueMs(): number | undefined {
    const slot = this.scheduled.peek();
    return slot === -1 ? undefined : this.readyAt[slot];
  }

  /**
   * Slots in ascending id order. May include freed slots (status FREE): skip them.
   * Compacts first when a third of the entries are dead or order was broken.
   */
  orderedSlots(): Int32Array {
    if (!this.order.sorted || this.pendingFree.length * 3 > this.order.length) this.compactOrder();
    return this.order.slots.subarray(0, this.order.length);
  }

  /**
   * The id order as it stands, freed slots included, sorted first if it has to be, for a
   * checkpoint to copy (checkpoint.ts, copyIdOrder). The view is valid until
   * `orderMoves` changes: appends go past its end, but an insert in the middle or a
   * compaction moves entries.
   */
  idOrderView(): Int32Array {
    if (!this.order.sorted) this.compactOrder();
    return this.order.slots.subarray(0, this.order.length);
  }

  /** Bumped whenever entries of the id order move (see idOrderView). */
  get orderMoves(): number {
    return this.order.moves;
  }

  /** Drop freed slots from the order array (then they may be reused), sorting if needed. */
  private compactOrder(): void {
    this.order.compact(this.status);
    this.freeSlots.adopt(this.pendingFree);
  }

  /** Live slots, ascending (a plain loop: the id index's generator costs ~100 ns a slot). */
  forEachLive(fn: (slot: number) => void): void {
    const status = this.status;
    for (let s = 0, end = this.fresh; s < end; s++) if (status[s] !== STATUS_FREE) fn(s);
  }

  /** Drop everything (RESET). */
  clear(): void {
    for (const slot of [...this.slotById.values()]) this.free(slot);
    this.compactOrder();
  }
}

/**
 * A checkpoint chunk's name column: slots [base, base+n) get `names[picks[i]]`, and
 * `refs[k]` counts the jobs naming `names[k]`. One name for the whole chunk is the rule,
 * jobs being in runs of one name: a fill and a count, not a lookup and an increment per job.
 */
function fillNames(column: Uint32Array, base: number, n: number, names: readonly number[], picks: Uint32Array, refs: Uint32Array): void {
  if (names.length === 1) {
    column.fill(names[0], base, base + n);
    refs[0] = n;
    return;
  }
  for (let i = 0; i < n; i++) {
    const k = picks[i];
    column[base + i] = names[k];
    refs[k]++;
  }
}
