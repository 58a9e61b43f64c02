import type { MaskCounts, SessionMasker } from '../policy/index.js';
import { readDataRow, writeDataRow, type ColumnInfo } from './frames.js';

/** Types whose binary form is their text (UTF-8), so a mask can keep the binary format. */
const TEXT_LIKE = new Set([25 /* text */, 1043 /* varchar */, 1042 /* bpchar */, 19 /* name */, 114 /* json */, 705 /* unknown */, 18 /* char */]);

/**
 * Masks result rows before they reach the client or the recording. A column
 * rule replaces the whole value; pattern and built-in rules replace what they
 * find inside text values. A masked value keeps the protocol's promises: in
 * text format it becomes the replacement text; in binary format a text-like
 * type carries the replacement as UTF-8, and any other type becomes NULL
 * (an integer cannot hold "[masked]").
 */
export class RowMasker {
  private columns: ColumnInfo[] = [];
  private columnRules: (string | undefined)[] = [];
  counts: MaskCounts = {};

  constructor(private readonly masker: SessionMasker) {}

  describe(columns: ColumnInfo[]): void {
    this.columns = columns;
    this.columnRules = this.masker.columnRules(columns.map((c) => c.name));
    this.counts = {};
  }

  /** Returns the frame itself when nothing in it is sensitive. */
  mask(frame: Buffer): Buffer {
    const values = readDataRow(frame);
    let changed = false;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (!value) continue;
      const column = this.columns[i];
      const textual = !column?.binary || TEXT_LIKE.has(column.typeOid);
      const rule = this.columnRules[i];
      if (rule) {
        values[i] = textual ? Buffer.from(this.masker.replacementFor(rule)) : null;
        this.counts[rule] = (this.counts[rule] ?? 0) + 1;
        changed = true;
      } else if (textual) {
        const { text, counts } = this.masker.maskText(value.toString('utf8'));
        const rules = Object.keys(counts);
        if (rules.length) {
          values[i] = Buffer.from(text);
          for (const r of rules) this.counts[r] = (this.counts[r] ?? 0) + counts[r]!;
          changed = true;
        }
      }
    }
    return changed ? writeDataRow(values) : frame;
  }

  /** COPY TO STDOUT rows: pattern rules over the text (column rules refuse such a COPY up front). */
  maskCopyData(frame: Buffer): Buffer {
    const { text, counts } = this.masker.maskText(frame.toString('utf8', 5));
    if (!Object.keys(counts).length) return frame;
    for (const [r, n] of Object.entries(counts)) this.counts[r] = (this.counts[r] ?? 0) + n;
    const body = Buffer.from(text);
    const out = Buffer.allocUnsafe(5 + body.length);
    out[0] = 0x64; // 'd'
    out.writeUInt32BE(4 + body.length, 1);
    body.copy(out, 5);
    return out;
  }

  /**
   * ErrorResponse / NoticeResponse: their texts may quote data (a unique
   * violation's DETAIL names the key value): pattern rules apply to every field.
   */
  maskNotice(frame: Buffer): Buffer {
    let changed = false;
    const parts: Buffer[] = [frame.subarray(0, 5)];
    let offset = 5;
    while (offset < frame.length && frame[offset] !== 0) {
      const end = frame.indexOf(0, offset + 1);
      const { text, counts } = this.masker.maskText(frame.toString('utf8', offset + 1, end));
      if (Object.keys(counts).length) {
        changed = true;
        parts.push(Buffer.from([frame[offset]!]), Buffer.from(text), Buffer.from([0]));
      } else {
        parts.push(frame.subarray(offset, end + 1));
      }
      offset = end + 1;
    }
    if (!changed) return frame;
    parts.push(Buffer.from([0]));
    const out = Buffer.concat(parts);
    out.writeUInt32BE(out.length - 1, 1);
    return out;
  }

  /** The counts of the result that just ended, and a fresh start for the next. */
  take(): MaskCounts {
    const counts = this.counts;
    this.counts = {};
    return counts;
  }
}
