/**
 * Splits the server's byte stream into whole messages (tag + Int32 length +
 * body). A message split across chunks is joined into its own buffer; a
 * message within one chunk is a view of it (Node never reuses socket chunks).
 */
export class BackendFramer {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  push(chunk: Buffer, onFrame: (tag: number, frame: Buffer) => void): void {
    let buf = chunk;
    if (this.pendingBytes) {
      buf = Buffer.concat([...this.pending, chunk]);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let offset = 0;
    while (buf.length - offset >= 5) {
      const length = buf.readUInt32BE(offset + 1);
      if (length < 4) throw new Error(`the server sent a message with length ${length}`);
      const end = offset + 1 + length;
      if (end > buf.length) break;
      onFrame(buf[offset]!, buf.subarray(offset, end));
      offset = end;
    }
    if (offset < buf.length) {
      this.pending.push(buf.subarray(offset));
      this.pendingBytes += buf.length - offset;
    }
  }
}

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

export interface ColumnInfo { name: string; typeOid: number; binary: boolean }

/** The columns of a RowDescription ('T') frame. */
export function readRowDescription(frame: Buffer): ColumnInfo[] {
  const count = frame.readUInt16BE(5);
  const columns: ColumnInfo[] = [];
  let offset = 7;
  for (let i = 0; i < count; i++) {
    const nul = frame.indexOf(0, offset);
    const name = frame.toString('utf8', offset, nul);
    offset = nul + 1;
    const typeOid = frame.readUInt32BE(offset + 6);
    const format = frame.readInt16BE(offset + 16);
    columns.push({ name, typeOid, binary: format === 1 });
    offset += 18;
  }
  return columns;
}
