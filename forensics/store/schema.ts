/**
 * The case file's schema, as an append-only list of migrations: migration i
 * brings `PRAGMA user_version` from i to i+1. Shipped migrations never change;
 * a new version adds one at the end. Times are microseconds since the epoch, as
 * in recordings; JSON columns hold the recording's own values.
 */
export const MIGRATIONS: readonly string[] = [
  // v1
  `
  CREATE TABLE case_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);

  -- One row per distinct file content (SHA-256): the chain of custody of what was imported.
  CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    imported_at INTEGER NOT NULL,
    session_id TEXT,
    protocol TEXT,
    key_id TEXT,
    key_trusted INTEGER NOT NULL DEFAULT 0,
    integrity TEXT NOT NULL,            -- IntegrityStatus of the verifier
    sealed INTEGER NOT NULL DEFAULT 0,
    events INTEGER NOT NULL DEFAULT 0,
    last_seq INTEGER NOT NULL DEFAULT 0,
    intact_through INTEGER NOT NULL DEFAULT 0,
    signed_through INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL                 -- importing | complete | superseded (importing rows are swept on open)
  );
  -- Every import attempt, including no-ops, conflicts and rejections.
  CREATE TABLE custody (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT,
    size INTEGER,
    action TEXT NOT NULL,               -- imported | unchanged | conflict | rejected | failed
    session_id TEXT,
    detail TEXT
  );
  CREATE TABLE findings (
    file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    kind TEXT NOT NULL, line INTEGER, seq INTEGER, message TEXT NOT NULL
  );
  CREATE INDEX findings_file ON findings(file_id);

  CREATE TABLE identities (name TEXT PRIMARY KEY, kind TEXT);
  CREATE TABLE targets (name TEXT PRIMARY KEY, protocol TEXT);
  CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES files(id),
    protocol TEXT NOT NULL,
    identity TEXT, token_id TEXT, token_kind TEXT, target TEXT, client TEXT,
    start_t INTEGER, end_t INTEGER, end_reason TEXT,
    parent TEXT, link_kind TEXT,
    root_identity TEXT, depth INTEGER NOT NULL DEFAULT 0,
    integrity TEXT NOT NULL,
    cols INTEGER, rows INTEGER,
    terminal_channel TEXT,             -- JSON: the SSH channel whose output is the terminal
    start_data TEXT
  );
  CREATE INDEX sessions_parent ON sessions(parent);
  -- Edges of the chain graph: child session -> parent session.
  CREATE TABLE hops (
    child TEXT PRIMARY KEY, parent TEXT NOT NULL, link_kind TEXT NOT NULL,
    inferred INTEGER NOT NULL, evidence TEXT
  );
  CREATE INDEX hops_parent ON hops(parent);

  CREATE TABLE events (
    session TEXT NOT NULL, seq INTEGER NOT NULL, t INTEGER NOT NULL, type TEXT NOT NULL,
    data TEXT NOT NULL, intact INTEGER NOT NULL,
    PRIMARY KEY (session, seq)
  ) WITHOUT ROWID;
  CREATE INDEX events_time ON events(session, t);

  -- SQL statements, exec commands and typed shell lines; FTS5 over their text.
  CREATE TABLE statements (
    id INTEGER PRIMARY KEY,
    session TEXT NOT NULL, seq INTEGER NOT NULL, t INTEGER NOT NULL,
    kind TEXT NOT NULL,                 -- sql | exec | line
    text TEXT NOT NULL, name TEXT, params TEXT,
    UNIQUE (session, seq)
  );
  CREATE VIRTUAL TABLE statements_fts USING fts5(text, content='statements', content_rowid='id');
  -- Filled in bulk by the transaction that completes a file's import (per-row triggers cost 15x more),
  -- so a half-imported session never has index rows to undo.

  -- Responses: results, errors, notices, exit statuses; masked counts per response.
  CREATE TABLE results (
    session TEXT NOT NULL, seq INTEGER NOT NULL, t INTEGER NOT NULL, statement INTEGER,
    kind TEXT NOT NULL,                 -- result | error | notice | exit
    command TEXT, row_count INTEGER, rows_recorded INTEGER, columns TEXT, duration INTEGER,
    code TEXT, message TEXT, masked_values INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (session, seq)
  ) WITHOUT ROWID;
  CREATE INDEX results_statement ON results(session, statement);
  -- Per response, which fields were masked by which rule, or returned unmasked while looking sensitive.
  CREATE TABLE sensitive_fields (
    session TEXT NOT NULL, seq INTEGER NOT NULL, statement INTEGER,
    field TEXT NOT NULL, rule TEXT, masked INTEGER NOT NULL, count INTEGER NOT NULL
  );
  CREATE INDEX sensitive_fields_seq ON sensitive_fields(session, seq);

  CREATE TABLE policy_decisions (
    session TEXT NOT NULL, seq INTEGER NOT NULL, t INTEGER NOT NULL, statement INTEGER,
    action TEXT NOT NULL,               -- block | review | allow | approved | denied | timeout | revoked
    rule TEXT, approval_id TEXT, actor TEXT, message TEXT,
    PRIMARY KEY (session, seq)
  ) WITHOUT ROWID;
  CREATE INDEX policy_statement ON policy_decisions(session, statement);
  CREATE TABLE approvals (
    id TEXT PRIMARY KEY, session TEXT NOT NULL, statement INTEGER, operation TEXT,
    requested_t INTEGER, status TEXT NOT NULL, approver TEXT, decided_t INTEGER, waited_micros INTEGER
  );

  -- Terminal screen state at intervals (@xterm/addon-serialize), so seeking never replays from the start.
  CREATE TABLE keyframes (
    session TEXT NOT NULL, seq INTEGER NOT NULL, t INTEGER NOT NULL,
    cols INTEGER NOT NULL, rows INTEGER NOT NULL, screen TEXT NOT NULL,
    PRIMARY KEY (session, seq)
  ) WITHOUT ROWID;

  -- Terminal streams are events; this names them.
  CREATE VIEW terminal AS
    SELECT session, seq, t, type, data FROM events
    WHERE type IN ('ssh.output', 'ssh.input', 'ssh.resize');
  `,
  // v2: what the typed events carry (issue 13): how a session ended and who revoked it, an approval's reason.
  `
  ALTER TABLE sessions ADD COLUMN end_cause TEXT;   -- END_CAUSES (common/recording/events.ts)
  ALTER TABLE sessions ADD COLUMN end_actor TEXT;   -- who revoked, for a revoked or ancestor-revoked end
  ALTER TABLE approvals ADD COLUMN reason TEXT;     -- the approver's reason
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** The tables that hold one session's rows, keyed by a `session` column (for rollback of a failed import). */
export const SESSION_TABLES = ['events', 'statements', 'results', 'sensitive_fields', 'policy_decisions', 'approvals', 'keyframes'] as const;
