// On-disk constants: magic, versions, header sizes and record type numbers.
// The byte layout is documented in docs/format.md; change both together, and keep a
// reader (plus a golden fixture) for every format version ever written.

/** Version in every segment header (the segment and record layout: unchanged since 1). */
export const FORMAT_VERSION = 1;
/**
 * meta.json's `format`. 2: segments may be any size up to segment_bytes (each is as long
 * as its file). 1: every segment was exactly segment_bytes; a format-1 dir is read as is
 * and marked 2 on open, so an older build refuses it instead of misreading short files.
 */
export const DIR_FORMAT_VERSION = 2;
export const READABLE_DIR_FORMATS: readonly number[] = [1, 2];
export const SEGMENT_MAGIC = Buffer.from("ZIZQSEG1", "latin1");
export const SEGMENT_HEADER_BYTES = 32;
export const RECORD_HEADER_BYTES = 9;

/** Smallest segment we allow: small ones are for tests; real ones grow from 2 MiB to 64 MiB. */
export const MIN_SEGMENT_BYTES = 64 * 1024;
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

export const RECORD_UNUSED = 0;
export const RECORD_JOB = 1;
export const RECORD_META = 2;
export const RECORD_DELETE = 3;
export const RECORD_ERROR = 4;
export const RECORD_RESET = 5;
export const RECORD_BLOB = 6;
export const RECORD_BLOB_DELETE = 7;
export const RECORD_TXN = 8;
/** Filler with a valid checksum: covers the bytes of a write that failed, so the log stays parseable. */
export const RECORD_PAD = 9;
export const MAX_RECORD_TYPE = 9;

export const ID_BYTES = 25;
export const META_FIXED_BYTES = 81;

export const FLAG_DEQUEUED_AT = 1;
export const FLAG_FAILED_AT = 2;
export const FLAG_COMPLETED_AT = 4;
export const FLAG_PURGE_AT = 8;

// Status numbers as stored; the queue layer owns their names and rules.
export const STATUS_SCHEDULED = 0;
export const STATUS_READY = 1;
export const STATUS_IN_FLIGHT = 2;
export const STATUS_COMPLETED = 3;
export const STATUS_DEAD = 4;
/** In memory only: a free slab slot. Never written. */
export const STATUS_FREE = 255;

export const BLOB_NAMESPACE_CRON = 1;
/** Paused queues (lib/queue/pauses.ts): key = queue name. */
export const BLOB_NAMESPACE_QUEUE = 2;
export const BLOB_NAMESPACE_BUDGET = 3;
