// Leaks: seeded sensitive values (emails, SSNs, Luhn-valid card numbers) in a
// PostgreSQL table and in a file on the SSH target, read through the gateway CLI
// running at debug log level. None may appear unmasked in what clients receive,
// in the recordings, in the gateway's whole log, or in any export of the imported
// case; nor may the target credentials the gateway holds.
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadTrustedKeys } from '../../common/keys.js';
import { EXPORT_FORMATS, exportCase, importPaths, listSessions, openCase } from '../../forensics/index.js';
import { luhn } from '../../gateway/policy/recognizers.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { libpqEnv, run, stopAll } from '../helpers/processes.js';
import { ssh2Client, ssh2Exec, startSshd, type SshdServer } from '../helpers/sshd.js';
import { Counts, gatewayConfig, startChildGateway } from './support.js';

const N = 400;
const counts = new Counts('leaks', 'Leaks: seeded sensitive values in every output');
let db: PgServer;
let sshd: SshdServer;
let dir: string;

function card(i: number): string {
  const body = `5${String(i).padStart(14, '0')}`;
  for (let d = 0; d <= 9; d++) if (luhn(body + d)) return body + d;
  throw new Error('unreachable');
}
const email = (i: number) => `seeded${i}q@leak${i % 13}.example.org`;
const ssn = (i: number) => `${String(200 + (i % 700)).padStart(3, '0')}-${String(11 + (i % 88)).padStart(2, '0')}-${String(2000 + i).padStart(4, '0')}`;
const row = (i: number) => `customer ${i} mail ${email(i)} ssn ${ssn(i)} card ${card(i)} end`;

beforeAll(async () => {
  [db, sshd] = await Promise.all([startPostgres(), startSshd()]);
  const c = new pg.Client(db.app);
  await c.connect();
  await c.query('CREATE TABLE customers (id int PRIMARY KEY, contact_email text, notes text, ssn text, payment text)');
  const values = Array.from({ length: N }, (_, i) => `(${i}, '${email(i)}', '${row(i)}', '${ssn(i)}', 'card ${card(i)}')`);
  await c.query(`INSERT INTO customers VALUES ${values.join(',')}`);
  await c.end();
  // The same values on the SSH target, many lines so that output chunks split values.
  await writeFile(join(sshd.dir, 'customers.txt'), Array.from({ length: N * 3 }, (_, k) => row(k % N)).join('\n') + '\n');
  dir = await mkdtemp(join(tmpdir(), 'hopscope-rel-leaks-'));
});
afterAll(async () => {
  await stopAll();
  await Promise.all([db?.stop(), sshd?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Every file under a path, as text. */
function textsUnder(path: string): string[] {
  if (statSync(path).isFile()) return [readFileSync(path, 'utf8')];
  return readdirSync(path).flatMap((f) => textsUnder(join(path, f)));
}

const MASKING = [
  { name: 'email-column', column: '*email*' },
  { name: 'email', builtin: 'email' },
  { name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b' },
  { name: 'card', builtin: 'credit-card' },
];

it(`lets none of ${N * 3} seeded values or the target credentials out unmasked: client, recordings, debug log, exports`, async () => {
  const gw = await startChildGateway(dir, await gatewayConfig(dir, db, sshd, { masking: MASKING }), { password: db.appPassword, logLevel: 'debug' });
  const client: string[] = [];
  // PostgreSQL: psql (simple protocol), node-postgres (extended, text and binary), an error quoting a value.
  const text = await run('psql', ['-X', '-A', '-c', 'SELECT * FROM customers ORDER BY id'], { env: libpqEnv(gw.pg()), timeoutMs: 60_000 });
  expect(text.stdout).toContain(`(${N} rows)`);
  client.push(text.stdout, text.stderr);
  const c = new pg.Client(gw.pg());
  await c.connect();
  client.push(JSON.stringify((await c.query('SELECT * FROM customers WHERE id >= $1', [0])).rows));
  const binary = await c.query({ text: 'SELECT notes, ssn, payment FROM customers WHERE id < $1', values: [N], binary: true } as pg.QueryConfig);
  client.push(binary.rows.map((r: Record<string, Buffer>) => Object.values(r).map(String).join('|')).join('\n'));
  const dup = await c.query('INSERT INTO customers SELECT * FROM customers WHERE id = 7').catch((e: Error & { detail?: string }) => `${e.message} ${e.detail}`);
  client.push(String(dup));
  await c.end();
  // SSH: an exec, and a shell on a pty with the command typed.
  const ssh = await ssh2Client(gw.sshPort, 'agent:host', { password: gw.token() });
  const cat = await ssh2Exec(ssh, `cat ${join(sshd.dir, 'customers.txt')}`);
  expect(cat.stdout.split('\n').length).toBeGreaterThan(N * 3 - 1);
  client.push(cat.stdout, cat.stderr);
  client.push(await new Promise<string>((resolve, reject) => {
    ssh.shell({ term: 'xterm', rows: 40, cols: 120 }, (err, ch) => {
      if (err) return reject(err);
      let out = '';
      ch.on('data', (d: Buffer) => (out += d.toString()));
      ch.on('close', () => resolve(out));
      ch.write(`head -n 50 ${join(sshd.dir, 'customers.txt')}; exit\n`);
    });
  }));
  ssh.end();
  await sleep(300);
  await gw.proc.stop(15_000); // seals

  // The forensic case and every export of it.
  const trusted = loadTrustedKeys([gw.keysDir]);
  const casePath = join(dir, 'case.db');
  const kase = openCase(casePath);
  await importPaths(kase, [gw.recordingsDir], { trusted });
  expect(listSessions(kase).length).toBeGreaterThanOrEqual(3);
  const exportsDir = join(dir, 'exports');
  mkdirSync(exportsDir, { recursive: true });
  for (const format of EXPORT_FORMATS) exportCase(kase, { format, out: join(exportsDir, format === 'asciicast' ? 'casts' : `case.${format}`) });
  kase.close();

  const sinks: Record<string, string[]> = {
    'client output': client,
    recordings: textsUnder(gw.recordingsDir),
    'gateway log (debug)': [readFileSync(gw.logFile, 'utf8')],
    ...Object.fromEntries(EXPORT_FORMATS.map((f) => [`export ${f}`, textsUnder(join(exportsDir, f === 'asciicast' ? 'casts' : `case.${f}`))])),
  };
  const seeded = Array.from({ length: N }, (_, i) => [email(i), ssn(i), card(i)]).flat();
  const privateKey = readFileSync(sshd.clientKeyPath, 'utf8').split('\n').filter((l) => l && !l.startsWith('-----'));
  const credentials = [db.appPassword, ...privateKey.map((l) => l.slice(0, 40)).filter((l) => l.length >= 24), readFileSync(join(gw.keysDir, 'admin.token'), 'utf8').trim()];
  const leaks: string[] = [];
  for (const [sink, texts] of Object.entries(sinks)) {
    const all = texts.join('\n');
    expect(all.length, sink).toBeGreaterThan(0);
    const found = seeded.filter((v) => all.includes(v));
    const creds = credentials.filter((v) => all.includes(v));
    counts.add({ check: `${sink}: seeded values absent`, tried: seeded.length, passed: seeded.length - found.length, ...(found.length ? { note: `e.g. ${found.slice(0, 3).join(', ')}` } : {}) });
    counts.add({ check: `${sink}: target password, SSH key, admin token absent`, tried: credentials.length, passed: credentials.length - creds.length });
    leaks.push(...found.slice(0, 3).map((v) => `${sink}: ${v}`), ...creds.map(() => `${sink}: a credential`));
  }
  // The masks are there: every psql row and every line of the SSH file carry them.
  expect(text.stdout.match(/\[masked:email-column\]/g)?.length).toBe(N);
  expect(cat.stdout.match(/\[masked:card\]/g)?.length).toBe(N * 3);
  expect(leaks).toEqual([]);
});

// A value the target writes in two parts, 300 ms apart (a slow program, a pipe
// that flushes late), reaches the gateway as two SSH data chunks. The output
// masker holds a partial line only TAIL_WAIT_MS = 15 ms (gateway/ssh/masking.ts),
// then masks and sends the first part alone; neither part matches a rule.
it('masks values the SSH target writes in two parts 300 ms apart', async () => {
  const gw = await startChildGateway(dir, await gatewayConfig(dir, db, sshd, { masking: MASKING }), { password: db.appPassword });
  const ssh = await ssh2Client(gw.sshPort, 'agent:host', { password: gw.token() });
  const values = [email(1), ssn(2), card(3)];
  const leaked: string[] = [];
  for (const v of values) {
    const half = Math.floor(v.length / 2);
    const res = await ssh2Exec(ssh, `printf '%s' 'value ${v.slice(0, half)}'; sleep 0.3; printf '%s\\n' '${v.slice(half)} end'`);
    expect(res.stdout).toMatch(/^value .* end\n$/);
    if (res.stdout.includes(v)) leaked.push(v);
  }
  ssh.end();
  await gw.proc.stop(15_000);
  counts.add({ check: 'SSH values written in two parts 300 ms apart: masked for the client', tried: values.length, passed: values.length - leaked.length,
    ...(leaked.length ? { note: `unmasked: ${leaked.join(', ')} (partial lines wait 15 ms, gateway/ssh/masking.ts)` } : {}) });
  expect(leaked).toEqual([]);
});
