import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../common/clock.js';
import { RecordingEvent } from '../../common/recording/index.js';
import { issueToken } from '../../common/tokens/index.js';
import { parseConfig, startGateway, type LoadedConfig, type RunningGateway } from '../../gateway/index.js';
import { createLogger, silentLogger } from '../../gateway/log.js';
import { freePort } from './ports.js';
import type { PgConn, PgServer } from './postgres.js';
import { sshTargetOf, type SshdServer } from './sshd.js';

export interface TestGateway {
  gateway: RunningGateway;
  config: LoadedConfig;
  /** The configuration written as YAML, for the CLI. */
  configPath: string;
  dir: string;
  recordingsDir: string;
  keysDir: string;
  /** A fresh token for an identity. */
  token(identity?: string, ttlSeconds?: number): string;
  /** libpq-style connection through the gateway. */
  conn(identity?: string, target?: string): PgConn;
  /** Session recording files (not the gateway's audit file), sorted by name. */
  sessionFiles(): Promise<string[]>;
  stop(): Promise<void>;
}

/** The environment variable the test configs read the target password from. */
export const TARGET_PASSWORD_ENV = 'HOPSCOPE_TEST_DB_PASSWORD';

/**
 * Starts the gateway in-process in front of `pg`, with identities `agent`
 * (may reach `db`) and `outsider` (no targets), in a temporary folder. With
 * `ssh`, an SSH listener too and the sshd as target `host` (reachable by `agent`).
 */
export async function startTestGateway(pg: PgServer | undefined, overrides: Record<string, unknown> = {}, opts: { ssh?: SshdServer } = {}): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'hopscope-gw-'));
  if (pg) process.env[TARGET_PASSWORD_ENV] = pg.appPassword;
  const targets: Record<string, unknown>[] = [];
  if (pg) {
    targets.push({ name: 'db', type: 'postgres', host: pg.host, port: pg.port, database: pg.appDatabase, user: pg.appUser,
      password: { env: TARGET_PASSWORD_ENV } });
  }
  if (opts.ssh) targets.push(sshTargetOf(opts.ssh, 'host'));
  const raw = {
    recording: { dir: './recordings', fsync: 'batch' },
    keys: { dir: './keys' },
    admin: { listen: `127.0.0.1:${await freePort()}` },
    listeners: {
      ...(pg ? { postgres: `127.0.0.1:${await freePort()}` } : {}),
      ...(opts.ssh ? { ssh: `127.0.0.1:${await freePort()}` } : {}),
    },
    targets,
    identities: [{ name: 'agent', kind: 'machine', targets: targets.map((t) => t.name) }, { name: 'outsider', kind: 'human', targets: [] }],
    ...overrides,
  };
  const config = parseConfig(raw, dir);
  // The same configuration as a file, for CLI commands (token revoke, approvals) run against this gateway.
  const configPath = join(dir, 'gateway.yml');
  await writeFile(configPath, stringify(raw));
  const gateway = await startGateway(config, { logger: process.env.HOPSCOPE_TEST_LOG ? createLogger(process.env.HOPSCOPE_TEST_LOG) : silentLogger });
  const token = (identity = 'agent', ttlSeconds = 600) => issueToken(gateway.signer, systemClock, { identity, ttlSeconds }).token;
  return {
    gateway,
    config,
    configPath,
    dir,
    recordingsDir: config.recording.dir,
    keysDir: config.keys.dir,
    token,
    conn: (identity = 'agent', target = 'db') => ({
      host: gateway.postgres!.host, port: gateway.postgres!.port, user: identity, password: token(identity), database: target,
    }),
    sessionFiles: async () => (await readdir(config.recording.dir))
      .filter((f) => f.endsWith('.jsonl') && !f.startsWith('gateway-')).sort().map((f) => join(config.recording.dir, f)),
    stop: async () => {
      await gateway.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Every event of a recording file (the header skipped), for assertions. */
export async function readEvents(path: string): Promise<RecordingEvent[]> {
  const lines = (await readFile(path, 'utf8')).split('\n').filter(Boolean);
  return lines.slice(1).map((l) => RecordingEvent.parse(JSON.parse(l)));
}

/** Polls until `check` returns a value (not undefined), for things that happen just after a client exits. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Writes `raw` as a YAML config in a temporary folder and runs the real CLI
 * (`bin/hopscope gateway`) as a child process; needs a build (`npm run build`).
 */
export async function spawnGatewayProcess(raw: Record<string, unknown>, env: Record<string, string> = {}) {
  const { spawnLong } = await import('./processes.js');
  const dir = await mkdtemp(join(tmpdir(), 'hopscope-gwp-'));
  const configPath = join(dir, 'gateway.yml');
  await writeFile(configPath, stringify(raw));
  const proc = spawnLong(process.execPath, ['bin/hopscope', 'gateway', '--config', configPath], { env: { HOPSCOPE_LOG_LEVEL: 'warn', ...env } });
  await proc.waitForOutput(/hopscope gateway running/);
  const config = parseConfig(raw, dir);
  return { proc, dir, configPath, config };
}
