import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { parse as parseYaml, stringify } from 'yaml';
import { parseConfig, startGateway, type RunningGateway } from '../../../gateway/index.js';
import { createLogger, silentLogger } from '../../../gateway/log.js';
import { freePort } from '../../helpers/ports.js';
import { startPostgres, type PgServer } from '../../helpers/postgres.js';
import { run, type RunResult } from '../../helpers/processes.js';
import { sshTargetOf, startSshd, type SshdServer } from '../../helpers/sshd.js';

/** The repository root: the nearest folder up from this module with examples/gateway.yml (works from test/ and dist/test/). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'examples', 'gateway.yml')) || !existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (examples/gateway.yml) above this module');
    dir = up;
  }
  return dir;
}

/** Everything the incident runs against: real PostgreSQL, two real sshd targets and the gateway with the example policies. */
export interface Environment {
  db: PgServer;
  buildHost: SshdServer;
  deployHost: SshdServer;
  gateway: RunningGateway;
  configPath: string;
  /** Scratch folder for the agent's scripts (on the "hosts", which share this machine's file system). */
  work: string;
  recordingsDir: string;
  /** The real CLI (`bin/hopscope`) against this gateway. */
  cli(...args: string[]): Promise<RunResult>;
  /** GET on the admin API with the admin token (sessions) or another bearer (approvals). */
  admin<T>(path: string, bearer?: string): Promise<T>;
  /** Stops the gateway cleanly (every recording sealed), then the servers; copies the public key to `out`. */
  stop(): Promise<void>;
}

/**
 * The approval timeout: long enough for an approver at the CLI on a busy machine (where the CLI alone has taken
 * 8 s to start: its decisions then came after 5 s and found the hold timed out), short enough that the
 * timed-out case does not drag.
 */
export const APPROVAL_TIMEOUT = '20s';

export const CUSTOMERS: Array<[string, string, string, string]> = [
  ['Ada Byron', 'ada.byron@example.com', '123-45-6789', '4111 1111 1111 1111'],
  ['Grace Hopper', 'grace@navy.example', '234-56-7890', '5500 0000 0000 0004'],
  ['Alan Turing', 'alan.t@example.org', '345-67-8901', '3400 0000 0000 009'],
  ['Edsger Dijkstra', 'ewd@example.net', '456-78-9012', '4012 8888 8888 1881'],
  ['Barbara Liskov', 'liskov@example.edu', '567-89-0123', '6011 1111 1111 1117'],
];

/** Starts the servers and the gateway; recordings go to `<out>/recordings` (emptied of earlier runs first). */
export async function startEnvironment(out: string): Promise<Environment> {
  const root = repoRoot();
  const recordingsDir = join(out, 'recordings');
  await mkdir(recordingsDir, { recursive: true });
  // Earlier runs' recordings and their journal of sessions (which would list them as missing).
  for (const f of await readdir(recordingsDir)) if (f.endsWith('.jsonl') || f === 'sessions.journal') await rm(join(recordingsDir, f));
  const work = await mkdtemp(join(tmpdir(), 'hopscope-nested-agents-'));
  const [db, buildHost, deployHost] = await Promise.all([startPostgres(), startSshd(), startSshd()]);
  let gateway: RunningGateway | undefined;
  try {
    await seed(db);
    const raw = await configFor(root, { db, buildHost, deployHost, work, recordingsDir });
    const configPath = join(work, 'gateway.yml');
    await writeFile(configPath, stringify(raw));
    process.env.PROD_DB_PASSWORD = db.appPassword;
    const logger = process.env.HOPSCOPE_SCENARIO_LOG ? createLogger(process.env.HOPSCOPE_SCENARIO_LOG) : silentLogger;
    const gw = await startGateway(parseConfig(raw, work), { logger });
    gateway = gw;
    const keysDir = join(work, 'keys');
    return {
      db, buildHost, deployHost, gateway: gw, configPath, work, recordingsDir,
      cli: (...args) => run(process.execPath, [join(root, 'bin', 'hopscope'), ...args], { timeoutMs: 30_000, cwd: root }),
      async admin<T>(path: string, bearer = gw.admin.token) {
        const res = await fetch(`${gw.admin.url}${path}`, { headers: { authorization: `Bearer ${bearer}` } });
        if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status} ${await res.text()}`);
        return (await res.json()) as T;
      },
      async stop() {
        await gw.stop();
        await copyFile(join(keysDir, 'gateway_ed25519.pub'), join(out, 'gateway_ed25519.pub'));
        await Promise.all([buildHost.stop(), deployHost.stop(), db.stop()]);
        await rm(work, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await gateway?.stop();
    await Promise.all([buildHost.stop(), deployHost.stop(), db.stop()]);
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}

/** prod-db: customers with emails, SSNs and card numbers (test numbers, fake people), and a cache table. */
async function seed(db: PgServer): Promise<void> {
  const client = new pg.Client(db.app);
  await client.connect();
  try {
    await client.query(`CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, ssn text NOT NULL,
      card text NOT NULL, tier text NOT NULL DEFAULT 'gold')`);
    for (const [i, [name, email, ssn, card]] of CUSTOMERS.entries()) {
      await client.query('INSERT INTO customers (id, name, email, ssn, card) VALUES ($1, $2, $3, $4, $5)', [i + 1, name, email, ssn, card]);
    }
    await client.query(`CREATE TABLE build_cache (id int PRIMARY KEY, artifact text NOT NULL);
      INSERT INTO build_cache SELECT g, 'build-' || g || '.tar.zst' FROM generate_series(1, 12) g;`);
  } finally {
    await client.end();
  }
}

/**
 * examples/gateway.yml as written — masking, guardrails and identities — with
 * its addresses, folders and credentials pointed at the servers of this run, a
 * second SSH target (deploy-host) that contractor-ci may reach, and a short
 * approval timeout.
 */
async function configFor(root: string, p: { db: PgServer; buildHost: SshdServer; deployHost: SshdServer; work: string; recordingsDir: string }) {
  const example = parseYaml(readFileSync(join(root, 'examples', 'gateway.yml'), 'utf8')) as Record<string, unknown> & {
    targets: Array<Record<string, unknown>>;
    identities: Array<{ name: string; targets: string[] }>;
  };
  const prodDb = example.targets.find((t) => t.name === 'prod-db')!;
  const identities = example.identities.map((i) => (i.name === 'contractor-ci' ? { ...i, targets: [...i.targets, 'deploy-host'] } : i));
  return {
    ...example,
    recording: { ...(example.recording as object), dir: p.recordingsDir },
    keys: { dir: join(p.work, 'keys') },
    admin: { listen: `127.0.0.1:${await freePort()}` },
    listeners: { postgres: `127.0.0.1:${await freePort()}`, ssh: `127.0.0.1:${await freePort()}` },
    targets: [
      { ...prodDb, host: p.db.host, port: p.db.port, database: p.db.appDatabase, user: p.db.appUser },
      sshTargetOf(p.buildHost, 'build-host', { hostKey: p.buildHost.hostPublicKey }),
      sshTargetOf(p.deployHost, 'deploy-host', { hostKey: p.deployHost.hostPublicKey }),
    ],
    identities,
    approvals: { ...(example.approvals as object), timeout: APPROVAL_TIMEOUT },
  };
}
