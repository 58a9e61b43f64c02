import { join } from 'node:path';
import pg from 'pg';
import { systemClock } from '../../common/clock.js';
import { loadOrCreateSigner } from '../../common/keys.js';
import { issueToken } from '../../common/tokens/index.js';
import { TARGET_PASSWORD_ENV, spawnGatewayProcess } from './gateway.js';
import { freePort } from './ports.js';
import type { PgServer } from './postgres.js';
import { sshTargetOf, type SshdServer } from './sshd.js';

/**
 * A control plane on a PostgreSQL cluster of its own: database `cp` owned by role `hopscope`; each gateway logs in
 * as its own role (`gw_a`…), a member of `hopscope` whose sessions act as it (so every gateway reads what the first
 * one's migration created), which lets a test cut one gateway off (NOLOGIN and its connections terminated).
 */
export async function createControlPlane(cp: PgServer, gateways: string[]) {
  // A connection per call: the cluster is stopped and started by some tests.
  const superQuery = async <R extends pg.QueryResultRow>(database: string, sql: string, values: unknown[] = []) => {
    const c = new pg.Client({ host: cp.host, port: cp.port, user: cp.superuser, password: cp.superPassword, database });
    await c.connect();
    try {
      return (await c.query<R>(sql, values)).rows;
    } finally {
      await c.end();
    }
  };
  await superQuery('postgres', 'CREATE ROLE hopscope NOLOGIN');
  await superQuery('postgres', 'CREATE DATABASE cp OWNER hopscope');
  for (const g of gateways) {
    await superQuery('postgres', `CREATE ROLE gw_${g} LOGIN PASSWORD 'pw_${g}' IN ROLE hopscope`);
    await superQuery('postgres', `ALTER ROLE gw_${g} SET role = 'hopscope'`);
  }
  return {
    url: (g: string) => `postgres://gw_${g}:pw_${g}@${cp.host}:${cp.port}/cp`,
    /** A query on the control plane as its superuser. */
    query: <R extends pg.QueryResultRow>(sql: string, values: unknown[] = []) => superQuery<R>('cp', sql, values),
    /** Cuts one gateway off the control plane (or lets it back). */
    async partition(g: string, cut: boolean) {
      await superQuery('postgres', `ALTER ROLE gw_${g} ${cut ? 'NOLOGIN' : 'LOGIN'}`);
      if (cut) await superQuery('postgres', `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'gw_${g}'`);
    },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the admin API's JSON, each test reads the fields it checks
type Json = any;

export type FleetGatewayProcess = Awaited<ReturnType<typeof startFleetGateway>>;

/** A gateway of the fleet as deployed: `hopscope gateway --config` in its own process, in front of the target database and sshd. */
export async function startFleetGateway(name: string, controlPlane: string, db: PgServer, sshd: SshdServer | undefined, extra: Record<string, unknown> = {}) {
  const targets: Record<string, unknown>[] = [{ name: 'db', type: 'postgres', host: db.host, port: db.port, database: db.appDatabase, user: db.appUser,
    password: { env: TARGET_PASSWORD_ENV } }];
  if (sshd) targets.push(sshTargetOf(sshd, 'host'));
  const admin = `127.0.0.1:${await freePort()}`;
  const raw = {
    recording: { dir: './recordings', fsync: 'batch' },
    keys: { dir: './keys' },
    admin: { listen: admin },
    listeners: { postgres: `127.0.0.1:${await freePort()}`, ...(sshd ? { ssh: `127.0.0.1:${await freePort()}` } : {}) },
    targets,
    identities: [
      { name: 'agent', kind: 'machine', targets: targets.map((t) => t.name), approver: true },
      { name: 'alice', kind: 'human', targets: [], approver: true },
    ],
    controlPlane: { postgres: controlPlane, gatewayName: name, leaseSeconds: 3 },
    approvals: { timeout: '30s' },
    ...extra,
  };
  const started = await spawnGatewayProcess(raw, { [TARGET_PASSWORD_ENV]: db.appPassword });
  const keysDir = join(started.dir, 'keys');
  const signer = loadOrCreateSigner(keysDir);
  const adminToken = (await import('node:fs')).readFileSync(join(keysDir, 'admin.token'), 'utf8').trim();
  const cfg = started.config;
  return {
    ...started,
    name,
    keysDir,
    recordingsDir: cfg.recording.dir,
    pgPort: Number(cfg.listeners.postgres!.split(':')[1]),
    sshPort: cfg.listeners.ssh ? Number(cfg.listeners.ssh.split(':')[1]) : undefined,
    adminUrl: `http://${admin}`,
    token: (identity = 'agent') => issueToken(signer, systemClock, { identity, ttlSeconds: 600 }).token,
    /** A call to the admin API with the admin token, or with `bearer` (an approver's identity token). */
    async api(method: string, path: string, body?: unknown, bearer = adminToken): Promise<{ status: number; body: Json }> {
      const res = await fetch(`http://${admin}${path}`, {
        method, headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json().catch(() => undefined) };
    },
  };
}
