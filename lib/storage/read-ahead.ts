// Sequential reads of a file in large blocks, the next block read while the caller works
// on this one. Why: a checkpoint load read each chunk's frame header, then the frame, one
// thread-pool round trip at a time, behind the segment reads queued on the same pool;
// the loop sat idle for a third of a 10M restart waiting on ~10,000 small reads.

import type { FsPort } from "./fs-port.ts";

const BLOCK_BYTES = 8 * 1024 * 1024;
/** Room before each block for the bytes of the window still unread when it arrives. */
const CARRY_BYTES = 4 * 1024 * 1024;

export class ReadAhead {
  /** Two buffers in turn: the window is in one while the next block is read into the other. */
  private readonly buffers: Buffer[];
  private readonly block: number;
  private current = 0;
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;
  /** The block at windowEnd, being read into the other buffer after `carry` bytes. */
  private pending: Promise<number> | undefined;

  private readonly carry: number;

  constructor(
    private readonly fs: FsPort, private readonly fd: number, private readonly size: number,
    sizes: { block: number; carry: number } = { block: BLOCK_BYTES, carry: CARRY_BYTES },
  ) {
    // A thirty-second of the file, within [256 KiB, block]: the buffers are garbage once the
    // load ends but stay resident until a full GC, which an idle server may not run for a
    // long time (two 8 MiB blocks kept a restarted 1M-job server ~30 MB larger).
    this.block = Math.max(1, Math.min(sizes.block, size, Math.max(256 * 1024, Math.ceil(size / 32))));
    this.carry = sizes.carry;
    this.buffers = [Buffer.allocUnsafe(this.carry + this.block), Buffer.allocUnsafe(this.carry + this.block)];
  }

  private get windowEnd(): number {
    return this.windowStart + this.window.length;
  }

  /**
   * The `length` bytes at `position` (forward of the last call's position), or undefined
   * when the file ends before them. The view is valid until the next call.
   */
  async take(position: number, length: number): Promise<Buffer | undefined> {
    if (position < this.windowStart || position + length > this.size) return undefined;
    while (position + length > this.windowEnd) if (!(await this.advance(position, length))) return undefined;
    return this.window.subarray(position - this.windowStart, position - this.windowStart + length);
  }

  /**
   * Drop what is before `position`, and add the next block after what is left. False
   * when nothing was added: the file is shorter now than when it was measured.
   */
  private async advance(position: number, length: number): Promise<boolean> {
    if (position > this.windowEnd) {
      // A jump past the window: the block being read ahead is not wanted (and is being
      // written into the buffer the next read would use).
      await this.settle();
      this.pending = undefined;
      this.window = this.window.subarray(0, 0);
      this.windowStart = position;
    }
    const keep = this.window.subarray(Math.min(this.window.length, position - this.windowStart));
    const from = this.windowEnd;
    if (keep.length > this.carry || length > this.carry + this.block) {
      // One record larger than the buffers (a chunk with big options): read it alone. The
      // block read ahead is not wanted, but it is being written into the buffer the next
      // block goes to: let it finish first, or it can land over that block (reads finish
      // out of order on a busy thread pool: wrong bytes, a damaged checkpoint chunk).
      await this.settle();
      this.pending = undefined;
      const big = Buffer.allocUnsafe(length);
      keep.copy(big);
      const n = await this.readFully(big, keep.length, length - keep.length, from);
      this.window = big.subarray(0, keep.length + n);
      this.windowStart = position;
      return n > 0;
    }
    const next = 1 - this.current;
    const n = await (this.pending ?? this.readBlock(next, from));
    const buf = this.buffers[next];
    keep.copy(buf, this.carry - keep.length);
    this.window = buf.subarray(this.carry - keep.length, this.carry + n);
    this.windowStart = position;
    this.current = next;
    // The buffer the window has left is free: read the block after this one into it.
    const after = this.windowEnd;
    this.pending = after < this.size ? this.readBlock(1 - next, after) : undefined;
    this.pending?.catch(() => {}); // awaited by the next advance, or by settle()
    return n > 0;
  }

  private readBlock(slot: number, position: number): Promise<number> {
    return this.readFully(this.buffers[slot], this.carry, Math.min(this.block, this.size - position), position);
  }

  private async readFully(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    let done = 0;
    while (done < length) {
      const n = await this.fs.read(this.fd, buf, offset + done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  /** Wait for a read still in flight (before the fd is closed). */
  async settle(): Promise<void> {
    await this.pending?.catch(() => {});
  }
}
