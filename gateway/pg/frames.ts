/**
 * Splits the server's byte stream into whole messages (tag + Int32 length +
 * body). A message split across chunks is joined into its own buffer; a
 * message within one chunk is a view of it (Node never reuses socket chunks).
 *
 * Two ways to read: `push` with a callback, or `load` a chunk and take its
 * messages with `next` until it returns undefined (no callback per chunk).
 */
export class BackendFramer {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private buf: Buffer = EMPTY;
  private offset = 0;

  push(chunk: Buffer, onFrame: (tag: number, frame: Buffer) => void): void {
    this.load(chunk);
    for (let frame = this.next(); frame !== undefined; frame = this.next()) onFrame(frame[0]!, frame);
  }

  /** Starts on a chunk; its messages (and the one it completes) come from `next`. */
  load(chunk: Buffer): void {
    if (this.offset < this.buf.length) {
      // The previous chunk was not read to its end: keep its rest first.
      this.pending.push(this.buf.subarray(this.offset));
      this.pendingBytes += this.buf.length - this.offset;
    }
    let buf = chunk;
    if (this.pendingBytes) {
      buf = Buffer.concat([...this.pending, chunk]);
      this.pending = [];
      this.pendingBytes = 0;
    }
    this.buf = buf;
    this.offset = 0;
  }

  /** The next whole message of the loaded chunk; undefined when none is left (a partial one waits for the next chunk). */
  next(): Buffer | undefined {
    const buf = this.buf;
    const offset = this.offset;
    if (buf.length - offset < 5) return this.rest();
    const length = buf.readUInt32BE(offset + 1);
    if (length < 4) {
      this.buf = EMPTY;
      this.offset = 0;
      throw new Error(`the server sent a message with length ${length}`);
    }
    const end = offset + 1 + length;
    if (end > buf.length) return this.rest();
    this.offset = end;
    return buf.subarray(offset, end);
  }

  private rest(): undefined {
    if (this.offset < this.buf.length) {
      this.pending.push(this.buf.subarray(this.offset));
      this.pendingBytes += this.buf.length - this.offset;
    }
    this.buf = EMPTY;
    this.offset = 0;
    return undefined;
  }
}

const EMPTY = Buffer.alloc(0);

/** The values of a DataRow ('D') frame: null or the bytes as sent. */
export function readDataRow(frame: Buffer): (Buffer | null)[] {
  const count = frame.readUInt16BE(5);
  const values: (Buffer | null)[] = new Array(count);
  let offset = 7;
  for (let i = 0; i < count; i++) {
    const len = frame.readInt32BE(offset);
    offset += 4;
    if (len < 0) {
      values[i] = null;
    } else {
      values[i] = frame.subarray(offset, offset + len);
      offset += len;
    }
  }
  return values;
}

export function writeDataRow(values: (Buffer | null)[]): Buffer {
  let size = 7;
  for (const v of values) size += 4 + (v ? v.length : 0);
  const out = Buffer.allocUnsafe(size);
  out[0] = 0x44; // 'D'
  out.writeUInt32BE(size - 1, 1);
  out.writeUInt16BE(values.length, 5);
  let offset = 7;
  for (const v of values) {
    if (v === null) {
      out.writeInt32BE(-1, offset);
      offset += 4;
    } else {
      out.writeInt32BE(v.length, offset);
      v.copy(out, offset + 4);
      offset += 4 + v.length;
    }
  }
  return out;
}

export interface ColumnInfo {
  name: string;
  typeOid: number;
  binary: boolean;
  /** Where the column comes from, when it is a table column: the table's OID and the column's number (else 0, 0). */
  tableOid: number;
  attnum: number;
}

/** The columns of a RowDescription ('T') frame. */
export function readRowDescription(frame: Buffer): ColumnInfo[] {
  const count = frame.readUInt16BE(5);
  const columns: ColumnInfo[] = [];
  let offset = 7;
  for (let i = 0; i < count; i++) {
    const nul = frame.indexOf(0, offset);
    const name = frame.toString('utf8', offset, nul);
    offset = nul + 1;
    const tableOid = frame.readUInt32BE(offset);
    const attnum = frame.readInt16BE(offset + 4);
    const typeOid = frame.readUInt32BE(offset + 6);
    const format = frame.readInt16BE(offset + 16);
    columns.push({ name, typeOid, binary: format === 1, tableOid, attnum });
    offset += 18;
  }
  return columns;
}
