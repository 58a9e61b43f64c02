import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TempDir } from '../../common/recording/testing/recordings.js';
import { importFile } from '../import/importer.js';
import { writeScenario } from '../testing/scenario.js';
import { PAGE_SIZE, caseDb, openCase } from './case.js';
import { SCHEMA_VERSION } from './schema.js';

let tmp: TempDir;
beforeEach(() => (tmp = new TempDir()));
afterEach(() => tmp.remove());

describe('case file', () => {
  it('creates a WAL case file at the current schema version', () => {
    const c = openCase(join(tmp.path, 'case.db'));
    expect(caseDb(c).pragma('journal_mode', { simple: true })).toBe('wal');
    expect(caseDb(c).pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(caseDb(c).pragma('page_size', { simple: true })).toBe(PAGE_SIZE);
    c.close();
    const again = openCase(join(tmp.path, 'case.db'), { readonly: true });
    expect(again.schemaVersion).toBe(SCHEMA_VERSION);
    again.close();
  });

  it('keeps the page size of a case file made with another one', () => {
    const path = join(tmp.path, 'case.db');
    // A case file written before 16 KiB pages: it has pages (a table) and hopscope's application id.
    const raw = new Database(path);
    raw.pragma('page_size = 4096');
    raw.pragma('application_id = 0x68707363');
    raw.exec('CREATE TABLE written_before(x)');
    raw.close();
    const older = openCase(path);
    expect(caseDb(older).pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(caseDb(older).pragma('page_size', { simple: true })).toBe(4096);
    older.close();
  });

  it('refuses a case file from a newer schema without touching it', () => {
    const path = join(tmp.path, 'case.db');
    openCase(path).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => openCase(path)).toThrow(`the case file ${path} uses schema version ${SCHEMA_VERSION + 1}, newer than this hopscope supports (${SCHEMA_VERSION}); upgrade hopscope to open it`);
    const check = new Database(path);
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1);
    check.close();
  });

  it('refuses files that are not case files', () => {
    const text = tmp.write('notes.db', 'just some text, long enough to not be a database header at all......'.repeat(20));
    expect(() => openCase(text)).toThrow(/is not a hopscope case file/);
    const other = join(tmp.path, 'other.db');
    const raw = new Database(other);
    raw.exec('CREATE TABLE t(x)');
    raw.close();
    expect(() => openCase(other)).toThrow(`${other} is a SQLite database but not a hopscope case file`);
    expect(() => openCase(join(tmp.path, 'missing.db'), { readonly: true })).toThrow(/no such case file/);
  });

  it('reports a case file locked by another writer, and leaves it consistent', async () => {
    const sc = writeScenario(tmp.path);
    const path = join(tmp.path, 'case.db');
    const c = openCase(path, { busyTimeoutMs: 50 });
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    const r = await importFile(c, sc.files.pg, { trusted: sc.trusted });
    expect(r.action).toBe('failed');
    expect(r.message).toBe(`the case file ${path} is locked by another process (another import or the workbench); try again when it is done`);
    other.exec('ROLLBACK');
    other.close();
    expect((caseDb(c).prepare('SELECT count(*) AS n FROM sessions').get() as { n: number }).n).toBe(0);
    expect((await importFile(c, sc.files.pg, { trusted: sc.trusted })).action).toBe('imported');
    c.close();
  });

  it('reports a read-only case file clearly', async () => {
    const sc = writeScenario(tmp.path);
    const path = join(tmp.path, 'case.db');
    openCase(path).close();
    const ro = openCase(path, { readonly: true });
    const r = await importFile(ro, sc.files.pg, { trusted: sc.trusted });
    expect(r).toMatchObject({ action: 'failed', message: `the case file ${path} cannot be written (read-only file or folder, or no permission)` });
    ro.close();
  });
});
