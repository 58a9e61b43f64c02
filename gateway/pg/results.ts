import { EventType } from '../../common/recording/index.js';
import type { RecordingWriter } from '../recording/index.js';
import { readDataRow, readRowDescription } from './frames.js';
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
  private rows: unknown[][] = [];
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
        if (this.rows.length < this.maxRows) {
          const values = readDataRow(frame);
          const row: unknown[] = new Array(values.length);
          for (let i = 0; i < values.length; i++) row[i] = recordable(values[i]!, this.columns[i]?.format);
          this.rows.push(row);
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
        break;
      }
      default:
        break;
    }
  }

  private finish(command: string, suspended: boolean): void {
    const op = this.pending[0];
    const parsed = /^(?:INSERT \d+|[A-Z ]+?) ?(\d+)?$/.exec(command);
    const rowCount = parsed?.[1] !== undefined ? Number(parsed[1]) : this.rowCount;
    // The hottest event, serialized by hand: exactly the text JSON.stringify gives for
    // { statement, command, rowCount, columns, rows, rowsRecorded, copyBytes?, masked?, suspended?, durationMicros },
    // masked: [{ column?, rule, count }] (no column: COPY data).
    let json = `{"statement":${op ? op.seq : null},"command":${JSON.stringify(command)},"rowCount":${rowCount},`
      + `"columns":${this.columnsJson},"rows":${JSON.stringify(this.rows)},"rowsRecorded":${this.rows.length}`;
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
    this.rows = [];
    this.rowCount = 0;
    this.copyBytes = 0;
  }

  private recordNotice(type: string, frame: Buffer): void {
    const fields = noticeFields(frame);
    const data: Record<string, unknown> = { statement: this.pending[0]?.seq ?? null, severity: fields.S, code: fields.C, message: fields.M };
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

function recordable(bytes: Buffer | null, format: 'text' | 'binary' | undefined): unknown {
  if (bytes === null) return null;
  // A binary-format value is not text.
  if (format === 'binary') return { binary: true };
  const value = bytes.toString('utf8');
  if (value.length <= MAX_RECORDED_VALUE) return value;
  return { cut: value.slice(0, MAX_RECORDED_VALUE), length: value.length };
}
