// Forgery by someone who can write to the recordings folder but has no gateway
// key. Real recordings: psql and node-postgres through the real gateway in front
// of a real PostgreSQL; then each forgery is built on a copy of the folder, and
// `hopscope verify` (the built CLI: output and exit status) and `import` (the case
// file's integrity column, its custody rows) must both name it.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../common/clock.js';
import { generateSigner, loadTrustedKeys } from '../common/keys.js';
import { RecordingEncoder, lineHash, EventType, JOURNAL_FILE } from '../common/recording/index.js';
import { rechain, withField } from '../common/recording/testing/recordings.js';
import { CaseBackend } from '../workbench/node/backend.js';
import { importPaths, openCase } from '../forensics/index.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startPostgres, type PgServer } from './helpers/postgres.js';
import { libpqEnv, run } from './helpers/processes.js';
import { caseDb } from '../forensics/store/case.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'bin', 'hopscope');
let db: PgServer;
let gw: TestGateway;
let work: string;
/** The untouched folder of the gateway's recordings (copied for each forgery). */
let pristine: string;
let keysDir: string;
let sessions: string[]; // session file names (not the audit file), in the order they were opened

interface Report { path: string; kind?: string; status: string; session: string | null; tamperedAtSeq?: number; journal?: string }

function verify(dir: string): { status: number | null; reports: Report[]; text: string } {
  const json = spawnSync(process.execPath, [cli, 'verify', '--json', '--key', keysDir, dir], { encoding: 'utf8', timeout: 60_000 });
  const text = spawnSync(process.execPath, [cli, 'verify', '--key', keysDir, dir], { encoding: 'utf8', timeout: 60_000 });
  expect(text.status, text.stderr).toBe(json.status);
  return { status: json.status, reports: JSON.parse(json.stdout) as Report[], text: text.stdout };
}

async function imported(dir: string) {
  const c = openCase(join(dir, '..', `case-${basename(dir)}.db`));
  try {
    const summary = await importPaths(c, [dir], { trusted: loadTrustedKeys([keysDir]), writeThread: false });
    const files = caseDb(c).prepare("SELECT path, integrity FROM files WHERE state = 'complete'").all() as { path: string; integrity: string }[];
    const sessionsRows = caseDb(c).prepare('SELECT s.id, s.integrity FROM sessions s').all() as { id: string; integrity: string }[];
    const custody = caseDb(c).prepare("SELECT action, session_id, detail FROM custody WHERE action IN ('missing', 'journal')").all() as { action: string; session_id: string | null; detail: string }[];
    return { summary, byFile: new Map(files.map((f) => [basename(f.path), f.integrity])), sessionsRows, custody };
  } finally {
    c.close();
  }
}

/** A fresh copy of the gateway's folder to forge in. */
function copy(name: string): string {
  const dir = join(work, name);
  cpSync(pristine, dir, { recursive: true });
  return dir;
}

const lines = (path: string) => readFileSync(path, 'utf8').split('\n').slice(0, -1);
const write = (path: string, ls: string[]) => writeFileSync(path, `${ls.join('\n')}\n`);
const stateOf = (r: { reports: Report[] }, file: string) => r.reports.find((x) => basename(x.path) === file);

beforeAll(async () => {
  const built = join(root, 'dist', 'bin', 'commands', 'verify.js');
  if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(root, 'bin', 'commands', 'verify.ts')).mtimeMs) {
    throw new Error(`${built} is missing or stale: run \`npm run build\` first`);
  }
  db = await startPostgres();
  gw = await startTestGateway(db);
  const env = libpqEnv(gw.conn());
  expect((await run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-c', 'CREATE TABLE customers(id int, name text); INSERT INTO customers VALUES (1, $$ada$$)'], { env })).stderr).toBe('');
  for (let i = 0; i < 3; i++) {
    const client = new pg.Client(gw.conn());
    await client.connect();
    for (let q = 0; q < 5; q++) await client.query('SELECT name FROM customers WHERE id = $1', [1]);
    await client.end();
  }
  await gw.gateway.stop(); // seals every recording and closes the journal; its folder is kept until gw.stop()
  work = mkdtempSync(join(tmpdir(), 'hopscope-forgery-'));
  pristine = join(work, 'pristine');
  keysDir = join(work, 'keys');
  cpSync(gw.recordingsDir, pristine, { recursive: true });
  cpSync(gw.keysDir, keysDir, { recursive: true });
  await gw.stop();
  // In the order the gateway opened them (the journal's), not by name: ids within one second sort at random.
  const opened = lines(join(pristine, JOURNAL_FILE)).slice(1).map((l) => JSON.parse(l) as { type: string; file: string })
    .filter((e) => e.type === 'open' && !e.file.startsWith('gateway-')).map((e) => e.file);
  sessions = opened;
  expect(readdirSync(pristine).filter((f) => f.endsWith('.jsonl') && !f.startsWith('gateway-')).sort()).toEqual([...opened].sort());
  expect(sessions).toHaveLength(4);
}, 120_000);
afterAll(async () => {
  await db?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a folder the gateway wrote', () => {
  it('verifies: every file intact, the journal intact, exit 0; import agrees', async () => {
    const r = verify(copy('clean'));
    expect(r.status, r.text).toBe(0);
    expect(r.reports.map((x) => x.status)).toEqual(r.reports.map(() => 'intact'));
    expect(r.reports.filter((x) => x.kind === 'journal')).toHaveLength(1);
    const i = await imported(join(work, 'clean'));
    expect(i.summary.allIntact).toBe(true);
    expect([...i.byFile.values()]).toEqual([...i.byFile.values()].map(() => 'intact'));
  });
});

describe('forgery without the key', () => {
  it('rewrite: a statement edited, the chain recomputed, the seal dropped → tampered', async () => {
    const dir = copy('rewrite');
    const file = join(dir, sessions[1]!);
    const ls = lines(file);
    const at = ls.findIndex((l) => l.includes('"type":"pg.parse"') || l.includes('"type":"pg.query"'));
    ls[at] = withField(ls[at]!, 'data', { sql: 'DROP TABLE customers', statement: '', verdict: 'allow' });
    write(file, rechain(ls.slice(0, -1), at + 1)); // seal dropped, every later link recomputed
    const r = verify(dir);
    expect(r.status).toBe(1);
    expect(stateOf(r, sessions[1]!)).toMatchObject({ status: 'tampered' });
    expect(r.text).toMatch(/TAMPERED .*tampered at seq \d+/);
    expect((await imported(dir)).byFile.get(sessions[1]!)).toBe('tampered');
  });

  it('rewrite of the unsigned tail only (after the last checkpoint), chain recomputed, seal dropped → tampered by the journal', async () => {
    const dir = copy('rewrite-tail');
    const file = join(dir, sessions[2]!);
    const ls = lines(file).slice(0, -1); // the seal
    ls[ls.length - 1] = withField(ls.at(-1)!, 'data', { reason: 'client quit', cause: 'client-quit' });
    write(file, rechain(ls, ls.length - 1));
    const r = verify(dir);
    expect(r.status).toBe(1);
    expect(stateOf(r, sessions[2]!)).toMatchObject({ status: 'tampered' });
    expect(stateOf(r, sessions[2]!)?.journal).toMatch(/rewritten or cut/);
    expect((await imported(dir)).byFile.get(sessions[2]!)).toBe('tampered');
  });

  it('fabrication: a whole session with its own key → unlisted (and unknown-key on its own)', async () => {
    const dir = copy('fabricated');
    const enc = new RecordingEncoder({ session: '20261203T000000Z-000000000000', protocol: 'postgres', signer: generateSigner(), clock: fixedClock(1_764_720_000_000_000, 1000) });
    const forged = [enc.header, enc.event(EventType.SessionStart, { identity: 'alice', tokenId: 'x', tokenKind: 'root', target: 'db', protocol: 'postgres', client: '10.0.0.1:5' }),
      enc.event(EventType.PgQuery, { sql: 'DROP TABLE customers' }), enc.event(EventType.SessionEnd, { reason: 'client quit', cause: 'client-quit' }), enc.seal()];
    const name = '20261203T000000Z-000000000000.jsonl';
    writeFileSync(join(dir, name), forged.join(''));
    const r = verify(dir);
    expect(r.status).toBe(1);
    expect(stateOf(r, name)).toMatchObject({ status: 'unlisted' });
    expect(stateOf(r, name)?.journal).toMatch(/on its own: unknown-key/);
    // The same file alone, outside any journal's folder: unknown-key.
    const alone = mkdtempSync(join(work, 'alone-'));
    writeFileSync(join(alone, name), forged.join(''));
    const single = spawnSync(process.execPath, [cli, 'verify', '--json', '--key', keysDir, join(alone, name)], { encoding: 'utf8' });
    expect(single.status).toBe(1);
    expect((JSON.parse(single.stdout) as Report[])[0]).toMatchObject({ status: 'unknown-key' });
    expect((await imported(dir)).byFile.get(name)).toBe('unlisted');
  });

  it('fabrication with the gateway public key in the header (no signature possible) → unlisted', async () => {
    const dir = copy('fabricated-key');
    const real = lines(join(dir, sessions[0]!));
    const session = '20261203T000001Z-111111111111';
    const header = real[0]!.replace(/"session":"[^"]+"/, `"session":"${session}"`);
    const body = real.slice(1, -1).map((l) => l.replace(/DEALLOCATE|SELECT name/g, 'DROP TABLE customers; --'));
    const forged = rechain([header, ...body], 1);
    writeFileSync(join(dir, `${session}.jsonl`), `${forged.join('\n')}\n`);
    const r = verify(dir);
    expect(r.status).toBe(1);
    expect(stateOf(r, `${session}.jsonl`)).toMatchObject({ status: 'unlisted' });
    expect((await imported(dir)).byFile.get(`${session}.jsonl`)).toBe('unlisted');
  });

  it('deletion: a session file removed → missing, exit 1; import records it in custody', async () => {
    const dir = copy('deleted');
    unlinkSync(join(dir, sessions[3]!));
    const r = verify(dir);
    expect(r.status).toBe(1);
    expect(stateOf(r, sessions[3]!)).toMatchObject({ status: 'missing', session: sessions[3]!.replace(/\.jsonl$/, '') });
    expect(r.text).toMatch(new RegExp(`MISSING +\\S*${sessions[3]}`));
    const i = await imported(dir);
    expect(i.summary.allIntact).toBe(false);
    expect(i.summary.missing).toBe(1);
    expect(i.custody.filter((x) => x.action === 'missing').map((x) => x.session_id)).toEqual([sessions[3]!.replace(/\.jsonl$/, '')]);
  });

  it('the workbench import of a folder checks its journal too: the deleted file is missing, a rewritten one tampered', async () => {
    const dir = copy('workbench');
    unlinkSync(join(dir, sessions[3]!));
    const edited = lines(join(dir, sessions[1]!));
    const at = edited.findIndex((l) => l.includes('"pg.query"') || l.includes('"pg.parse"'));
    edited[at] = edited[at]!.replace('customers', 'custumers');
    write(join(dir, sessions[1]!), rechain(edited.slice(0, -1)));
    const backend = new CaseBackend({ trusted: loadTrustedKeys([keysDir]), workDir: join(work, 'workbench-work'), deliver: async () => ({ href: 'x' }) });
    await backend.openCase(join(work, 'workbench-case.db'));
    let job = await backend.importPaths([dir]);
    while (job.state === 'running') job = await new Promise<typeof job>((r) => setTimeout(() => void backend.importStatus(job.id).then(r), 20));
    expect(job.state).toBe('done');
    const bySession = new Map(job.results.map((x) => [x.session, x]));
    expect(bySession.get(sessions[3]!.replace(/\.jsonl$/, ''))).toMatchObject({ action: 'missing', integrity: 'missing' });
    expect(bySession.get(sessions[1]!.replace(/\.jsonl$/, ''))).toMatchObject({ integrity: 'tampered' });
    expect(bySession.get(sessions[0]!.replace(/\.jsonl$/, ''))).toMatchObject({ integrity: 'intact' });
  });

  it('truncation with the seal dropped (session end and seal cut off) → tampered', async () => {
    const dir = copy('truncated');
    const file = join(dir, sessions[0]!);
    write(file, lines(file).slice(0, -2));
    const r = verify(dir);
    expect(r.status).toBe(1);
    expect(stateOf(r, sessions[0]!)).toMatchObject({ status: 'tampered' });
    expect((await imported(dir)).byFile.get(sessions[0]!)).toBe('tampered');
  });

  it('reordering: two events swapped (and rechained) → tampered', async () => {
    const dir = copy('reordered');
    const file = join(dir, sessions[1]!);
    const ls = lines(file);
    [ls[3], ls[4]] = [ls[4]!, ls[3]!];
    write(file, rechain(ls, 3));
    const r = verify(dir);
    expect(r.status).toBe(1);
    expect(stateOf(r, sessions[1]!)).toMatchObject({ status: 'tampered' });
    expect((await imported(dir)).byFile.get(sessions[1]!)).toBe('tampered');
  });

  it('journal edited: a session\'s final hash replaced, chain recomputed → journal tampered, exit 1', async () => {
    const dir = copy('journal-edited');
    const path = join(dir, JOURNAL_FILE);
    const ls = lines(path);
    const at = ls.findIndex((l) => l.includes(`"type":"close"`) && l.includes(sessions[1]!));
    ls[at] = ls[at]!.replace(/"finalHash":"[0-9a-f]+"/, `"finalHash":"${lineHash('forged')}"`);
    for (let i = at + 1; i < ls.length; i++) ls[i] = ls[i]!.replace(/"prev":"[0-9a-f]+"/, `"prev":"${lineHash(ls[i - 1]!)}"`);
    write(path, ls);
    const r = verify(dir);
    expect(r.status).toBe(1);
    expect(r.reports.find((x) => x.kind === 'journal')).toMatchObject({ status: 'tampered' });
    // Entries from the forged one on are not believed: the files they alone list are unlisted.
    expect(stateOf(r, sessions[3]!)?.status).toBe('unlisted');
    const i = await imported(dir);
    expect(i.summary.allIntact).toBe(false);
    expect(i.custody.find((x) => x.action === 'journal')?.detail).toMatch(/^tampered: /);
  });

  it('journal truncated: its last entries cut off → the files they closed are unverified, exit 1', async () => {
    const dir = copy('journal-truncated');
    const path = join(dir, JOURNAL_FILE);
    write(path, lines(path).slice(0, -2)); // the audit log's close and the last session's close
    const r = verify(dir);
    expect(r.status).toBe(1);
    expect(r.reports.find((x) => x.kind === 'journal')).toMatchObject({ status: 'intact' });
    const audit = r.reports.find((x) => basename(x.path).startsWith('gateway-'));
    expect(audit).toMatchObject({ status: 'unverified' });
    expect(audit?.journal).toMatch(/never recorded it closed/);
    const i = await imported(dir);
    expect(i.summary.allIntact).toBe(false);
    expect([...i.byFile.entries()].filter(([, s]) => s === 'unverified')).toHaveLength(2);
  });

  it('journal deleted → the journal is missing, exit 1', async () => {
    const dir = copy('journal-deleted');
    unlinkSync(join(dir, JOURNAL_FILE));
    const r = verify(dir);
    expect(r.status).toBe(1);
    expect(r.reports.find((x) => x.kind === 'journal')).toMatchObject({ status: 'missing' });
    expect((await imported(dir)).summary.allIntact).toBe(false);
  });
});
