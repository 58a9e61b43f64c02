/**
 * Bounds-checked reader over one frame's body. Unlike pg-protocol's BufferReader,
 * which trusts the server, every read here checks the frame's end because the
 * bytes come from an untrusted client: a read past the end throws BadFrame, which
 * the parser turns into a protocol violation. Nothing else is ever thrown.
 */

/** Internal: a frame's body does not match its declared length. Never leaves FrontendParser. */
export class BadFrame extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadFrame';
  }
}

export class BodyReader {
  private offset = 0;

  /** `body` must end where the frame ends, so indexOf cannot see the next frame. */
  constructor(private readonly body: Buffer) {}

  public get remaining(): number {
    return this.body.length - this.offset;
  }

  private need(n: number, what: string): void {
    if (this.body.length - this.offset < n) {
      throw new BadFrame(`message too short for ${what}`);
    }
  }

  public byte(what: string): number {
    this.need(1, what);
    return this.body[this.offset++] as number;
  }

  public uint16(what: string): number {
    this.need(2, what);
    const v = this.body.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  public int16(what: string): number {
    this.need(2, what);
    const v = this.body.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  public int32(what: string): number {
    this.need(4, what);
    const v = this.body.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  public uint32(what: string): number {
    this.need(4, what);
    const v = this.body.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  /** A NUL-terminated UTF-8 string; a missing terminator is a bad frame, not a read into the next one. */
  public cstring(what: string): string {
    const end = this.body.indexOf(0, this.offset);
    if (end < 0) {
      throw new BadFrame(`unterminated string in ${what}`);
    }
    const s = this.body.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return s;
  }

  /** The bytes of a NUL-terminated string (a view), for a caller that decodes them in the session's encoding. */
  public cstringBytes(what: string): Buffer {
    const end = this.body.indexOf(0, this.offset);
    if (end < 0) {
      throw new BadFrame(`unterminated string in ${what}`);
    }
    const b = this.body.subarray(this.offset, end);
    this.offset = end + 1;
    return b;
  }

  /** A view, not a copy: the gateway forwards these bytes and copying would cost. */
  public bytes(n: number, what: string): Buffer {
    if (n < 0) {
      throw new BadFrame(`negative length in ${what}`);
    }
    this.need(n, what);
    const b = this.body.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }

  public rest(): Buffer {
    const b = this.body.subarray(this.offset);
    this.offset = this.body.length;
    return b;
  }

  /** PostgreSQL rejects trailing bytes too (pq_getmsgend); so do we, so the two never disagree. */
  public end(what: string): void {
    if (this.offset !== this.body.length) {
      throw new BadFrame(`invalid ${what} message format: ${this.body.length - this.offset} trailing bytes`);
    }
  }
}
