// Scan on open: read every segment in number order, verify each record, and hand the
// good ones to a visitor in log order. Expected damage is returned as a report, never
// thrown (STYLE.md §5): a torn tail of the newest segment ends the log quietly;
// anything else is corruption, skipped up to the next valid record.

import path from "node:path";
import { crc32 } from "node:zlib";
import { checkFrame } from "./codec.ts";
import { fromFsError } from "./errors.ts";
import { MAX_RECORD_TYPE, MIN_SEGMENT_BYTES, RECORD_HEADER_BYTES, RECORD_PAD, RECORD_TXN, SEGMENT_HEADER_BYTES } from "./format.ts";
import type { FsPort } from "./fs-port.ts";
import { checkSegmentHeader, parseSegmentFileName, segmentFileName } from "./segment-set.ts";

export interface Damage {
  /** torn: a write cut off at the end; corrupt: a record or header that fails its check; missing: segment files gone from the middle of the log. */
  kind: "torn" | "corrupt" | "missing";
  segment: number;
  offset: number;
  /** Bytes skipped (not replayed). */
  bytes: number;
  reason: string;
}

/** Sees each good record once, in log order; TXN records are flattened into their parts. */
export type RecordVisitor = (type: number, buf: Buffer, bodyStart: number, end: number, segment: number, offset: number) => void;

export interface ScanResult {
  /** Segment numbers found, ascending, with their open fds and sizes. */
  segments: { no: number; path: string; fd: number; bytes: number }[];
  /** Where the next record goes: the newest segment and the end of its valid records. */
  headNo: number;
  cursor: number;
  /** Damage found by the scan (from a checkpoint: in the segments from its segment on). */
  damage: Damage[];
  /**
   * From a checkpoint, when `verifyBefore` took them: the verdict on the segments before
   * its segment, still on its way, so the caller can go on with the table meanwhile. The
   * caller must await it (a rejection means the files could not be read; the scan's fds
   * are then the caller's to close). Otherwise their damage is in `damage`.
   */
  verifying?: Promise<Damage[]>;
}

/**
 * Scan the log. With `from` (a checkpoint's position, checkpoint.ts), records before it
 * are only verified (framing and checksum), not replayed: the checkpoint stands for them.
 * Why verify at all: a checkpoint is never trusted over the log. Bits that rotted after
 * it was written must be reported, and the caller then rebuilds from a full scan, or a
 * start from the checkpoint would serve a changed payload that a full scan skips.
 * Verifying costs reading the files plus a CRC per record; replay, the larger part of a
 * full scan, is what the checkpoint saves (docs/benchmarks.md, RESTART).
 */
export async function scanSegments(fs: FsPort, dir: string, maxBytes: number, visit: RecordVisitor): Promise<ScanResult>;
/**
 * From a checkpoint's position: `gate` is awaited before the first record is replayed
 * (the checkpoint is still loading meanwhile); if it answers false the scan stops, closes
 * its files and returns undefined. The segments wholly before the checkpoint's are only
 * opened here, and handed to `verifyBefore` (verify-thread.ts checks them on another
 * thread; without it they are checked here first); the verdict is returned unawaited
 * (`verifying`), for the caller to await.
 */
export async function scanSegments(
  fs: FsPort, dir: string, maxBytes: number, visit: RecordVisitor, from: { segment: number; offset: number }, gate: () => Promise<boolean>,
  verifyBefore?: VerifyBefore,
): Promise<ScanResult | undefined>;
export async function scanSegments(
  fs: FsPort, dir: string, maxBytes: number, visit: RecordVisitor, from?: { segment: number; offset: number }, gate?: () => Promise<boolean>,
  verifyBefore?: VerifyBefore,
): Promise<ScanResult | undefined> {
  let gated = gate === undefined;
  const passGate = async (): Promise<boolean> => {
    if (gated) return true;
    gated = true;
    return gate!();
  };
  const names = await fs.readdir(dir);
  const numbers = names.map(parseSegmentFileName).filter((n): n is number => n !== undefined).sort((a, b) => a - b);
  const damage: Damage[] = missingSegments(numbers);
  const segments: ScanResult["segments"] = [];
  let headNo = numbers.length > 0 ? numbers[numbers.length - 1] : 1;
  let cursor = SEGMENT_HEADER_BYTES;
  // A full scan reads the next segment while this one is replayed, in a second buffer
  // (read, then replay, in turn left the loop idle). From a checkpoint this thread reads a
  // segment or two, and a second buffer would stay resident as garbage on an idle server.
  const buffers = [Buffer.alloc(0), Buffer.alloc(0)];
  const readAhead = from === undefined;
  const load = (i: number): Promise<LoadedSegment> => {
    const loading = loadSegment(fs, dir, numbers[i], maxBytes, buffers, readAhead ? i % 2 : 0);
    loading.catch(() => {}); // awaited in turn below; a failure meanwhile is not unhandled
    return loading;
  };
  // Segments [0, elsewhere) are only opened here, and verified by verifyBefore, or, when
  // it declines, here first in the scan's own buffer (as the full scan reads them).
  const elsewhere = from !== undefined ? numbers.filter((no) => no < from.segment).length : 0;
  let verifying: VerifyResult | undefined;
  let next: Promise<LoadedSegment> | undefined;
  // Leaving early: the segment being read ahead has an fd too, once its read settles.
  const abandon = async (): Promise<void> => {
    const ahead = await next?.catch(() => undefined);
    if (ahead) await fs.close(ahead.fd).catch(() => {});
    await verifying?.cancel();
    await closeAll(fs, segments);
  };
  let bytesBefore = 0;
  for (let i = 0; i < elsewhere; i++) {
    const no = numbers[i];
    const file = path.join(dir, segmentFileName(no));
    try {
      const bytes = segmentSize(await fs.size(file), maxBytes);
      segments.push({ no, path: file, fd: await fs.open(file, "r+"), bytes });
      bytesBefore += bytes;
    } catch (err) {
      await abandon();
      throw fromFsError(err, `reading segment ${no}`, { segment: no });
    }
  }
  if (elsewhere > 0) {
    const before = numbers.slice(0, elsewhere);
    verifying = verifyBefore?.(before, bytesBefore);
    verifying?.catch(() => {}); // awaited by the caller; a failure meanwhile is not unhandled
    if (verifying === undefined) {
      try {
        damage.push(...await verifySegments(fs, dir, before, maxBytes, buffers));
      } catch (err) {
        await abandon();
        throw err;
      }
    }
  }
  next = numbers.length > elsewhere ? load(elsewhere) : undefined;
  for (let i = elsewhere; i < numbers.length; i++) {
    const no = numbers[i];
    if (from !== undefined && no >= from.segment && !(await passGate())) {
      await abandon();
      return undefined;
    }
    let loaded: LoadedSegment;
    try {
      loaded = await next!;
    } catch (err) {
      next = undefined; // a failed load closed its own fd
      await abandon();
      throw err;
    }
    next = readAhead && i + 1 < numbers.length ? load(i + 1) : undefined;
    const { file, fd, size, buf } = loaded;
    segments.push({ no, path: file, fd, bytes: size });
    if (checkSegmentHeader(buf.subarray(0, SEGMENT_HEADER_BYTES)) !== no) {
      damage.push({ kind: "corrupt", segment: no, offset: 0, bytes: SEGMENT_HEADER_BYTES, reason: "bad segment header" });
    }
    const newest = no === headNo;
    let end: number;
    try {
      let start = SEGMENT_HEADER_BYTES;
      if (from !== undefined && no === from.segment) {
        scanOne(buf, from.offset, no, false, undefined, damage);
        start = from.offset;
      }
      end = scanOne(buf, size, no, newest, visit, damage, start);
    } catch (err) {
      await abandon();
      throw err;
    }
    if (newest) cursor = end;
    if (!readAhead && i + 1 < numbers.length) next = load(i + 1);
  }
  if (!(await passGate())) {
    await abandon();
    return undefined;
  }
  return { segments, headNo, cursor, damage, verifying };
}

/**
 * Gaps in the numbering of the segments on disk. Compaction only ever retires the oldest
 * segment and new ones take the next number, so a gap is always damage: files deleted or
 * lost from the middle of the log, and with them any deletes, acks and changes they held
 * (a scan without them served deleted jobs again, and said nothing).
 */
function missingSegments(numbers: readonly number[]): Damage[] {
  const gaps: Damage[] = [];
  for (let i = 1; i < numbers.length; i++) {
    const first = numbers[i - 1] + 1;
    const last = numbers[i] - 1;
    if (first > last) continue;
    const names = first === last ? segmentFileName(first) : `${segmentFileName(first)} to ${segmentFileName(last)}`;
    gaps.push({ kind: "missing", segment: first, offset: 0, bytes: 0, reason: `${names} missing between ${segmentFileName(numbers[i - 1])} and ${segmentFileName(numbers[i])}` });
  }
  return gaps;
}

/** Damage of whole segments, in log order, on its way; `cancel` stops the check early. */
export type VerifyResult = Promise<Damage[]> & { cancel(): Promise<void> };

/**
 * Verifies whole segments (framing and checksums, nothing replayed) elsewhere, given
 * their numbers and total size; undefined when it leaves them to the scan.
 */
export type VerifyBefore = (numbers: number[], bytes: number) => VerifyResult | undefined;

/**
 * Verify segments `numbers` whole, as a scan verifies those a checkpoint stands for:
 * their damage, in log order. One at a time, into buffers[0] (grown as needed): a
 * second buffer to read ahead made a 10M restart's peak RSS 64 MiB higher on the worker
 * thread, and no faster (it has time to spare beside the checkpoint load); in this thread
 * it shares the scan's buffer, which an idle server keeps as garbage until a full GC.
 */
export async function verifySegments(
  fs: FsPort, dir: string, numbers: readonly number[], maxBytes: number, buffers: Buffer[] = [Buffer.alloc(0)],
): Promise<Damage[]> {
  const damage: Damage[] = [];
  for (const no of numbers) {
    const { fd, size, buf } = await loadSegment(fs, dir, no, maxBytes, buffers, 0, "r");
    await fs.close(fd).catch(() => {});
    if (checkSegmentHeader(buf.subarray(0, SEGMENT_HEADER_BYTES)) !== no) {
      damage.push({ kind: "corrupt", segment: no, offset: 0, bytes: SEGMENT_HEADER_BYTES, reason: "bad segment header" });
    }
    scanOne(buf, size, no, false, undefined, damage);
  }
  return damage;
}

interface LoadedSegment {
  file: string;
  fd: number;
  size: number;
  /** The whole segment (a view of buffers[slot], valid until that slot is loaded again). */
  buf: Buffer;
}

/** Open segment `no` and read it whole into buffers[slot] (grown if it is too small). */
async function loadSegment(
  fs: FsPort, dir: string, no: number, maxBytes: number, buffers: Buffer[], slot: number, flags = "r+",
): Promise<LoadedSegment> {
  const file = path.join(dir, segmentFileName(no));
  let fd: number | undefined;
  try {
    fd = await fs.open(file, flags);
    const size = segmentSize(await fs.size(file), maxBytes);
    if (buffers[slot].length < size) buffers[slot] = Buffer.allocUnsafe(size);
    await readFully(fs, fd, buffers[slot], size);
    return { file, fd, size, buf: buffers[slot] };
  } catch (err) {
    if (fd !== undefined) await fs.close(fd).catch(() => {});
    throw fromFsError(err, `reading segment ${no}`, { segment: no });
  }
}

/** A failed scan returns no segment list, so nobody else would close these fds. */
async function closeAll(fs: FsPort, segments: ScanResult["segments"]): Promise<void> {
  for (const s of segments) await fs.close(s.fd).catch(() => {});
}

/**
 * A segment is as long as its file: maxBytes (every format-1 segment), or a power of two
 * of at least MIN_SEGMENT_BYTES (format 2). Any other length is a file cut short on disk:
 * it reads as zeros up to the size it must have had, as a format-1 segment always did.
 */
export function segmentSize(fileBytes: number, maxBytes: number): number {
  if (fileBytes === maxBytes) return maxBytes;
  if (fileBytes >= MIN_SEGMENT_BYTES && fileBytes < maxBytes && (fileBytes & (fileBytes - 1)) === 0) return fileBytes;
  return Math.min(maxBytes, Math.max(MIN_SEGMENT_BYTES, 2 ** Math.ceil(Math.log2(Math.max(1, fileBytes)))));
}

/** Bytes per read of a segment, and reads in flight at once. */
const READ_PIECE = 4 * 1024 * 1024;
const READS_IN_FLIGHT = 4;

/**
 * Read `length` bytes from the start of fd, a few pieces at once: one 8 MiB read at a
 * time gave 1.2 s for a 10M dir's 2.1 GB from the page cache and 2.7 s from disk on one
 * VM, four 4 MiB reads in flight 0.66 s and 1.7 s.
 */
async function readFully(fs: FsPort, fd: number, buf: Buffer, length: number): Promise<number> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < length) {
      const start = next;
      const end = Math.min(length, start + READ_PIECE);
      next = end;
      let pos = start;
      while (pos < end) {
        const n = await fs.read(fd, buf, pos, end - pos, pos);
        if (n === 0) break;
        pos += n;
      }
      // A short file (truncated on disk) reads as zeros past its end.
      if (pos < end) buf.fill(0, pos, end);
    }
  };
  await Promise.all(Array.from({ length: READS_IN_FLIGHT }, lane));
  return length;
}

/**
 * Scan one segment; returns the offset just after its last good record. Without a
 * visitor the records are only verified (those a checkpoint stands for): a TXN's parts
 * are then not walked, since its outer checksum already vouched for them (walking them
 * for nothing was ~0.25 s of a 10M restart).
 */
export function scanOne(
  buf: Buffer, limit: number, no: number, newest: boolean, visit: RecordVisitor | undefined, damage: Damage[], start = SEGMENT_HEADER_BYTES,
): number {
  const dataEnd = lastNonZero(buf, limit) + 1;
  let pos = start;
  let lastGoodEnd = pos;
  while (pos < limit) {
    const frame = checkFrame(buf, pos, limit);
    if (frame.ok) {
      if (visit !== undefined) visitRecord(buf, frame.type, frame.bodyStart, frame.end, no, pos, visit);
      pos = frame.end;
      lastGoodEnd = pos;
      continue;
    }
    if (pos >= dataEnd) break; // zero-filled tail: the end of this segment's records
    const found = findNextFrame(buf, pos + 1, dataEnd, limit);
    const next = found === undefined ? undefined : resumeAfter(buf, pos, found, dataEnd, limit);
    if (lostSectors(buf, pos, next ?? dataEnd)) {
      // Sectors a power cut kept from the disk. Segments are written once over zeros, and
      // a synced write makes every byte before it in its file durable, so nothing after
      // this gap in this segment was ever synced (in fsync mode: never acknowledged). It
      // is not replayed: it may begin inside a TXN whose header was in the gap, and its
      // inner records alone would apply half a group (a fail's META without its ERROR,
      // part of a bulk insert). Found by test/storage/power-loss.test.ts.
      damage.push({ kind: newest ? "torn" : "corrupt", segment: no, offset: pos, bytes: dataEnd - pos, reason: "lost sectors" });
      break;
    }
    if (next === undefined) {
      const kind = newest ? "torn" : "corrupt";
      damage.push({ kind, segment: no, offset: pos, bytes: dataEnd - pos, reason: frame.reason });
      break;
    }
    damage.push({ kind: "corrupt", segment: no, offset: pos, bytes: next - pos, reason: frame.reason });
    pos = next;
  }
  return lastGoodEnd;
}

/** Sector size a power cut tears writes at. */
const SECTOR_BYTES = 512;

/**
 * Does the damage from `pos` (a record boundary) to `end` (where the scan would resume)
 * hold a gap a power cut leaves: zeros from `pos` past a header's worth up to a sector
 * boundary, or a whole sector of zeros? No record holds a sector of zeros (a PAD does,
 * but a damaged one is itself a write cut short), nor starts with zeros (its length and
 * type); a zeroed header inside one sector (bit rot, test/storage/recover.test.ts) is
 * corruption to skip, as before. Only damaged stretches are looked at: no cost on a clean log.
 */
function lostSectors(buf: Buffer, pos: number, end: number): boolean {
  const zeros = (from: number, to: number): boolean => {
    for (let i = from; i < to; i++) if (buf[i] !== 0) return false;
    return true;
  };
  // Past the whole header: a zeroed header that only touches a boundary is not a gap.
  const boundary = Math.ceil((pos + RECORD_HEADER_BYTES) / SECTOR_BYTES) * SECTOR_BYTES;
  if (boundary <= buf.length && zeros(pos, boundary)) return true;
  // A header straddling a sector boundary whose bytes before it are all zeros: the sector
  // holding its start was lost and the next one (the rest of the header, a TXN's first
  // records) kept. Taken for corruption, the scan resumed inside the TXN and replayed half
  // of it (test/storage/torn-txn-header.test.ts). A valid header may start with a zero
  // byte or two (a length that is a multiple of 256), but this one failed its check.
  const sectorEnd = (Math.floor(pos / SECTOR_BYTES) + 1) * SECTOR_BYTES;
  if (sectorEnd < pos + RECORD_HEADER_BYTES && zeros(pos, sectorEnd)) return true;
  for (let at = Math.ceil(pos / SECTOR_BYTES) * SECTOR_BYTES; at + SECTOR_BYTES <= end; at += SECTOR_BYTES) {
    if (zeros(at, at + SECTOR_BYTES)) return true;
  }
  return false;
}

function visitRecord(buf: Buffer, type: number, bodyStart: number, end: number, no: number, offset: number, visit: RecordVisitor): void {
  if (type === RECORD_PAD) return;
  if (type !== RECORD_TXN) {
    visit(type, buf, bodyStart, end, no, offset);
    return;
  }
  // The outer checksum already vouched for these bytes (so inner checksums are not
  // computed again: every bulk enqueue is a TXN); a bad inner frame means a bug in the
  // writer, so it stops the transaction rather than guessing.
  let pos = bodyStart;
  while (pos < end) {
    const inner = checkFrame(buf, pos, end, false);
    if (!inner.ok || inner.type === RECORD_TXN) break;
    visit(inner.type, buf, inner.bodyStart, inner.end, no, pos);
    pos = inner.end;
  }
}

/**
 * Where scanning resumes after a bad record at `pos`, given `found`, the first valid frame
 * after it (undefined: nothing valid is left in this segment).
 *
 * Why not simply `found`: a TXN's body is itself a run of valid frames, so `found` may be
 * the first record *inside* the damaged TXN. Resuming there would replay part of a group
 * that must apply whole or not at all: a torn bulk insert at the tail would bring back its
 * first jobs, a rotted fail() would keep its META without its ERROR. So when `found` lies
 * inside the extent the bad header claims (or right at its body):
 *  - if the stored checksum fits the record cut at some later frame boundary, only the
 *    length field was damaged: resume at that boundary;
 *  - otherwise trust the length and skip the whole claimed record; a claim that reaches
 *    the end of the data means nothing after it in this segment is outside the record.
 */
function resumeAfter(buf: Buffer, pos: number, found: number, dataEnd: number, limit: number): number | undefined {
  const bodyStart = pos + RECORD_HEADER_BYTES;
  const claimedEnd = bodyStart + buf.readUInt32LE(pos);
  if (found >= claimedEnd && found !== bodyStart) return found;
  const stored = buf.readUInt32LE(pos + 5);
  let crc = crc32(buf.subarray(bodyStart, found), crc32(buf.subarray(pos + 4, pos + 5)));
  for (let at = found; ;) {
    if (crc === stored && at > bodyStart) return at;
    const frame = checkFrame(buf, at, limit);
    if (!frame.ok) break;
    crc = crc32(buf.subarray(at, frame.end), crc);
    at = frame.end;
  }
  if (claimedEnd > limit) return found; // neither length nor checksum to go by
  if (claimedEnd >= dataEnd) return undefined;
  return findNextFrame(buf, claimedEnd, dataEnd, limit);
}

/** The first offset in [from, dataEnd) where a valid record starts. */
function findNextFrame(buf: Buffer, from: number, dataEnd: number, limit: number): number | undefined {
  for (let q = from; q < dataEnd && q + RECORD_HEADER_BYTES <= limit; q++) {
    const type = buf[q + 4];
    if (type === 0 || type > MAX_RECORD_TYPE) continue;
    if (q + RECORD_HEADER_BYTES + buf.readUInt32LE(q) > limit) continue;
    if (checkFrame(buf, q, limit).ok) return q;
  }
  return undefined;
}

function lastNonZero(buf: Buffer, limit: number): number {
  // Word-at-a-time from the end: segments are mostly zero-filled tail.
  let i = limit - 1;
  if (buf.byteOffset % 4 === 0) {
    const words = new Uint32Array(buf.buffer, buf.byteOffset, limit >>> 2);
    while (i >= 0 && ((i + 1) & 3) !== 0) { if (buf[i] !== 0) return i; i--; }
    let w = (i + 1) >>> 2;
    while (w > 0 && words[w - 1] === 0) w--;
    i = w * 4 - 1;
  }
  while (i >= 0) { if (buf[i] !== 0) return i; i--; }
  return -1;
}
