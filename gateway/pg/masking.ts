import type { SessionMasker } from '../policy/index.js';
import { readDataRow, writeDataRow, type ColumnInfo } from './frames.js';

/** Types whose binary form is their text (UTF-8), so a mask can keep the binary format. */
const TEXT_LIKE = new Set([25 /* text */, 1043 /* varchar */, 1042 /* bpchar */, 19 /* name */, 114 /* json */, 705 /* unknown */, 18 /* char */]);

/** Values masked in one result: by column when a row value was masked, without one in COPY data and notices. */
export interface MaskedField {
  column?: string;
  rule: string;
  count: number;
}

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
  /** Counts of the current result, keyed by column index (-1: no column) and rule. */
  private counts = new Map<number, Map<string, number>>();

  constructor(private readonly masker: SessionMasker) {}

  describe(columns: ColumnInfo[]): void {
    this.columns = columns;
    this.columnRules = this.masker.columnRules(columns.map((c) => c.name));
    this.counts.clear();
  }

  private count(column: number, rule: string, n: number): void {
    let rules = this.counts.get(column);
    if (!rules) this.counts.set(column, (rules = new Map()));
    rules.set(rule, (rules.get(rule) ?? 0) + n);
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
        this.count(i, rule, 1);
        changed = true;
      } else if (textual) {
        const { text, counts } = this.masker.maskText(value.toString('utf8'));
        const rules = Object.keys(counts);
        if (rules.length) {
          values[i] = Buffer.from(text);
          for (const r of rules) this.count(i, r, counts[r]!);
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
    for (const [r, n] of Object.entries(counts)) this.count(-1, r, n);
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

  /** Which fields of the result that just ended were masked by which rule, and a fresh start for the next. */
  take(): MaskedField[] {
    if (this.counts.size === 0) return [];
    const out: MaskedField[] = [];
    for (const [i, rules] of [...this.counts].sort((a, b) => a[0] - b[0])) {
      const column = i >= 0 ? this.columns[i]?.name ?? `#${i}` : undefined;
      for (const [rule, count] of rules) out.push(column === undefined ? { rule, count } : { column, rule, count });
    }
    this.counts.clear();
    return out;
  }
}
