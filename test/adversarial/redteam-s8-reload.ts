// Red team (session 8): a gateway started from a config file, so a test can rewrite the
// file and reload it (SIGHUP's path) while a session stays open — as test/ops-reload.test.ts does.
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { systemClock } from '../../common/clock.js';
import { issueToken } from '../../common/tokens/index.js';
import { loadConfig, startGateway, type RunningGateway } from '../../gateway/index.js';
import { silentLogger } from '../../gateway/log.js';
import { eventually, TARGET_PASSWORD_ENV } from '../helpers/gateway.js';
import { freePort } from '../helpers/ports.js';
import { expect } from 'vitest';
import type { PgServer } from '../helpers/postgres.js';

export interface ReloadableGateway {
  gw: RunningGateway;
  /** Rewrites the config with `policies` (masking, guardrails …) over the base, and reloads it. */
  reloadWith(policies: Record<string, unknown>): Promise<boolean>;
  client(app: string): Promise<pg.Client>;
  /** The raw text of the sealed recording of the session named `app`. */
  recording(app: string): Promise<string>;
}

export async function startReloadable(db: PgServer, policies: Record<string, unknown>): Promise<ReloadableGateway> {
  process.env[TARGET_PASSWORD_ENV] = db.appPassword;
  const dir = await mkdtemp(join(tmpdir(), 'hopscope-s8-reload-'));
  const configPath = join(dir, 'gateway.yml');
  const base = {
    recording: { dir: './recordings', fsync: 'batch' },
    keys: { dir: './keys' },
    admin: { listen: `127.0.0.1:${await freePort()}` },
    listeners: { postgres: `127.0.0.1:${await freePort()}` },
    targets: [{ name: 'db', type: 'postgres', host: db.host, port: db.port, database: db.appDatabase, user: db.appUser, password: { env: TARGET_PASSWORD_ENV } }],
    identities: [{ name: 'agent', kind: 'machine', targets: ['db'] }],
  };
  await writeFile(configPath, stringify({ ...base, ...policies }));
  const gw = await startGateway(loadConfig(configPath), { logger: silentLogger });
  const recordings = join(dir, 'recordings');
  return {
    gw,
    async reloadWith(next) {
      await writeFile(configPath, stringify({ ...base, ...next }));
      return (await gw.reload()).applied;
    },
    async client(app) {
      const c = new pg.Client({
        host: gw.postgres!.host, port: gw.postgres!.port, user: 'agent', database: 'db', application_name: app,
        password: issueToken(gw.signer, systemClock, { identity: 'agent', ttlSeconds: 600 }).token,
      });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    },
    recording: (app) => eventually(async () => {
      for (const f of (await readdir(recordings)).filter((n) => n.endsWith('.jsonl') && !n.startsWith('gateway-'))) {
        const text = await readFile(join(recordings, f), 'utf8');
        if (text.includes(`"application_name":"${app}"`) && /"type":"seal"/.test(text)) return text;
      }
      return undefined;
    }, 20_000),
  };
}

export interface ReloadCase { rule: Record<string, unknown>; viaFunction?: boolean; warm: boolean }
const CARD = { name: 'card', builtin: 'credit-card' }; // text patterns in force from the start: the session may take more

async function direct(db: PgServer, sql: string): Promise<pg.QueryResult> {
  const c = new pg.Client(db.app);
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

/**
 * A live session reads `secret_note` (warm: once before the reload, so its RowDescription is seen), the reload adds
 * `rule`, the session reads it again: returns what it got then, and what a session started after the reload got.
 */
export async function secretAcrossReload(db: PgServer, n: number, c: ReloadCase, secret: string): Promise<{ after: string; control: string; recording: string }> {
  const table = `vault${n}`;
  await direct(db, `CREATE TABLE ${table} (id int, secret_note text)`);
  await direct(db, `INSERT INTO ${table} VALUES (1, '${secret}')`);
  // A function the DBA made and the operator trusts: only the result column's name tells a bare-name rule.
  if (c.viaFunction) await direct(db, `CREATE FUNCTION ${table}_f() RETURNS TABLE (id int, secret_note text) LANGUAGE sql AS 'SELECT id, secret_note FROM ${table}'`);
  const sqlPolicy = c.viaFunction ? { sql: { trustedFunctions: [`${table}_f`] } } : {};
  const rule = typeof c.rule.column === 'string' ? { ...c.rule, column: c.rule.column.replace('vault.', `${table}.`) } : c.rule;
  const sql = c.viaFunction ? `SELECT id, secret_note FROM ${table}_f()` : `SELECT id, secret_note FROM ${table}`;
  const r = await startReloadable(db, { masking: [CARD], ...sqlPolicy });
  try {
    const app = `s8-reload-${n}`;
    const live = await r.client(app);
    if (c.warm) expect((await live.query(sql)).rows[0].secret_note).toBe(secret); // no rule yet: the value passes
    else await live.query('SELECT 1');
    expect(await r.reloadWith({ masking: [CARD, rule], ...sqlPolicy })).toBe(true);
    const after = await live.query(`${sql} -- after the reload`).then((res) => JSON.stringify(res.rows), (err: Error) => `refused: ${err.message}`);
    await live.end();
    const fresh = await r.client(`${app}-fresh`);
    const control = JSON.stringify((await fresh.query(sql)).rows);
    await fresh.end();
    const text = await r.recording(app);
    expect(text.indexOf('after the reload')).toBeGreaterThan(0);
    expect((await direct(db, `SELECT secret_note FROM ${table}`)).rows[0].secret_note).toBe(secret);
    return { after, control, recording: text.slice(text.indexOf('after the reload')) };
  } finally {
    await r.gw.stop();
  }
}
