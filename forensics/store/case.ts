import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { ForensicsError, describeSqliteError } from '../errors.js';
import { MIGRATIONS, SCHEMA_VERSION, SESSION_TABLES } from './schema.js';

export interface OpenCaseOptions {
  /** Open for reading only (exports, show, the workbench's viewer); fails if the file does not exist. */
  readonly?: boolean;
  /** How long to wait for another writer's lock, in ms (default 5000). */
  busyTimeoutMs?: number;
}

/**
 * An open case file. Its tables are private to forensics/: the CLI, the workbench and the exports read it
 * through the functions of forensics/index.ts; code inside forensics/ reaches the database with `caseDb`.
 */
export interface CaseFile {
  readonly path: string;
  readonly schemaVersion: number;
  close(): void;
}

const databases = new WeakMap<CaseFile, Database.Database>();

/** The SQLite handle of an open case file: for forensics/ only (eslint keeps other modules out of forensics/store). */
export function caseDb(c: CaseFile): Database.Database {
  const db = databases.get(c);
  if (!db) throw new ForensicsError('CASE_NOT_A_CASE', `${c.path} is not a case file opened by openCase`);
  return db;
}

/** Page size of a new case file (bytes). */
export const PAGE_SIZE = 16384;

const APPLICATION_ID = 0x68707363; // 'hpsc': marks a SQLite file as a hopscope case file

/**
 * The `files.sha256` of an import in progress (followed by a random id, as the
 * column is unique): the importer hashes the file while it reads it, and writes
 * the SHA-256 in the transaction that completes the import.
 */
export const PENDING_HASH = 'pending:';

/**
 * Opens (creating if needed) a case file: WAL, foreign keys, migrations up to
 * this version. A file from a newer schema is refused, never touched; the rows
 * of an import that crashed half-way are swept, so a case is always consistent.
 */
export function openCase(path: string, opts: OpenCaseOptions = {}): CaseFile {
  if (opts.readonly && !existsSync(path)) throw new ForensicsError('CASE_NOT_A_CASE', `no such case file: ${path}`);
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false, timeout: opts.busyTimeoutMs ?? 5000 });
    const version = db.pragma('user_version', { simple: true }) as number;
    const appId = db.pragma('application_id', { simple: true }) as number;
    const empty = version === 0 && (db.prepare("SELECT count(*) AS n FROM sqlite_master").get() as { n: number }).n === 0;
    if (!empty && appId !== APPLICATION_ID) {
      throw new ForensicsError('CASE_NOT_A_CASE', `${path} is a SQLite database but not a hopscope case file`);
    }
    if (version > SCHEMA_VERSION) {
      throw new ForensicsError('CASE_NEWER_SCHEMA',
        `the case file ${path} uses schema version ${version}, newer than this hopscope supports (${SCHEMA_VERSION}); upgrade hopscope to open it`);
    }
    if (!opts.readonly) {
      // A new case gets 16 KiB pages (set before anything is written; an existing case keeps its own). The
      // events rows hold each event's data JSON (~300 bytes in a gateway's mix) in a WITHOUT ROWID tree, so
      // 4 KiB pages split every dozen rows; with 16 KiB pages writing an import's rows took about a fifth less
      // CPU (docs/BENCHMARKS.md, import). The cache below is in KiB, so its memory is the same.
      if (empty) db.pragma(`page_size = ${PAGE_SIZE}`);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      // Imports append in key order, so the hot pages are the right edges of the trees: 16 MiB holds
      // them (64 MiB was no faster) and is part of an import's memory, which must not grow with the file.
      db.pragma('cache_size = -16384');
      db.pragma('temp_store = MEMORY');
      db.pragma('foreign_keys = ON');
      migrate(db, version);
      sweepHalfImports(db);
    } else if (version < SCHEMA_VERSION) {
      throw new ForensicsError('CASE_READ_ONLY', `the case file ${path} uses schema version ${version} and must be migrated; open it once for writing (e.g. hopscope import)`);
    }
    const opened = db;
    const c: CaseFile = { path, schemaVersion: SCHEMA_VERSION, close: () => opened.close() };
    databases.set(c, opened);
    return c;
  } catch (err) {
    db?.close();
    throw describeSqliteError(err, path) ?? err;
  }
}

function migrate(db: Database.Database, from: number): void {
  for (let v = from; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      if (v === 0) {
        db.pragma(`application_id = ${APPLICATION_ID}`);
        db.prepare('INSERT INTO case_info(key, value) VALUES (?, ?)').run('created_at', String(Date.now() * 1000));
      }
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

/** Removes every row of files whose import did not finish (a crash, a kill, a full disk). */
export function sweepHalfImports(db: Database.Database): number {
  const stale = db.prepare("SELECT id, session_id FROM files WHERE state = 'importing'").all() as { id: number; session_id: string | null }[];
  if (stale.length === 0) return 0;
  db.transaction(() => {
    for (const f of stale) {
      if (f.session_id) deleteSessionRows(db, f.session_id);
      // An interrupted import never finished reading its file: its hash is not known.
      db.prepare(`INSERT INTO custody(at, path, sha256, size, action, session_id, detail) SELECT ?, path,
        CASE WHEN substr(sha256, 1, ${PENDING_HASH.length}) = '${PENDING_HASH}' THEN NULL ELSE sha256 END, size, 'failed', session_id,
        'an interrupted import was rolled back' FROM files WHERE id = ?`).run(Date.now() * 1000, f.id);
      db.prepare('DELETE FROM findings WHERE file_id = ?').run(f.id);
      db.prepare('DELETE FROM files WHERE id = ?').run(f.id);
    }
  })();
  return stale.length;
}

export function deleteSessionRows(db: Database.Database, session: string): void {
  for (const table of SESSION_TABLES) db.prepare(`DELETE FROM ${table} WHERE session = ?`).run(session);
  db.prepare('DELETE FROM hops WHERE child = ?').run(session);
  db.prepare('DELETE FROM sessions WHERE id = ?').run(session);
}
