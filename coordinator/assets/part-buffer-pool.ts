/**
 * Why this file exists: every part Fetch sends used a new 1 MiB buffer, and
 * on the coordinator these short-lived buffers, counted by V8 as external
 * memory, were what set off most of its full garbage collections during a
 * transfer. A call keeps the few buffers its parts take in turn (the part
 * being read and the ones grpc-js has not written yet) and reuses them once
 * grpc-js reports a part written.
 */
export class PartBufferPool {
  private readonly free: Buffer[] = [];

  /** Buffers of `capacity` bytes; at most `keep` are kept free. */
  constructor(
    private readonly capacity: number,
    private readonly keep = 8,
  ) {}

  /** A buffer of `capacity` bytes, not in use elsewhere, with arbitrary contents. */
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.capacity);
  }

  /** Hands back a buffer that nothing reads or writes any more. */
  give(buf: Buffer): void {
    if (buf.length === this.capacity && this.free.length < this.keep && !this.free.includes(buf)) this.free.push(buf);
  }
}
