// Interned strings with reference counts: queue and type names are stored once and
// referenced by a small integer from every job that uses them. A name whose count
// drops to zero is no longer listed (GET /queues), and its index is reused.

export class NameTable {
  private readonly byName = new Map<string, number>();
  private readonly names: (string | undefined)[] = [];
  /** UTF-8 byte length of each name: what a record spends on it (the completion reserve). */
  private readonly byteLengths: number[] = [];
  private readonly refs: number[] = [];
  private readonly free: number[] = [];
  /** Called with a name's index when its last reference goes (the index may be reused). */
  private readonly onFree: ((i: number) => void) | undefined;

  constructor(onFree?: (i: number) => void) {
    this.onFree = onFree;
  }

  intern(name: string): number {
    let i = this.byName.get(name);
    if (i === undefined) {
      i = this.free.pop() ?? this.names.length;
      this.names[i] = name;
      this.byteLengths[i] = Buffer.byteLength(name);
      this.refs[i] = 0;
      this.byName.set(name, i);
    }
    this.refs[i]++;
    return i;
  }

  /** `count` more references to a name in use (a checkpoint's jobs, in one step). */
  retain(i: number, count: number): void {
    this.refs[i] += count;
  }

  release(i: number): void {
    if (--this.refs[i] > 0) return;
    this.byName.delete(this.names[i]!);
    this.names[i] = undefined;
    this.free.push(i);
    this.onFree?.(i);
  }

  name(i: number): string {
    return this.names[i]!;
  }

  /** UTF-8 bytes of the name at `i` (as a record encodes it). */
  bytes(i: number): number {
    return this.byteLengths[i];
  }

  /** Index of a name in use, or undefined. */
  lookup(name: string): number | undefined {
    return this.byName.get(name);
  }

  /** Names in use, sorted by byte order. */
  sorted(): string[] {
    return [...this.byName.keys()].sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
  }
}
