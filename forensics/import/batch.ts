import type Database from 'better-sqlite3';

/** Rows staged for one synchronous transaction; tuples in the column order of the inserts below. */
export interface Batch {
  events: [session: string, seq: number, t: number, type: string, data: string, intact: number][];
  statements: [session: string, seq: number, t: number, kind: string, text: string, name: string | null, params: string | null][];
  results: [session: string, seq: number, t: number, statement: number | null, kind: string, command: string | null,
    rowCount: number | null, rowsRecorded: number | null, columns: string | null, duration: number | null,
    code: string | null, message: string | null, masked: number][];
  sensitive: [session: string, seq: number, statement: number | null, field: string, rule: string | null, masked: number, count: number][];
  decisions: [session: string, seq: number, t: number, statement: number | null, action: string, rule: string | null,
    approvalId: string | null, actor: string | null, message: string | null][];
  approvals: [id: string, session: string, statement: number | null, operation: string | null, requestedT: number | null,
    status: string, approver: string | null, decidedT: number | null, waited: number | null][];
  keyframes: [session: string, seq: number, t: number, cols: number, rows: number, screen: string][];
}

export function emptyBatch(): Batch {
  return { events: [], statements: [], results: [], sensitive: [], decisions: [], approvals: [], keyframes: [] };
}

export function batchSize(b: Batch): number {
  return b.events.length + b.statements.length + b.results.length + b.sensitive.length + b.decisions.length + b.keyframes.length;
}

/** Prepared once per import; `write` runs inside the caller's transaction. */
export class BatchWriter {
  private readonly ins: { [K in keyof Batch]: Database.Statement };

  constructor(db: Database.Database) {
    this.ins = {
      // A tampered file may repeat a seq: the first copy is kept, the repeat is a finding.
      events: db.prepare('INSERT OR IGNORE INTO events(session, seq, t, type, data, intact) VALUES (?, ?, ?, ?, ?, ?)'),
      statements: db.prepare('INSERT OR IGNORE INTO statements(session, seq, t, kind, text, name, params) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      results: db.prepare(`INSERT OR IGNORE INTO results(session, seq, t, statement, kind, command, row_count, rows_recorded, columns,
        duration, code, message, masked_values) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      sensitive: db.prepare('INSERT INTO sensitive_fields(session, seq, statement, field, rule, masked, count) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      decisions: db.prepare(`INSERT OR IGNORE INTO policy_decisions(session, seq, t, statement, action, rule, approval_id, actor, message)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      // Request and decision arrive as separate events: later values fill in, never erase, earlier ones.
      approvals: db.prepare(`INSERT INTO approvals(id, session, statement, operation, requested_t, status, approver, decided_t, waited_micros)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET statement = coalesce(excluded.statement, statement), operation = coalesce(excluded.operation, operation),
          requested_t = coalesce(requested_t, excluded.requested_t), status = excluded.status, approver = coalesce(excluded.approver, approver),
          decided_t = coalesce(excluded.decided_t, decided_t), waited_micros = coalesce(excluded.waited_micros, waited_micros)`),
      keyframes: db.prepare('INSERT OR REPLACE INTO keyframes(session, seq, t, cols, rows, screen) VALUES (?, ?, ?, ?, ?, ?)'),
    };
  }

  write(b: Batch): void {
    for (const key of Object.keys(this.ins) as (keyof Batch)[]) {
      const stmt = this.ins[key];
      for (const row of b[key]) stmt.run(...(row as unknown[]));
    }
  }
}
