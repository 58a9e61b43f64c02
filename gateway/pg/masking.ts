import type { MaskCounts, SessionMasker } from '../policy/index.js';
import { readBinary, TEXT_LIKE } from './binary-values.js';
import type { ClientEncoding } from './encoding.js';
import { readDataRow, readRowDescription, writeDataRow, type ColumnInfo } from './frames.js';
import { MaskCounter, type MaskedField } from './mask-counter.js';
import type { DescribedColumns } from './statements.js';

export type { MaskedField } from './mask-counter.js';

/** The rule name counted for a binary value the gateway could not read while pattern rules apply (masked, fail closed). */
export const UNDECODABLE_RULE = 'undecodable-binary';
const BYTEA = 17;
/** Types whose values are joined with their neighbours' to find a sensitive value split across columns. */
const NOT_JOINED = new Set([16, 20, 21, 23, 26, 700, 701, 1700, 790, 1082, 1083, 1114, 1184, 1186, 1266]);

export interface RowMaskerOptions {
  masker: SessionMasker;
  /** The second line of masking by provenance: the rule protecting a table column (RowDescription's table OID, attribute number). */
  protectedColumn: (tableOid: number, attnum: number) => string | undefined;
  /** Whether pattern or built-in rules exist: then a value that cannot be read is masked. */
  masksText: boolean;
  encoding: ClientEncoding;
}

/** One value as the pattern rules read it, and how a mask is written back. */
interface Readable { text: string; kind: 'text' | 'bytea-hex' | 'bytes' | 'value' }

/**
 * Masks result rows before they reach the client or the recording.
 * - A column rule (by result column name, or by the table column the
 *   RowDescription names) replaces the whole value.
 * - Pattern and built-in rules replace what they find inside each value, in text
 *   format and in binary format (read by type: text-like as text, bytea as bytes,
 *   numbers and dates as their printed text; a value that cannot be read is
 *   masked); a text-format bytea (`\x…`) is read as its bytes and masked whole.
 * - A value split across adjacent columns is found in the row's values joined;
 *   every column a match touches is masked whole.
 * A masked value keeps the protocol's promises: text format gets the replacement
 * text; binary text-like types the replacement in the client's encoding; bytea
 * the replacement's bytes; any other binary type NULL (an integer cannot hold "[masked]").
 */
export class RowMasker {
  private current: DescribedColumns = { columns: [], rules: [] };
  private lastFrame: Buffer | undefined;
  private lastDescribed: DescribedColumns = this.current;
  readonly counter = new MaskCounter();
  private readonly masker: SessionMasker;
  /** Replacement → rule of pattern rules applied at the source; undefined when none is in scope (nothing to count). */
  private sourceMarks: [string, string][] | undefined;
  /** The map sourceMarks was read from: a reload puts another in force (read again at the next result). */
  private marksFrom: ReadonlyMap<string, string> | undefined;

  constructor(private readonly opts: RowMaskerOptions) {
    this.masker = opts.masker;
    this.readMarks();
  }

  private readMarks(): void {
    const marks = this.masker.sourcePatternReplacements;
    if (marks === this.marksFrom) return;
    this.marksFrom = marks;
    this.sourceMarks = marks && marks.size > 0 ? [...marks] : undefined;
  }

  /** The columns a RowDescription announces, with the column rule of each (cached: the next is mostly the same). */
  columnsOf(frame: Buffer): DescribedColumns {
    if (this.lastFrame?.equals(frame)) return this.lastDescribed;
    const columns = readRowDescription(frame);
    const byName = this.masker.columnRules(columns.map((c) => c.name));
    const rules = columns.map((c, i) => byName[i] ?? (c.tableOid ? this.opts.protectedColumn(c.tableOid, c.attnum) : undefined));
    this.lastFrame = Buffer.from(frame);
    this.lastDescribed = { columns, rules };
    return this.lastDescribed;
  }

  /** The rows that follow are described by `described` (a simple query's RowDescription, or the portal's). */
  use(described: DescribedColumns): void {
    this.readMarks();
    if (described !== this.current) this.counter.columns = described.columns;
    this.current = described;
  }

  /** Returns the frame itself when nothing in it is sensitive. */
  mask(frame: Buffer): Buffer {
    const values = readDataRow(frame);
    const { columns, rules } = this.current;
    if (values.length !== columns.length) throw new Error(`a row of ${values.length} values arrived for ${columns.length} described columns`);
    const texts: (string | undefined)[] = new Array(values.length);
    let changed = false;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      const column = columns[i]!;
      const rule = rules[i];
      if (rule) {
        if (value) {
          values[i] = this.replacement(column, rule);
          this.counter.add(i, rule, 1);
          changed = true;
        }
        continue;
      }
      if (!value) {
        texts[i] = NOT_JOINED.has(column.typeOid) ? undefined : ''; // a NULL cannot separate two halves
        continue;
      }
      const readable = this.read(column, value);
      if (readable === 'none') continue;
      if (readable === 'undecodable') {
        if (!this.opts.masksText) continue;
        values[i] = this.replacement(column, UNDECODABLE_RULE);
        this.counter.add(i, UNDECODABLE_RULE, 1);
        changed = true;
        continue;
      }
      const atSource = readable.kind === 'text' ? this.masker.columnReplacements.get(readable.text) : undefined;
      if (atSource !== undefined) { // masked by the rewrite, at the source: counted, nothing left to scan
        this.counter.add(i, atSource, 1);
        texts[i] = '';
        continue;
      }
      if (this.sourceMarks && readable.kind === 'text') this.countSourceMasks(i, readable.text);
      const { text, counts } = this.masker.maskText(readable.text);
      const hits = Object.keys(counts);
      if (hits.length) {
        values[i] = this.written(column, readable, text, hits[0]!);
        for (const r of hits) this.counter.add(i, r, counts[r]!);
        changed = true;
      }
      if (!NOT_JOINED.has(column.typeOid)) texts[i] = hits.length && readable.kind !== 'text' ? this.masker.replacementFor(hits[0]!) : text;
    }
    if (this.maskSplitValues(values, texts)) changed = true;
    return changed ? writeDataRow(values) : frame;
  }

  /** Values masked by pattern rules in SQL, at the source: each occurrence of a rule's replacement counts once. */
  private countSourceMasks(column: number, text: string): void {
    for (const [mark, rule] of this.sourceMarks!) {
      let n = 0;
      for (let at = text.indexOf(mark); at >= 0; at = text.indexOf(mark, at + mark.length)) n++;
      if (n) this.counter.add(column, rule, n);
    }
  }

  private read(column: ColumnInfo, value: Buffer): Readable | 'none' | 'undecodable' {
    if (!column.binary) {
      if (column.typeOid === BYTEA && value[0] === 0x5c && value[1] === 0x78) { // \x…: the bytes, as hex
        const bytes = Buffer.from(value.toString('latin1', 2), 'hex');
        return { kind: 'bytea-hex', text: `${this.opts.encoding.decodeLossy(bytes)}\n${bytes.toString('latin1')}` };
      }
      return { kind: 'text', text: this.opts.encoding.decodeLossy(value) };
    }
    const reading = readBinary(column.typeOid, value, this.opts.encoding);
    if (reading.kind === 'none' || reading.kind === 'undecodable') return reading.kind;
    return reading;
  }

  /** A value after pattern masking: text keeps what was not matched; bytes, numbers and dates are masked whole. */
  private written(column: ColumnInfo, readable: Readable, text: string, rule: string): Buffer | null {
    if (readable.kind === 'text') {
      const body = this.encode(text);
      return column.binary && column.typeOid === 3802 ? Buffer.concat([Buffer.from([1]), body]) : body;
    }
    return this.replacement(column, rule);
  }

  /** The whole-value replacement for a column, in a form its type and format can carry. */
  private replacement(column: ColumnInfo, rule: string): Buffer | null {
    const text = rule === UNDECODABLE_RULE ? '[masked]' : this.masker.replacementFor(rule);
    if (!column.binary) {
      return column.typeOid === BYTEA ? Buffer.from(`\\x${this.encode(text).toString('hex')}`, 'latin1') : this.encode(text);
    }
    if (TEXT_LIKE.has(column.typeOid) || column.typeOid === BYTEA) return this.encode(text);
    return null;
  }

  private encode(text: string): Buffer {
    return this.opts.encoding.encode(text) ?? Buffer.from('[masked]', 'latin1');
  }

  /**
   * A sensitive value split across adjacent columns (`SELECT left(ssn, 5), substr(ssn, 6)`):
   * the row's readable values joined are scanned once; when something matches
   * there that no single value held, the columns each match spans are masked whole.
   * Numbers and dates neither join nor separate (their own patterns still apply).
   */
  private maskSplitValues(values: (Buffer | null)[], texts: (string | undefined)[]): boolean {
    let changed = false;
    let start = 0;
    while (start < texts.length) {
      while (start < texts.length && texts[start] === undefined) start++;
      let end = start;
      while (end < texts.length && texts[end] !== undefined) end++;
      if (end - start >= 2 && this.hits(texts, start, end - 1)) {
        changed = this.maskSpans(values, texts, start, end - 1) || changed;
      }
      start = end;
    }
    return changed;
  }

  private maskSpans(values: (Buffer | null)[], texts: (string | undefined)[], first: number, last: number): boolean {
    let changed = false;
    for (let i = first; i <= last;) {
      let j = i;
      while (j <= last && !this.hits(texts, i, j)) j++;
      if (j > last) break;
      let k = j;
      while (k > i && !this.hits(texts, k, j)) k--;
      const counts = this.hits(texts, k, j)!;
      const rule = Object.keys(counts)[0]!;
      for (let c = k; c <= j; c++) {
        if (values[c]) values[c] = this.replacement(this.current.columns[c]!, rule);
        texts[c] = this.masker.replacementFor(rule);
        this.counter.add(c, rule, 1);
      }
      changed = true;
      i = j + 1;
    }
    return changed;
  }

  /** The counts of the rules that match the joined texts of columns [from, to], or undefined when none does. */
  private hits(texts: (string | undefined)[], from: number, to: number): MaskCounts | undefined {
    let joined = '';
    for (let i = from; i <= to; i++) joined += texts[i]!;
    const { counts } = this.masker.maskText(joined);
    return Object.keys(counts).length ? counts : undefined;
  }

  /** Which fields of the result that just ended were masked by which rule, and a fresh start for the next. */
  take(): MaskedField[] {
    return this.counter.take();
  }
}
