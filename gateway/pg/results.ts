import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import { EventType } from '../../common/recording/index.js';
import type { RecordingWriter } from '../recording/index.js';

/** A value longer than this is recorded cut, with its full length noted. */
const MAX_RECORDED_VALUE = 4096;

interface PendingOp {
  kind: 'query' | 'execute' | 'sync';
  seq: number; // the seq of the recorded statement event
  startedMicros: number;
}

interface Column { name: string; typeOid: number; format: 'text' | 'binary' }

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
  private rows: unknown[][] = [];
  private rowCount = 0;
  private copyBytes = 0;
  transactionStatus = 'I';

  constructor(
    private readonly writer: RecordingWriter,
    private readonly maxRows: number,
    private readonly now: () => number,
    /** Which rules masked how many values in the result that just ended. */
    private readonly takeMasked: () => Record<string, number> = () => ({}),
  ) {}

  statementSent(kind: 'query' | 'execute', seq: number): void {
    this.pending.push({ kind, seq, startedMicros: this.now() });
  }

  syncSent(): void {
    this.pending.push({ kind: 'sync', seq: 0, startedMicros: 0 });
  }

  get inFlight(): number {
    return this.pending.length;
  }

  onMessage(msg: BackendMessage): void {
    switch (msg.name) {
      case 'rowDescription': {
        const fields = (msg as unknown as { fields: { name: string; dataTypeID: number; format: string }[] }).fields;
        this.columns = fields.map((f) => ({ name: f.name, typeOid: f.dataTypeID, format: f.format === 'binary' ? 'binary' : 'text' }));
        break;
      }
      case 'dataRow': {
        this.rowCount++;
        if (this.rows.length < this.maxRows) {
          const fields = (msg as unknown as { fields: (string | null)[] }).fields;
          this.rows.push(fields.map((v, i) => recordable(v, this.columns[i]?.format)));
        }
        break;
      }
      case 'copyData':
        this.rowCount++;
        this.copyBytes += (msg as unknown as { chunk: Buffer }).chunk.length;
        break;
      case 'commandComplete':
        this.finish({ command: (msg as unknown as { text: string }).text });
        break;
      case 'emptyQuery':
        this.finish({ command: '' });
        break;
      case 'portalSuspended':
        this.finish({ command: '', suspended: true });
        break;
      case 'error':
        this.recordNotice(EventType.PgError, msg);
        this.resetResult();
        // Extended protocol: the server now discards every message until Sync.
        while (this.pending[0]?.kind === 'execute') this.pending.shift();
        break;
      case 'notice':
        this.recordNotice(EventType.PgNotice, msg);
        break;
      case 'readyForQuery': {
        this.transactionStatus = (msg as unknown as { status: string }).status;
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

  private finish(extra: { command: string; suspended?: boolean }): void {
    const op = this.pending[0];
    const parsed = /^(?:INSERT \d+|[A-Z ]+?) ?(\d+)?$/.exec(extra.command);
    this.writer.append(EventType.PgResult, {
      statement: op?.seq ?? null,
      command: extra.command,
      rowCount: parsed?.[1] !== undefined ? Number(parsed[1]) : this.rowCount,
      columns: this.columns,
      rows: this.rows,
      rowsRecorded: this.rows.length,
      ...(this.copyBytes ? { copyBytes: this.copyBytes } : {}),
      ...maskedField(this.takeMasked()),
      ...(extra.suspended ? { suspended: true } : {}),
      durationMicros: op ? this.now() - op.startedMicros : null,
    });
    if (op?.kind === 'execute') this.pending.shift();
    this.resetResult();
  }

  private resetResult(): void {
    this.columns = [];
    this.rows = [];
    this.rowCount = 0;
    this.copyBytes = 0;
  }

  private recordNotice(type: string, msg: BackendMessage): void {
    const m = msg as unknown as { severity?: string; code?: string; message?: string; detail?: string; hint?: string; position?: string };
    this.writer.append(type, {
      statement: this.pending[0]?.seq ?? null,
      severity: m.severity,
      code: m.code,
      message: m.message,
      ...(m.detail ? { detail: m.detail } : {}),
      ...(m.hint ? { hint: m.hint } : {}),
      ...(m.position ? { position: m.position } : {}),
    });
  }
}

function recordable(value: string | null, format: 'text' | 'binary' | undefined): unknown {
  if (value === null) return null;
  // pg-protocol decodes every field as UTF-8; a binary-format value is not text.
  if (format === 'binary') return { binary: true };
  if (value.length <= MAX_RECORDED_VALUE) return value;
  return { cut: value.slice(0, MAX_RECORDED_VALUE), length: value.length };
}

function maskedField(counts: Record<string, number>): { masked?: Record<string, number> } {
  return Object.keys(counts).length ? { masked: counts } : {};
}
