import type { SessionMasker } from '../policy/index.js';
import type { ClientEncoding } from './encoding.js';
import type { MaskCounter } from './mask-counter.js';
import { splitValues } from './masking.js';

const DETAIL = 0x44; // 'D'
const WITHHELD_DETAIL = Buffer.from('D[detail withheld by hopscope: it may quote protected columns]', 'latin1');

/** Parameters the gateway (and the client) must read exactly as the server sent them. */
const UNMASKED_PARAMETERS = new Set(['client_encoding', 'server_encoding']);

/**
 * Pattern masking of the server's messages other than result rows: COPY data,
 * errors and notices (their texts may quote data: a unique violation's DETAIL
 * names the key), notifications (channel and payload of pg_notify) and
 * parameter status (application_name set from a column). Texts are read and
 * written in the session's client encoding.
 */
export class MessageMasker {
  /** Whether the COPY in progress is in binary format (its rows cannot be rewritten as text). */
  copyBinary = false;
  /** The number of columns of the COPY in progress (CopyOutResponse): how a row's fields are told apart. */
  private copyColumns = 0;

  constructor(private readonly masker: SessionMasker, private readonly encoding: ClientEncoding, private readonly counter: MaskCounter) {}

  /** The masked text of bytes, or undefined when no rule matched. */
  private maskBytes(bytes: Buffer): Buffer | undefined {
    const { text, counts } = this.masker.maskText(this.encoding.decodeLossy(bytes));
    if (!Object.keys(counts).length) return undefined;
    this.counter.addAll(counts);
    return this.encoding.encode(text) ?? Buffer.from(text.replace(/[^\x20-\x7e]/g, '?'), 'latin1');
  }

  /** CopyOutResponse / CopyBothResponse: whether the rows come in binary format. */
  copyStarted(frame: Buffer): void {
    this.copyBinary = frame[5] === 1;
    this.copyColumns = frame.length >= 8 ? frame.readInt16BE(6) : 0;
  }

  /** COPY TO STDOUT rows: pattern rules over the text; a binary COPY row a rule matches cannot be masked in place: refused. */
  maskCopyData(frame: Buffer): Buffer {
    if (this.copyBinary) {
      const { counts } = this.masker.maskText(frame.toString('latin1', 5));
      if (Object.keys(counts).length) throw new Error('a binary COPY row holds a value a masking rule matches; binary COPY cannot be masked in place');
      return frame;
    }
    const row = this.encoding.decodeLossy(frame.subarray(5));
    const { text, counts } = this.masker.maskText(row);
    this.counter.addAll(counts);
    const masked = this.maskCopySplitValues(text);
    if (masked === row) return frame;
    const body = this.encoding.encode(masked) ?? Buffer.from(masked.replace(/[^\x09\x0a\x20-\x7e]/g, '?'), 'latin1');
    const out = Buffer.allocUnsafe(5 + body.length);
    out[0] = 0x64; // 'd'
    out.writeUInt32BE(4 + body.length, 1);
    body.copy(out, 5);
    return out;
  }

  /**
   * A value split across adjacent fields of text COPY rows, found as in result rows (splitValues). A row whose
   * tabs do not give the columns CopyOutResponse announced was written with another delimiter or as CSV: its
   * fields are read by the one delimiter (outside double quotes) that gives that many. The fields a match spans
   * get the rule's replacement; a NULL (`\N`, or CSV's unquoted empty field) joins as '' and stays NULL.
   */
  private maskCopySplitValues(text: string): string {
    const newline = text.endsWith('\n') ? '\n' : '';
    const body = newline ? text.slice(0, -1) : text;
    if (this.copyColumns >= 2 && body.split('\t').length !== this.copyColumns) {
      const row = delimitedRow(body, this.copyColumns);
      if (!row) return text; // no delimiter fits: the whole-row pass is all there is (see maskCopyData)
      const found = this.maskFields(row.values, (i) => row.fields[i] === '' || row.fields[i] === '\\N', (i, v) => { row.fields[i] = quoted(v, row.delimiter); });
      return found ? row.fields.join(row.delimiter) + newline : text;
    }
    const lines = text.split('\n');
    let changed = false;
    for (let l = 0; l < lines.length; l++) {
      const fields = lines[l]!.split('\t');
      if (fields.length < 2) continue;
      const values = fields.map((f) => (f === '\\N' ? '' : unescapeCopy(f)));
      if (this.maskFields(values, (i) => fields[i] === '\\N', (i, v) => { fields[i] = escapeCopy(v); })) {
        lines[l] = fields.join('\t');
        changed = true;
      }
    }
    return changed ? lines.join('\n') : text;
  }

  /**
   * COPY says nothing of its columns' types, so the fields are joined twice: all of them, then without those that
   * read as a number, date or bool (which neither join nor separate in a result row: `left(ssn, 6), 0, substr(ssn, 7)`).
   */
  private maskFields(values: string[], isNull: (i: number) => boolean, write: (i: number, value: string) => void): boolean {
    const rulesOver = (joined: string) => this.masker.maskText(joined).counts;
    const joinedNot = values.map((v) => NOT_JOINED_TEXT.test(v));
    let found = false;
    for (const skipping of joinedNot.includes(true) ? [false, true] : [false]) {
      for (const { fields: spanned, rule } of splitValues(values.map((v, i) => (skipping && joinedNot[i] ? undefined : v)), rulesOver)) {
        let n = 0;
        for (const c of spanned) {
          if (isNull(c)) continue; // holds nothing to mask
          values[c] = this.masker.replacementFor(rule); // the second pass reads what the first masked
          write(c, values[c]!);
          n++;
        }
        this.counter.addAll({ [rule]: n });
        found = true;
      }
    }
    return found;
  }

  /**
   * ErrorResponse / NoticeResponse: every field. Under column masking the DETAIL
   * is withheld whole: PostgreSQL quotes stored rows there ("Failing row contains
   * (…)" of a check or not-null violation, "conflicts with existing key (…)=(…)"),
   * values that never went through the masked projection of the rewrite.
   */
  maskNotice(frame: Buffer): Buffer {
    const fields = cstrings(frame, 5, true);
    let changed = false;
    const parts: Buffer[] = [];
    for (const field of fields) {
      if (field[0] === DETAIL && this.masker.columns) {
        changed = true;
        this.counter.addAll({ 'masking-detail': 1 });
        parts.push(WITHHELD_DETAIL);
        continue;
      }
      const masked = this.maskBytes(field.subarray(1));
      if (masked) changed = true;
      parts.push(masked ? Buffer.concat([field.subarray(0, 1), masked]) : field);
    }
    return changed ? message(frame[0]!, [...parts, Buffer.alloc(0)]) : frame;
  }

  /** NotificationResponse: Int32 pid, channel, payload. */
  maskNotification(frame: Buffer): Buffer {
    const [channel, payload] = cstrings(frame, 9, false);
    if (!channel || !payload) return frame;
    const c = this.maskBytes(channel);
    const p = this.maskBytes(payload);
    return c || p ? message(0x41, [c ?? channel, p ?? payload], frame.subarray(5, 9)) : frame;
  }

  /** ParameterStatus: name, value; the value is masked unless the gateway must read it as it is. */
  maskParameterStatus(frame: Buffer): Buffer {
    const [name, value] = cstrings(frame, 5, false);
    if (!name || !value || UNMASKED_PARAMETERS.has(name.toString('latin1'))) return frame;
    const masked = this.maskBytes(value);
    return masked ? message(0x53, [name, masked]) : frame;
  }
}

/**
 * A field as COPY prints a number, date, timestamp, time or bool; unsigned only: a half of a split value may read as a
 * signed number (`-6789`), and skipping it would hide the very value looked for.
 */
const NOT_JOINED_TEXT = /^(?:(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?|NaN|Infinity|t|f|\d{4,}-\d\d-\d\d(?:[ T]\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d(?::\d\d)?)?)?(?: BC)?|\d\d:\d\d:\d\d(?:\.\d+)?)$/;
const COPY_ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** A COPY text field's value: its backslash sequences read (octal and hex ones as the character of that code). */
function unescapeCopy(field: string): string {
  if (!field.includes('\\')) return field;
  return field.replace(/\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|([\s\S]))/g, (_, oct?: string, hex?: string, c?: string) =>
    oct ? String.fromCharCode(parseInt(oct, 8)) : hex ? String.fromCharCode(parseInt(hex, 16)) : COPY_ESCAPES[c!] ?? c!);
}

/** A value as a COPY text field: backslash, tab, newline and carriage return escaped. */
function escapeCopy(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** Where a delimiter may be: the most usual first, then any other character a row holds. */
const DELIMITERS = [',', '|', ';'];

/**
 * The fields of a row COPY wrote with a delimiter other than tab (CSV, or DELIMITER '…'): the first delimiter
 * outside double quotes that splits it into `columns` fields, with each field's value (CSV quotes removed).
 */
function delimitedRow(line: string, columns: number): { delimiter: string; fields: string[]; values: string[] } | undefined {
  const candidates = new Set(DELIMITERS);
  for (const c of line) if (!/[\p{L}\p{N}"\\\r\n]/u.test(c)) candidates.add(c);
  for (const delimiter of candidates) {
    const fields: string[] = [];
    let from = 0;
    let inQuotes = false;
    for (let i = 0; i < line.length; i++) {
      if (line[i] === '"') inQuotes = !inQuotes;
      else if (line[i] === delimiter && !inQuotes) {
        fields.push(line.slice(from, i));
        from = i + 1;
      }
    }
    fields.push(line.slice(from));
    if (fields.length !== columns) continue;
    const values = fields.map((f) => (f.length >= 2 && f.startsWith('"') && f.endsWith('"') ? f.slice(1, -1).replaceAll('""', '"') : f));
    return { delimiter, fields, values };
  }
  return undefined;
}

/** A value as a CSV field: quoted when it holds the delimiter, a quote or a line break. */
function quoted(value: string, delimiter: string): string {
  return value.includes(delimiter) || /["\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** The NUL-terminated strings of a message body from `offset` (without their NULs); `fields`: stop at the terminating empty one. */
function cstrings(frame: Buffer, offset: number, fields: boolean): Buffer[] {
  const out: Buffer[] = [];
  while (offset < frame.length && !(fields && frame[offset] === 0)) {
    const end = frame.indexOf(0, offset);
    if (end < 0) break;
    out.push(frame.subarray(offset, end));
    offset = end + 1;
  }
  return out;
}

/** A message of `tag` whose body is `head` then each string NUL-terminated. */
function message(tag: number, strings: Buffer[], head?: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from([tag, 0, 0, 0, 0])];
  if (head) parts.push(head);
  for (const s of strings) parts.push(s, Buffer.from([0]));
  const out = Buffer.concat(parts);
  out.writeUInt32BE(out.length - 1, 1);
  return out;
}
