import { isUtf8 } from 'node:buffer';

/**
 * How SSH byte payloads are recorded: `data` is the bytes as a UTF-8 string
 * when they are valid UTF-8 (`encoding: 'utf8'`), base64 otherwise
 * (`encoding: 'base64'`); `bytes` is always the raw length. A reader decodes
 * each event back to bytes and concatenates them per channel and stream.
 */
export interface RecordedBytes {
  data: string;
  encoding: 'utf8' | 'base64';
  bytes: number;
}

export function recordBytes(buf: Buffer): RecordedBytes {
  return isUtf8(buf)
    ? { data: buf.toString('utf8'), encoding: 'utf8', bytes: buf.length }
    : { data: buf.toString('base64'), encoding: 'base64', bytes: buf.length };
}

export function decodeRecordedBytes(rec: RecordedBytes): Buffer {
  return Buffer.from(rec.data, rec.encoding);
}
