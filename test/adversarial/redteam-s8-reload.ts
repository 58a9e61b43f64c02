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
