import { EventType, type EventMap } from '../../common/recording/index.js';
import type { RecordingWriter } from '../recording/index.js';
import { readRowDescription } from './frames.js';
import type { MaskedField } from './masking.js';

/** A value longer than this is recorded cut, with its full length noted. */
const MAX_RECORDED_VALUE = 4096;

interface PendingOp {
  kind: 'query' | 'execute' | 'sync';
  seq: number; // the seq of the recorded statement event
  startedMicros: number;
}

interface Column { name: string; typeOid: number; format: 'text' | 'binary' }

/** Server message tags the recorder reads (each frame is one whole message: tag, Int32 length, body). */
const enum Tag {
  RowDescription = 0x54, DataRow = 0x44, CopyData = 0x64, CommandComplete = 0x43, EmptyQuery = 0x49,
  PortalSuspended = 0x73, Error = 0x45, Notice = 0x4e, ReadyForQuery = 0x5a,
}

const PENDING_SYNC: PendingOp = { kind: 'sync', seq: 0, startedMicros: 0 };

/**
 * Follows the server's answers and records one result event per statement
 * (columns, row count, duration, the first rows up to a cap), errors and
 * notices, in bounded memory whatever the size of the result.
 *
 * Pairing: a simple Query may produce several results and ends at ReadyForQuery;
 * each Execute ends at CommandComplete / EmptyQueryResponse / PortalSuspended /
 * ErrorResponse; after an error the server skips to Sync.
 */
export class ResultRecorder {
  private readonly pending: PendingOp[] = [];
  private columns: Column[] = [];
  private columnsJson = '[]';
  /** The last RowDescription read, to reuse its columns (and their JSON) when the next is the same, as it mostly is. */
  private lastRowDescription: Buffer | undefined;
  private lastColumns: Column[] = [];
  private lastColumnsJson = '[]';
  /** The recorded rows as JSON text, built as their DataRows arrive: the members of an array, without its brackets. */
  private rowsJson = '';
  private rowsRecorded = 0;
  private rowCount = 0;
  private copyBytes = 0;
  transactionStatus = 'I';

  constructor(
    private readonly writer: RecordingWriter,
    private readonly maxRows: number,
    private readonly now: () => number,
    /** Which columns' values were masked by which rule in the result that just ended. */
    private readonly takeMasked: () => readonly MaskedField[] = () => [],
  ) {}

  statementSent(kind: 'query' | 'execute', seq: number): void {
    this.pending.push({ kind, seq, startedMicros: this.now() });
  }

  syncSent(): void {
    this.pending.push(PENDING_SYNC);
  }

  get inFlight(): number {
    return this.pending.length;
  }

  private idleWaiters: (() => void)[] = [];

  /** Resolves once every statement sent has been answered up to its ReadyForQuery (or `release`). */
  whenIdle(): Promise<void> {
    return this.pending.length ? new Promise((done) => this.idleWaiters.push(done)) : Promise.resolve();
  }

  /** The session ended: nothing more will be answered. */
  release(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** One whole server message, as the client sees it (masked); read in place, without a general-purpose parser. */
  onFrame(tag: number, frame: Buffer): void {
    switch (tag) {
      case Tag.RowDescription:
        if (!this.lastRowDescription?.equals(frame)) {
          this.lastRowDescription = Buffer.from(frame);
          this.lastColumns = readRowDescription(frame).map((c) => ({ name: c.name, typeOid: c.typeOid, format: c.binary ? 'binary' : 'text' }));
          this.lastColumnsJson = JSON.stringify(this.lastColumns);
        }
        this.columns = this.lastColumns;
        this.columnsJson = this.lastColumnsJson;
        break;
      case Tag.DataRow:
        this.rowCount++;
        if (this.rowsRecorded < this.maxRows) {
          const row = rowJson(frame, this.columns);
          this.rowsJson = this.rowsRecorded++ === 0 ? row : `${this.rowsJson},${row}`;
        }
        break;
      case Tag.CopyData:
        this.rowCount++;
        this.copyBytes += frame.length - 5;
        break;
      case Tag.CommandComplete:
        this.finish(frame.toString('utf8', 5, frame.length - 1), false);
        break;
      case Tag.EmptyQuery:
        this.finish('', false);
        break;
      case Tag.PortalSuspended:
        this.finish('', true);
        break;
      case Tag.Error:
        this.recordNotice(EventType.PgError, frame);
        this.resetResult();
        // Extended protocol: the server now discards every message until Sync.
        while (this.pending[0]?.kind === 'execute') this.pending.shift();
        break;
      case Tag.Notice:
        this.recordNotice(EventType.PgNotice, frame);
        break;
      case Tag.ReadyForQuery: {
        this.transactionStatus = String.fromCharCode(frame[5]!);
        // Ends the simple query or the extended batch at the head of the queue.
        while (this.pending.length) {
          const op = this.pending.shift()!;
          if (op.kind !== 'execute') break;
        }
        if (!this.pending.length && this.idleWaiters.length) this.release();
        break;
      }
      default:
        break;
    }
  }

  private finish(command: string, suspended: boolean): void {
    const op = this.pending[0];
    const counted = commandRowCount(command);
    const rowCount = counted ?? this.rowCount;
    // The hottest event, serialized by hand: exactly the text JSON.stringify gives for
    // { statement, command, rowCount, columns, rows, rowsRecorded, copyBytes?, masked?, suspended?, durationMicros },
    // masked: [{ column?, rule, count }] (no column: COPY data).
    let json = `{"statement":${op ? op.seq : null},"command":${jsonString(command)},"rowCount":${rowCount},`
      + `"columns":${this.columnsJson},"rows":[${this.rowsJson}],"rowsRecorded":${this.rowsRecorded}`;
    if (this.copyBytes) json += `,"copyBytes":${this.copyBytes}`;
    const masked = this.takeMasked();
    if (masked.length) json += `,"masked":${JSON.stringify(masked)}`;
    if (suspended) json += ',"suspended":true';
    json += `,"durationMicros":${op ? this.now() - op.startedMicros : null}}`;
    this.writer.appendJson(EventType.PgResult, json);
    if (op?.kind === 'execute') this.pending.shift();
    this.resetResult();
  }

  private resetResult(): void {
    this.columns = [];
    this.columnsJson = '[]';
    this.rowsJson = '';
    this.rowsRecorded = 0;
    this.rowCount = 0;
    this.copyBytes = 0;
  }

  private recordNotice(type: typeof EventType.PgError | typeof EventType.PgNotice, frame: Buffer): void {
    const fields = noticeFields(frame);
    const data: EventMap['pg.notice'] = { statement: this.pending[0]?.seq ?? null, severity: fields.S, code: fields.C, message: fields.M };
    if (fields.D) data.detail = fields.D;
    if (fields.H) data.hint = fields.H;
    if (fields.P) data.position = fields.P;
    this.writer.append(type, data);
  }
}

/** The fields of an ErrorResponse or NoticeResponse, by their one-letter codes. */
function noticeFields(frame: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let offset = 5;
  while (offset < frame.length && frame[offset] !== 0) {
    const end = frame.indexOf(0, offset + 1);
    if (end < 0) break;
    fields[String.fromCharCode(frame[offset]!)] = frame.toString('utf8', offset + 1, end);
    offset = end + 1;
  }
  return fields;
}

/**
 * JSON.stringify(text) for a string: a short one that needs no escape (no '"', '\\',
 * control character or surrogate) is quoted as it is, without a call into the runtime.
 */
export function jsonString(text: string): string {
  if (text.length > 256) return JSON.stringify(text);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(text);
  }
  return `"${text}"`;
}

/**
 * The row count a CommandComplete tag states, as /^(?:INSERT \d+|[A-Z ]+?) ?(\d+)?$/ reads it
 * (undefined: the tag states none). The common shape, words then one count ("SELECT 1",
 * "UPDATE 5", "INSERT 0 1"), is read without the regular expression.
 */
function commandRowCount(command: string): number | undefined {
  const space = command.lastIndexOf(' ');
  if (space > 0 && space < command.length - 1 && space < 32) {
    let digits = true;
    for (let i = space + 1; i < command.length && digits; i++) {
      const c = command.charCodeAt(i);
      digits = c >= 0x30 && c <= 0x39;
    }
    let words = digits; // words then the count; not "INSERT n", which the regular expression reads as a tag without count
    for (let i = 0; i < space && words; i++) {
      const c = command.charCodeAt(i);
      words = (c >= 0x41 && c <= 0x5a) || c === 0x20;
    }
    if ((words && !(space === 6 && command.startsWith('INSERT'))) || (digits && /^INSERT \d+$/.test(command.slice(0, space)))) return Number(command.slice(space + 1));
  }
  const parsed = /^(?:INSERT \d+|[A-Z ]+?) ?(\d+)?$/.exec(command);
  return parsed?.[1] !== undefined ? Number(parsed[1]) : undefined;
}

/**
 * One DataRow as the JSON text of its recorded values, read in place: exactly
 * JSON.stringify(values.map(recordable)), where a text value is its UTF-8 string
 * (cut at MAX_RECORDED_VALUE characters, with its full length noted), a binary-format
 * value `{ binary: true }`, SQL NULL null.
 */
function rowJson(frame: Buffer, columns: readonly Column[]): string {
  const count = frame.readUInt16BE(5);
  let json = '[';
  let offset = 7;
  for (let i = 0; i < count; i++) {
    if (i > 0) json += ',';
    const len = frame.readInt32BE(offset);
    offset += 4;
    if (len < 0) {
      json += 'null';
      continue;
    }
    const end = offset + len;
    if (columns[i]?.format === 'binary') json += '{"binary":true}';
    else json += valueJson(frame, offset, end);
    offset = end;
  }
  return `${json}]`;
}

/** The JSON text of a text-format value's recorded form. */
function valueJson(frame: Buffer, start: number, end: number): string {
  // Short and plain (printable ASCII without '"' or '\\'): the bytes are the JSON string's characters.
  if (end - start <= MAX_RECORDED_VALUE) {
    let plain = true;
    for (let i = start; i < end && plain; i++) {
      const b = frame[i]!;
      plain = b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c;
    }
    if (plain) return `"${frame.toString('latin1', start, end)}"`;
  }
  const value = frame.toString('utf8', start, end);
  if (value.length <= MAX_RECORDED_VALUE) return JSON.stringify(value);
  return JSON.stringify({ cut: value.slice(0, MAX_RECORDED_VALUE), length: value.length });
}
