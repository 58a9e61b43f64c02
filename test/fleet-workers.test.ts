import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { systemClock } from '../common/clock.js';
import { loadOrCreateSigner } from '../common/keys.js';
import { issueToken } from '../common/tokens/index.js';
import { eventually, TARGET_PASSWORD_ENV } from './helpers/gateway.js';
import { hopscopeCli } from './helpers/cli.js';
import { createControlPlane } from './helpers/fleet.js';
import { freePort } from './helpers/ports.js';
import { startPostgres, type PgServer } from './helpers/postgres.js';
import { run, spawnLong, stopAll, type LongRunning } from './helpers/processes.js';

// `hopscope gateway --workers 2` as deployed (dist/: build first): one primary, two worker processes behind one
// PostgreSQL port and one admin port, each a member of the fleet on a second cluster.
let db: PgServer;
let cpServer: PgServer;
let cp: Awaited<ReturnType<typeof createControlPlane>>;
let dir: string;
let gw: LongRunning;
let pgPort: number;
let adminUrl: string;
let adminToken: string;
let token: string;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the admin API's JSON, each test reads the fields it checks
type Json = any;

async function writeConfig(folder: string, controlPlane: string | undefined) {
  const raw = {
    recording: { dir: './recordings', fsync: 'batch' },
    keys: { dir: './keys' },
    admin: { listen: `127.0.0.1:${await freePort()}` },
    listeners: { postgres: `127.0.0.1:${await freePort()}` },
    targets: [{ name: 'db', type: 'postgres', host: db.host, port: db.port, database: db.appDatabase, user: db.appUser, password: { env: TARGET_PASSWORD_ENV } }],
    identities: [{ name: 'agent', kind: 'machine', targets: ['db'] }],
    ...(controlPlane ? { controlPlane: { postgres: controlPlane, gatewayName: 'gw', leaseSeconds: 3 } } : {}),
  };
  const path = join(folder, 'gateway.yml');
  await writeFile(path, stringify(raw));
  return { path, raw };
}

const api = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> => {
  const res = await fetch(`${adminUrl}${path}`, {
    method, headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => undefined) };
};
const connect = async () => {
  const c = new pg.Client({ host: '127.0.0.1', port: pgPort, user: 'agent', password: token, database: 'db' });
  c.on('error', () => undefined); // a cut session errors; the tests read the 'end' event and the query's rejection
  await c.connect();
  return c;
};
/** The gateways of the fleet holding the live PostgreSQL sessions (admin API, any worker answers for the fleet). */
const liveOn = async (): Promise<string[]> => (await api('GET', '/fleet')).body.sessions.filter((s: { protocol: string }) => s.protocol === 'postgres').map((s: { gateway: string }) => s.gateway);
const holders = async () => new Set(await liveOn());
/** Sessions closed by their clients are marked ended in the control plane just after: waits for none live. */
const noneLive = () => eventually(async () => ((await liveOn()).length === 0 ? true : undefined), 10_000);
const workerPid = async (name: string) => (await api('GET', '/fleet')).body.gateways.find((g: { name: string }) => g.name === name)?.pid as number | undefined;

beforeAll(async () => {
  [db, cpServer] = await Promise.all([startPostgres(), startPostgres()]);
  cp = await createControlPlane(cpServer, ['w']);
  dir = await mkdtemp(join(tmpdir(), 'hopscope-workers-'));
  const { path, raw } = await writeConfig(dir, cp.url('w'));
  gw = spawnLong(process.execPath, ['bin/hopscope', 'gateway', '--config', path, '--workers', '2'], {
    env: { HOPSCOPE_LOG_LEVEL: 'warn', [TARGET_PASSWORD_ENV]: db.appPassword },
  });
  await gw.waitForOutput(/hopscope gateway running, 2 workers[\s\S]*worker gw-2 /, 60_000);
  pgPort = Number(raw.listeners.postgres.split(':')[1]);
  adminUrl = `http://${raw.admin.listen}`;
  adminToken = readFileSync(join(dir, 'keys', 'admin.token'), 'utf8').trim();
  token = issueToken(loadOrCreateSigner(join(dir, 'keys')), systemClock, { identity: 'agent', ttlSeconds: 600 }).token;
}, 120_000);
afterAll(async () => {
  await stopAll();
  await Promise.all([db?.stop(), cpServer?.stop()]);
});

describe('hopscope gateway --workers 2', () => {
  it('prints the listeners once and each worker; connections to one port land on both workers, each a member of the fleet', async () => {
    const out = gw.output();
    expect(out.match(/hopscope gateway running/g)).toHaveLength(1);
    expect(out).toMatch(/worker gw-1 {2}pid \d+ {2}recordings .*recordings\/gw-1/);
    const clients = await Promise.all(Array.from({ length: 6 }, () => connect()));
    for (const c of clients) expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    const fleet = await api('GET', '/fleet');
    expect(fleet.body.gateways.map((g: { name: string; healthy: boolean }) => [g.name, g.healthy])).toEqual([['gw-1', true], ['gw-2', true]]);
    expect(await holders()).toEqual(new Set(['gw-1', 'gw-2']));
    await Promise.all(clients.map((c) => c.end()));
  });

  it('GET /metrics answers for both workers, whichever one takes the scrape: the six sessions above, three per worker, counted once each', async () => {
    const scrape = async () => {
      const res = await fetch(`${adminUrl}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } });
      expect(res.status).toBe(200);
      return res.text();
    };
    // Round-robin hands successive connections to alternate workers: four scrapes reach both.
    for (const text of await Promise.all([scrape(), scrape(), scrape(), scrape()])) {
      expect(text).toMatch(/^hopscope_sessions_total\{protocol="postgres"\} 6$/m);
      expect(text).toMatch(/^hopscope_statements_total\{protocol="postgres"\} 6$/m);
      // The least generation, not the sum (two workers at 1 would read 2).
      expect(text).toMatch(/^hopscope_policy_generation 1$/m);
      expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    }
  });

  it('a revocation through the admin port cuts the sessions on both workers', async () => {
    await noneLive();
    const clients = await Promise.all(Array.from({ length: 4 }, () => connect()));
    expect(await holders()).toEqual(new Set(['gw-1', 'gw-2']));
    const ended = clients.map((c) => new Promise<void>((resolve) => c.once('end', () => resolve())));
    const revoked = await api('POST', '/revocations', { identity: 'agent', reason: 'workers test' });
    expect(revoked.status).toBe(200);
    expect(revoked.body.sessionsCut).toHaveLength(4);
    await Promise.all(ended);
    for (const c of clients) await expect(c.query('SELECT 1')).rejects.toThrow();
    await noneLive();
    // The refusal holds on both workers; lifted, both admit again.
    for (let i = 0; i < 2; i++) await expect(connect()).rejects.toThrow(/revoked/);
    expect((await api('DELETE', '/revocations/identity/agent')).status).toBe(200);
    await eventually(async () => connect().then((c) => c.end().then(() => true), () => undefined), 10_000);
  });

  it('SIGHUP to the primary: each worker reloads its policies from the file', async () => {
    gw.child.kill('SIGHUP');
    await gw.waitForOutput(/gw-1: SIGHUP: policies reloaded/);
    await gw.waitForOutput(/gw-2: SIGHUP: policies reloaded/);
    expect(gw.output()).not.toMatch(/reload refused/);
  });

  it('a worker SIGKILLed with a session open is started again under its name; the listener answers meanwhile', async () => {
    const open = await connect();
    const others = await Promise.all([connect(), connect()]);
    expect(await holders()).toEqual(new Set(['gw-1', 'gw-2'])); // so gw-1 holds one of them
    const victim = await workerPid('gw-1');
    expect(victim).toBeGreaterThan(0);
    process.kill(victim!, 'SIGKILL');
    await gw.waitForOutput(/worker gw-1 \(pid \d+\) died \(killed by SIGKILL\)/);
    // The other worker takes every connection until gw-1 is back.
    const during = await connect();
    expect((await during.query("SELECT 'answering' AS s")).rows).toEqual([{ s: 'answering' }]);
    await during.end();
    await gw.waitForOutput(/worker gw-1 running again \(pid \d+\)/, 30_000);
    const back = await eventually(async () => {
      const g = (await api('GET', '/fleet')).body.gateways.find((x: { name: string }) => x.name === 'gw-1');
      return g?.healthy && g.pid !== victim ? g : undefined;
    }, 10_000);
    expect(back.state).toBe('live');
    const clients = await Promise.all(Array.from({ length: 4 }, () => connect()));
    expect(await holders()).toEqual(new Set(['gw-1', 'gw-2']));
    await Promise.all([...clients, ...others, open].map((c) => c.end().catch(() => undefined)));
  });

  it('SIGTERM to the primary: every worker ends its sessions and seals; recording.dir imports all intact, one folder per worker', async () => {
    const live = await Promise.all([connect(), connect()]);
    const ended = live.map((c) => new Promise<void>((resolve) => c.once('end', () => resolve())));
    gw.child.kill('SIGTERM');
    expect(await gw.exited).toEqual({ code: 0, signal: null });
    await Promise.all(ended);
    expect(gw.output()).toMatch(/every worker stopped, recordings sealed/);
    const recordings = join(dir, 'recordings');
    expect(readdirSync(recordings).sort()).toEqual(['gw-1', 'gw-2']);
    const caseFile = join(await mkdtemp(join(tmpdir(), 'hopscope-workers-case-')), 'case.db');
    const imported = await hopscopeCli('import', recordings, '--db', caseFile, '--key', join(dir, 'keys'), '--json');
    expect(imported.code, imported.stderr + imported.stdout).toBe(0);
    const summary = JSON.parse(imported.stdout);
    expect(summary.allIntact).toBe(true);
    expect(summary.journals.map((j: { path: string; state: string }) => [j.path.replace(`${recordings}/`, ''), j.state]).sort())
      .toEqual([['gw-1/sessions.journal', 'intact'], ['gw-2/sessions.journal', 'intact']]);
    for (const worker of ['gw-1', 'gw-2']) {
      const files = summary.files.filter((f: { path: string }) => f.path.includes(`/${worker}/`));
      // Each worker's folder holds its sessions and at least one audit log, every one sealed.
      expect(files.length).toBeGreaterThan(2);
      expect(files.filter((f: { sealed: boolean }) => !f.sealed)).toEqual([]);
    }
    // The session gw-1 held when it was killed: sealed by the restarted worker's crash recovery.
    expect(summary.files.some((f: { path: string; integrity: string }) => f.path.includes('/gw-1/') && f.integrity === 'recovered')).toBe(true);
  });

  it('a worker that cannot start stops the others: the gateway exits 1 and says which and why', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'hopscope-workers-busy-'));
    const { path, raw } = await writeConfig(folder, cp.url('w'));
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(Number(raw.listeners.postgres.split(':')[1]), '127.0.0.1', resolve));
    try {
      const res = await run(process.execPath, ['bin/hopscope', 'gateway', '--config', path, '--workers', '2'], {
        env: { HOPSCOPE_LOG_LEVEL: 'warn', [TARGET_PASSWORD_ENV]: db.appPassword }, timeoutMs: 60_000,
      });
      expect(res.code, res.stderr).toBe(1);
      expect(res.stderr).toMatch(/worker gw-[12] could not start: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
      expect(res.stderr).not.toMatch(/hopscope gateway running/);
    } finally {
      busy.close();
    }
  });

  it('--workers 2 without controlPlane is refused with exit 2, nothing started', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'hopscope-workers-alone-'));
    const { path, raw } = await writeConfig(folder, undefined);
    const res = await run(process.execPath, ['bin/hopscope', 'gateway', '--config', path, '--workers', '2'], { env: { [TARGET_PASSWORD_ENV]: db.appPassword } });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--workers 2 needs a fleet: .*gateway\.yml has no controlPlane section/);
    expect(existsSync(join(folder, 'keys'))).toBe(false);
    expect(existsSync(join(folder, 'recordings'))).toBe(false);
    const port = Number(raw.listeners.postgres.split(':')[1]);
    await expect(new pg.Client({ host: '127.0.0.1', port, user: 'agent', password: 'x', database: 'db' }).connect()).rejects.toThrow(/ECONNREFUSED/);
  });
});
