import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trustedKeysOf } from '../common/keys.js';
import { buildChain, answersOf, importPaths, listSessions, openCase, showSession } from '../forensics/index.js';
import { eventually, readEvents, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startPostgres, type PgServer } from './helpers/postgres.js';
import { libpqEnv, run } from './helpers/processes.js';
import { caseDb } from '../forensics/store/case.js';

// Real recordings: psql and node-postgres through the real gateway in front of a real PostgreSQL,
// then imported, listed, chained, shown and exported by the library and by the built CLI.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'bin', 'hopscope');
let db: PgServer;
let gw: TestGateway;
let work: string;
let recordings: string;

function hopscope(args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: work, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  for (const cmd of ['import', 'sessions', 'chain', 'show', 'export']) {
    const built = join(root, 'dist', 'bin', 'commands', `${cmd}.js`);
    const source = join(root, 'bin', 'commands', `${cmd}.ts`);
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(source).mtimeMs) throw new Error(`${built} is missing or stale: run \`npm run build\` first`);
  }
  db = await startPostgres();
  gw = await startTestGateway(db);
  work = mkdtempSync(join(tmpdir(), 'hopscope-forensics-'));
  const env = libpqEnv(gw.conn());
  const setup = await run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-c',
    "CREATE TABLE customers(id int, email text, ssn text); INSERT INTO customers VALUES (1, 'ada@example.com', '123-45-6789'), (2, 'grace@example.com', '987-65-4321')"], { env });
  expect(setup.stderr).toBe('');
  const select = await run('psql', ['-X', '-A', '-t', '-c', 'SELECT email, ssn FROM customers ORDER BY id'], { env: { ...env, PGAPPNAME: 'forensics-psql' } });
  expect(select.stdout).toContain('ada@example.com');
  const client = new pg.Client({ ...gw.conn(), application_name: 'forensics-node' });
  await client.connect();
  await client.query('SELECT $1::int + 1 AS n', [41]);
  await expect(client.query('SELECT * FROM missing_table')).rejects.toThrow(/missing_table/);
  await client.end();
  await run('psql', ['-X', '-c', 'SELECT 1'], { env: libpqEnv(gw.conn('outsider', 'db')) }); // refused: recorded in the audit file
  await eventually(async () => {
    const files = await gw.sessionFiles();
    const ends = await Promise.all(files.map(async (f) => (await readEvents(f)).at(-1)?.type));
    return files.length >= 3 && ends.every((t) => t === 'seal') ? true : undefined;
  });
  recordings = join(work, 'recordings');
  cpSync(gw.recordingsDir, recordings, { recursive: true }); // a copy: the audit file stays open while the gateway runs
  writeFileSync(join(work, 'gateway.pub'), gw.gateway.signer.publicKey);
});

afterAll(async () => {
  await gw?.stop();
  await db?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('forensics on real gateway recordings', () => {
  it('imports them intact, with statements, results and errors, idempotently', async () => {
    const c = openCase(join(work, 'lib.db'));
    try {
      const trusted = trustedKeysOf([gw.gateway.signer.publicKey]);
      const first = await importPaths(c, [recordings], { trusted });
      const sessionFiles = first.files.filter((f) => !f.path.includes('gateway-'));
      expect(sessionFiles.length).toBe(3);
      expect(sessionFiles.every((f) => f.action === 'imported' && f.integrity === 'intact' && f.sealed)).toBe(true);
      const sessions = listSessions(c);
      expect(sessions.every((s) => s.protocol === 'postgres' && s.identity === 'agent' && s.target === 'db' && s.depth === 0)).toBe(true);
      const psqlSession = caseDb(c).prepare("SELECT id FROM sessions WHERE json_extract(start_data, '$.params.application_name') = 'forensics-psql'").get() as { id: string };
      const show = [...showSession(c, psqlSession.id)].join('\n');
      expect(show).toMatch(/→ SQL {2}SELECT email, ssn FROM customers ORDER BY id\n.*← SELECT 2 · 2 rows/);
      expect(show).toMatch(/ada@example\.com +\| 123-45-6789/);
      // No masking configured: the importer flags sensitive-looking values returned unmasked.
      const a = answersOf(buildChain(c));
      expect(a.sensitive.filter((s) => s.session === psqlSession.id).map((s) => [s.field, s.masked, s.count]))
        .toEqual([['email', false, 2], ['ssn', false, 2]]);
      const errors = caseDb(c).prepare("SELECT code FROM results WHERE kind = 'error'").all();
      expect(errors).toContainEqual({ code: '42P01' });
      const fts = caseDb(c).prepare("SELECT count(*) AS n FROM statements_fts WHERE statements_fts MATCH 'customers'").get() as { n: number };
      expect(fts.n).toBeGreaterThanOrEqual(2);
      const refusal = caseDb(c).prepare("SELECT action, rule FROM policy_decisions WHERE action = 'refused'").get();
      expect(refusal).toEqual({ action: 'refused', rule: 'TARGET_NOT_ALLOWED' });
      const again = await importPaths(c, [recordings], { trusted });
      expect(again.imported).toBe(0);
      expect(again.unchanged).toBe(first.imported);
    } finally {
      c.close();
    }
  });

  it('works end to end from the CLI: import, sessions, chain, show, export', () => {
    const imp = hopscope(['import', recordings, '--db', 'case.db', '--key', 'gateway.pub', '--json']);
    expect(imp.stderr).toBe('');
    const summary = JSON.parse(imp.stdout) as { imported: number; allIntact: boolean; files: { path: string; integrity: string }[] };
    expect(summary.imported).toBe(4); // three sessions and the gateway's audit file
    // The audit file was copied while the gateway runs: it is unsealed (unverified), so not everything is intact.
    expect(summary.files.find((f) => f.path.includes('gateway-'))?.integrity).toBe('unverified');
    expect(imp.status).toBe(1);
    const again = hopscope(['import', recordings, '--db', 'case.db', '--key', 'gateway.pub']);
    expect(again.stdout).toMatch(/0 imported \(0 events\), \d+ already present, 0 conflicts, 0 rejected, 0 failed/);

    const sessions = hopscope(['sessions', '--db', 'case.db', '--json']);
    expect(sessions.status).toBe(0);
    const list = JSON.parse(sessions.stdout) as Record<string, unknown>[];
    for (const s of list) {
      for (const k of ['id', 'parent', 'linkKind', 'rootIdentity', 'identity', 'target', 'protocol', 'start', 'end', 'integrity']) expect(s).toHaveProperty(k);
      expect(s).toMatchObject({ rootIdentity: 'agent', protocol: 'postgres', integrity: 'intact', parent: null });
    }
    const text = hopscope(['sessions', '--db', 'case.db']);
    expect(text.stdout.split('\n')[0]).toMatch(/^SESSION\s+PROTOCOL\s+ROOT\s+DEPTH/);

    const chain = hopscope(['chain', '--db', 'case.db', '--format', 'json']);
    expect(chain.status).toBe(0);
    const parsed = JSON.parse(chain.stdout) as { roots: { identity: string }[]; answers: { triggeredBy: { identity: string }[] } };
    expect(parsed.answers.triggeredBy.map((t) => t.identity)).toEqual(['agent']);
    for (const format of ['text', 'dot', 'mermaid']) expect(hopscope(['chain', '--db', 'case.db', '--format', format]).status).toBe(0);
    expect(hopscope(['chain', '--db', 'case.db', '--format', 'svg'])).toMatchObject({ status: 2, stderr: 'hopscope: unknown format svg: use text, json, dot or mermaid\n' });

    const id = String(list[0]!.id);
    const show = hopscope(['show', '--db', 'case.db', '--session', id]);
    expect(show.status).toBe(0);
    expect(show.stdout.split('\n')[0]).toBe(`session ${id}  postgres  agent → db  (root identity agent, depth 0)`);
    expect(hopscope(['show', '--db', 'case.db', '--session', 'nope'])).toMatchObject({ status: 1, stderr: expect.stringMatching(/^hopscope: no session nope in the case file case\.db /) });
    // The forms the workbench and `sessions` show name the same session: its random part, shortened, or a prefix of it.
    const tail = id.slice(id.indexOf('-') + 1);
    for (const name of [tail, `${tail.slice(0, 8)}…${tail.slice(-8)}`, tail.slice(0, 8)]) {
      const named = hopscope(['show', '--db', 'case.db', '--session', name]);
      expect(named.status, `${name}: ${named.stderr}`).toBe(0);
      expect(named.stdout).toBe(show.stdout);
    }
    expect(hopscope(['chain', '--db', 'case.db', '--session', tail.slice(0, 8)]).stdout).toContain(id);
    expect(hopscope(['show', '--db', 'case.db', '--session', tail.slice(0, 3)]).status).toBe(1); // too short to name one

    for (const format of ['timesketch', 'csv', 'jsonl', 'ocsf', 'html']) {
      const r = hopscope(['export', '--db', 'case.db', '--format', format, '--out', `out.${format}`]);
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(join(work, `out.${format}`), 'utf8').length).toBeGreaterThan(100);
    }
    // A PostgreSQL hop is not a terminal: no header-only cast with status 0, but a refusal that says what to use instead.
    const cast = hopscope(['export', '--db', 'case.db', '--format', 'asciicast', '--session', id, '--out', 'pg.cast']);
    expect(cast.status).toBe(1);
    expect(cast.stderr).toMatch(new RegExp(`^hopscope: session ${id} is a PostgreSQL hop, not a terminal: asciicast plays SSH sessions only; export it as jsonl, timesketch, csv, ocsf or html`));
    expect(existsSync(join(work, 'pg.cast'))).toBe(false);
    const ts = readFileSync(join(work, 'out.timesketch'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(ts.some((r) => r.event_type === 'pg.query' && r.message === 'SQL: SELECT email, ssn FROM customers ORDER BY id')).toBe(true);
    expect(ts.some((r) => r.event_type === 'refused' && r.policy_action === 'refused')).toBe(true);
  });

  it('refuses a missing case file and a newer one with a clear message', () => {
    expect(hopscope(['sessions', '--db', 'nothing.db'])).toMatchObject({ status: 1, stderr: 'hopscope: no such case file: nothing.db\n' });
    writeFileSync(join(work, 'text.db'), 'not sqlite at all '.repeat(100));
    const r = hopscope(['import', recordings, '--db', 'text.db', '--key', 'gateway.pub']);
    expect(r).toMatchObject({ status: 1, stderr: 'hopscope: text.db is not a hopscope case file (not a SQLite database, or damaged)\n' });
  });
});
