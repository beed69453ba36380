// Storage failures carry a kind, and where they can, the segment and byte offset, so an
// operator can find the damage (STYLE.md §5). Recovery never throws these for expected
// damage: it returns a report instead (recover.ts).

/**
 * `stale`: a rewrite's job changed since the caller planned it (see Store.insert).
 * `no_files`: the process is at its open-file limit (EMFILE, ENFILE); like `full`, it
 * passes once files are closed, and nothing was written.
 */
export type StorageErrorKind = "corrupt" | "io" | "full" | "no_files" | "locked" | "too_large" | "stale";

export class StorageError extends Error {
  readonly kind: StorageErrorKind;
  readonly segment?: number;
  readonly offset?: number;
  constructor(kind: StorageErrorKind, message: string, where?: { segment?: number; offset?: number; cause?: unknown }) {
    super(message, where?.cause === undefined ? undefined : { cause: where.cause });
    this.name = "StorageError";
    this.kind = kind;
    this.segment = where?.segment;
    this.offset = where?.offset;
  }
}

/** Map an errno error from the fs port onto a storage error kind. */
export function fromFsError(err: unknown, what: string, where?: { segment?: number; offset?: number }): StorageError {
  if (err instanceof StorageError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  const kind = code === "ENOSPC" || code === "EDQUOT" ? "full" : code === "EMFILE" || code === "ENFILE" ? "no_files" : "io";
  return new StorageError(kind, `${what}: ${(err as Error)?.message ?? String(err)}`, { ...where, cause: err });
}
