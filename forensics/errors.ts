/**
 * Errors of the forensic store, with a stable code (never changed once shipped).
 * The message is what a responder reads; `detail` is the internal cause.
 */
export type ForensicsErrorCode =
  | 'CASE_NEWER_SCHEMA' // written by a newer hopscope
  | 'CASE_NOT_A_CASE' // not a SQLite file, or not a hopscope case file
  | 'CASE_LOCKED' // another process holds the write lock
  | 'CASE_READ_ONLY'
  | 'DISK_FULL'
  | 'CASE_IO'
  | 'SESSION_UNKNOWN'
  | 'SESSION_AMBIGUOUS'
  | 'TIME_OUT_OF_RANGE';

export class ForensicsError extends Error {
  readonly code: ForensicsErrorCode;
  readonly detail: string | undefined;

  constructor(code: ForensicsErrorCode, message: string, detail?: string) {
    super(message);
    this.name = 'ForensicsError';
    this.code = code;
    this.detail = detail;
  }
}

/** Turns a SqliteError (better-sqlite3 sets `code`) into a sentence a responder can act on. */
export function describeSqliteError(err: unknown, path: string): ForensicsError | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return undefined;
  const detail = (err as Error).message;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new ForensicsError('CASE_LOCKED', `the case file ${path} is locked by another process (another import or the workbench); try again when it is done`, detail);
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH') {
    return new ForensicsError('CASE_READ_ONLY', `the case file ${path} cannot be written (read-only file or folder, or no permission)`, detail);
  }
  if (code === 'SQLITE_FULL') {
    return new ForensicsError('DISK_FULL', `the disk holding ${path} is full; the import was rolled back, free some space and run it again`, detail);
  }
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new ForensicsError('CASE_NOT_A_CASE', `${path} is not a hopscope case file (not a SQLite database, or damaged)`, detail);
  }
  if (code.startsWith('SQLITE_IOERR')) return new ForensicsError('CASE_IO', `cannot read or write the case file ${path}: ${detail}`, detail);
  return undefined;
}
