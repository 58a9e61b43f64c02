import type Database from 'better-sqlite3';

/**
 * Rows staged for one synchronous transaction. Each table's rows are one flat
 * array, row after row, in the column order of the inserts below (`WIDTH`
 * values a row): no array per row to allocate, and a batch handed to the write
 * thread is cloned as a few long arrays.
 */
export interface Batch {
  /** session, seq, t, type, data, intact */
  events: Value[];
  /** session, seq, t, kind, text, name, params */
  statements: Value[];
  /** session, seq, t, statement, kind, command, rowCount, rowsRecorded, columns, duration, code, message, masked */
  results: Value[];
  /** session, seq, statement, field, rule, masked, count */
  sensitive: Value[];
  /** session, seq, t, statement, action, rule, approvalId, actor, message */
  decisions: Value[];
  /** id, session, statement, operation, requestedT, status, approver, decidedT, waited, reason */
  approvals: Value[];
  /** cause, actor, session: how the session ended and, for a revocation, who revoked (sessions.end_cause, end_actor) */
  sessionEnds: Value[];
  /** seq, message, session: events of a known type that do not match their schema (findings, kind `undecodable-event`) */
  decodeFindings: Value[];
  /** session, seq, t, cols, rows, screen (made from `terminal` where the batch is written: keyframes.ts) */
  keyframes: Value[];
  /** What the session's terminal saw, in order: session, seq, t, op, a, b (keyframes.ts); not a table. */
  terminal: Value[];
  /** Bytes of the recording lines staged (with `batchSize`, what decides a flush). */
  bytes: number;
}

export type Value = string | number | null;

type Table = Exclude<keyof Batch, 'bytes' | 'terminal'>;

/** Values per row of each table. */
export const WIDTH: { readonly [K in Table]: number } = {
  events: 6, statements: 7, results: 13, sensitive: 7, decisions: 9, approvals: 10, keyframes: 6, sessionEnds: 3, decodeFindings: 3,
};

/** A batch is written when it holds this many bytes of recording, whatever its row count. */
export const BATCH_BYTES = 8 * 1024 * 1024;

export function emptyBatch(): Batch {
  return { events: [], statements: [], results: [], sensitive: [], decisions: [], approvals: [], keyframes: [], terminal: [], sessionEnds: [], decodeFindings: [], bytes: 0 };
}

/** Rows staged (approvals aside, as before). */
export function batchSize(b: Batch): number {
  return b.events.length / WIDTH.events + b.statements.length / WIDTH.statements + b.results.length / WIDTH.results +
    b.sensitive.length / WIDTH.sensitive + b.decisions.length / WIDTH.decisions + b.keyframes.length / WIDTH.keyframes;
}

/**
 * Rows per multi-row INSERT: one statement step per this many rows instead of
 * per row roughly halves the cost of a row (at most 13 × 64 bound values, far
 * under SQLite's limit).
 */
const ROWS_PER_INSERT = 64;

/** An INSERT prepared for one row and for ROWS_PER_INSERT rows. */
class Insert {
  private readonly one: Database.Statement;
  private readonly many: Database.Statement | undefined;
  private readonly params: unknown[];

  /**
   * `head` is `INSERT … INTO t(cols) VALUES`, `tail` what follows the values (an upsert clause);
   * a `head` without VALUES is a whole statement run once per row.
   */
  constructor(db: Database.Database, head: string, private readonly width: number, multi: boolean, tail = '') {
    const row = `(${Array(width).fill('?').join(', ')})`;
    this.one = db.prepare(head.endsWith('VALUES') ? `${head} ${row} ${tail}` : head);
    this.many = multi ? db.prepare(`${head} ${Array(ROWS_PER_INSERT).fill(row).join(', ')} ${tail}`) : undefined;
    this.params = multi ? new Array<unknown>(width * ROWS_PER_INSERT) : [];
  }

  /** `rows` is flat (`width` values a row). Rows are inserted in order, so `OR IGNORE` keeps the first of two with the same key, as row by row. */
  run(rows: readonly Value[]): void {
    const { width } = this;
    const n = rows.length / width;
    let i = 0;
    if (this.many) {
      const { params } = this;
      const size = ROWS_PER_INSERT * width;
      for (; i + ROWS_PER_INSERT <= n; i += ROWS_PER_INSERT) {
        const base = i * width;
        for (let k = 0; k < size; k++) params[k] = rows[base + k];
        this.many.run(params);
      }
    }
    for (; i < n; i++) this.one.run(rows.slice(i * width, (i + 1) * width));
  }
}

/** Prepared once per import; `write` runs inside the caller's transaction. */
export class BatchWriter {
  private readonly ins: { [K in Table]: Insert };

  constructor(db: Database.Database) {
    this.ins = {
      // A tampered file may repeat a seq: the first copy is kept, the repeat is a finding.
      events: new Insert(db, 'INSERT OR IGNORE INTO events(session, seq, t, type, data, intact) VALUES', 6, true),
      statements: new Insert(db, 'INSERT OR IGNORE INTO statements(session, seq, t, kind, text, name, params) VALUES', 7, true),
      results: new Insert(db, `INSERT OR IGNORE INTO results(session, seq, t, statement, kind, command, row_count, rows_recorded, columns,
        duration, code, message, masked_values) VALUES`, 13, true),
      sensitive: new Insert(db, 'INSERT INTO sensitive_fields(session, seq, statement, field, rule, masked, count) VALUES', 7, true),
      decisions: new Insert(db, `INSERT OR IGNORE INTO policy_decisions(session, seq, t, statement, action, rule, approval_id, actor, message)
        VALUES`, 9, true),
      // Request and decision arrive as separate events: later values fill in, never erase, earlier ones (row by row).
      approvals: new Insert(db, 'INSERT INTO approvals(id, session, statement, operation, requested_t, status, approver, decided_t, waited_micros, reason) VALUES', 10, false,
        `ON CONFLICT(id) DO UPDATE SET statement = coalesce(excluded.statement, statement), operation = coalesce(excluded.operation, operation),
          requested_t = coalesce(requested_t, excluded.requested_t), status = excluded.status, approver = coalesce(excluded.approver, approver),
          decided_t = coalesce(excluded.decided_t, decided_t), waited_micros = coalesce(excluded.waited_micros, waited_micros),
          reason = coalesce(excluded.reason, reason)`),
      keyframes: new Insert(db, 'INSERT OR REPLACE INTO keyframes(session, seq, t, cols, rows, screen) VALUES', 6, false),
      // The session row exists from the start of the import; the finishing transaction leaves these columns alone.
      sessionEnds: new Insert(db, 'UPDATE sessions SET end_cause = ?, end_actor = ? WHERE id = ?', 3, false),
      decodeFindings: new Insert(db, `INSERT INTO findings(file_id, kind, line, seq, message)
        SELECT id, 'undecodable-event', NULL, ?, ? FROM files WHERE session_id = ? AND state = 'importing'`, 3, false),
    };
  }

  write(b: Batch): void {
    for (const key of Object.keys(this.ins) as Table[]) this.ins[key].run(b[key]);
  }
}
