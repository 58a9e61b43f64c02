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
/** Types (numbers, dates, bool) whose values neither join their neighbours' nor separate them when a value split across columns is looked for. */
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
  /**
   * The rules each description was read under (the masker's column replacement map: a reload puts a new one in
   * force, as with sourcePatternReplacements): one read under others is read again before it is used, be it the
   * last RowDescription's (cached by its bytes) or a portal's, described before the reload and executed after.
   */
  private readonly describedUnder = new WeakMap<DescribedColumns, object>();
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
    if (this.lastFrame?.equals(frame) && this.isCurrent(this.lastDescribed)) return this.lastDescribed;
    this.lastDescribed = this.describe(readRowDescription(frame));
    this.lastFrame = Buffer.from(frame);
    return this.lastDescribed;
  }

  /** The column rule of each column under the rules in force. */
  private describe(columns: ColumnInfo[]): DescribedColumns {
    const under = this.masker.columnReplacements;
    const byName = this.masker.columnRules(columns.map((c) => c.name));
    const rules = columns.map((c, i) => byName[i] ?? (c.tableOid ? this.opts.protectedColumn(c.tableOid, c.attnum) : undefined));
    const described = { columns, rules };
    this.describedUnder.set(described, under);
    return described;
  }

  private isCurrent(described: DescribedColumns): boolean {
    return this.describedUnder.get(described) === this.masker.columnReplacements;
  }

  /** The rows that follow are described by `described` (a simple query's RowDescription, or the portal's). */
  use(described: DescribedColumns): void {
    this.readMarks();
    if (!this.isCurrent(described)) described = this.fresh(described);
    if (described !== this.current) this.counter.columns = described.columns;
    this.current = described;
  }

  /**
   * A description read under rules since reloaded (a portal described before a SIGHUP, read on after it): its
   * columns are read again. The rules by provenance (a table column's) come from the session's SQL policy, which
   * takes the new rules only when it next judges a statement, and nothing was judged for this portal: when column
   * rules are in force and a column from a table has none, the gateway cannot tell it is not protected (fail closed).
   */
  private fresh(described: DescribedColumns): DescribedColumns {
    const again = this.describe(described.columns);
    if (this.masker.columns && again.columns.some((c, i) => c.tableOid && !again.rules[i])) {
      throw new Error('rows arrived for a portal described before the policies were reloaded, and the gateway cannot tell which of its table columns the rules in force protect: describe it again');
    }
    return again;
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

  /** A sensitive value split across adjacent columns: the columns each match spans are masked whole (see splitValues). */
  private maskSplitValues(values: (Buffer | null)[], texts: (string | undefined)[]): boolean {
    const spans = splitValues(texts, (text) => this.masker.maskText(text).counts);
    for (const { fields, rule } of spans) {
      for (const c of fields) {
        if (values[c]) values[c] = this.replacement(this.current.columns[c]!, rule);
        this.counter.add(c, rule, 1);
      }
    }
    return spans.length > 0;
  }

  /** Which fields of the result that just ended were masked by which rule, and a fresh start for the next. */
  take(): MaskedField[] {
    return this.counter.take();
  }
}

/** The fields a value split across adjacent fields spans, and the rule that matched it. */
export interface SplitValue { fields: number[]; rule: string }

/**
 * A sensitive value split across adjacent fields (`SELECT left(ssn, 5), substr(ssn, 6)`): the texts of the
 * fields joined are scanned once; when something matches there, each match's fields are found (the shortest
 * run from the left that matches, then its shortest tail that still does). `texts[i]` undefined: the field
 * neither joins nor separates (a number or date, a value masked whole, one that holds no text) — skipped, so
 * `left(ssn, 6), 0, substr(ssn, 7)` is found as `left(ssn, 6), substr(ssn, 7)` is; a text between (even '')
 * joins. Result rows (RowMasker) and text COPY rows (MessageMasker) both read split values here.
 */
export function splitValues(texts: readonly (string | undefined)[], rulesOver: (text: string) => MaskCounts): SplitValue[] {
  const run: number[] = [];
  for (let i = 0; i < texts.length; i++) if (texts[i] !== undefined) run.push(i);
  const hits = (from: number, to: number): MaskCounts | undefined => {
    let joined = '';
    for (let i = from; i <= to; i++) joined += texts[run[i]!]!;
    const counts = rulesOver(joined);
    return Object.keys(counts).length ? counts : undefined;
  };
  const out: SplitValue[] = [];
  if (run.length < 2 || !hits(0, run.length - 1)) return out;
  for (let i = 0; i < run.length;) {
    let j = i;
    while (j < run.length && !hits(i, j)) j++;
    if (j === run.length) break;
    let k = j;
    while (k > i && !hits(k, j)) k--;
    out.push({ fields: run.slice(k, j + 1), rule: Object.keys(hits(k, j)!)[0]! });
    i = j + 1;
  }
  return out;
}
