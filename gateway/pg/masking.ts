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

  /** The counts of the result that just ended, and a fresh start for the next. */
  take(): MaskCounts {
    const counts = this.counts;
    this.counts = {};
    return counts;
  }
}
