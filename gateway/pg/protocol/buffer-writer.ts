/**
 * Growable writer for one tagged message, in the manner of pg-protocol's Writer
 * (which is internal to that package, so not imported). A fresh writer per
 * message, so a returned Buffer is never overwritten by a later message.
 */
export class Writer {
  private buffer: Buffer;
  private offset: number;

  /** `tag` 0 writes an untagged (startup-phase) packet: the length then counts itself and the body only. */
  constructor(
    private readonly tag: number,
    size = 64,
  ) {
    this.buffer = Buffer.allocUnsafe(Math.max(size, 8));
    this.offset = tag === 0 ? 4 : 5;
  }

  private ensure(n: number): void {
    if (this.buffer.length - this.offset < n) {
      const grown = Buffer.allocUnsafe(this.buffer.length + (this.buffer.length >> 1) + n);
      this.buffer.copy(grown, 0, 0, this.offset);
      this.buffer = grown;
    }
  }

  public int32(n: number): this {
    this.ensure(4);
    // Through the unsigned form so OIDs above 2^31 and -1 both fit without RangeError.
    this.buffer.writeUInt32BE(n >>> 0, this.offset);
    this.offset += 4;
    return this;
  }

  public int16(n: number): this {
    this.ensure(2);
    this.buffer.writeUInt16BE(n & 0xffff, this.offset);
    this.offset += 2;
    return this;
  }

  /** A count written as Int16: refuses what would wrap, rather than sending a wrong frame. */
  public count(n: number, what: string): this {
    if (n > 0xffff) throw new RangeError(`too many ${what}: ${n} (at most 65535)`);
    return this.int16(n);
  }

  public byte(n: number): this {
    this.ensure(1);
    this.buffer[this.offset++] = n;
    return this;
  }

  /** A NUL inside would end the string early and misframe the rest, so it is refused. */
  public cstring(s: string): this {
    if (s.includes('\0')) throw new RangeError('string for a protocol C string contains NUL');
    const len = Buffer.byteLength(s);
    this.ensure(len + 1);
    this.buffer.write(s, this.offset, len, 'utf8');
    this.offset += len;
    this.buffer[this.offset++] = 0;
    return this;
  }

  public bytes(b: Buffer | string): this {
    if (typeof b === 'string') {
      const len = Buffer.byteLength(b);
      this.ensure(len);
      this.buffer.write(b, this.offset, len, 'utf8');
      this.offset += len;
    } else {
      this.ensure(b.length);
      b.copy(this.buffer, this.offset);
      this.offset += b.length;
    }
    return this;
  }

  public finish(): Buffer {
    if (this.tag === 0) {
      this.buffer.writeInt32BE(this.offset, 0);
    } else {
      this.buffer[0] = this.tag;
      this.buffer.writeInt32BE(this.offset - 1, 1);
    }
    return this.buffer.subarray(0, this.offset);
  }
}
