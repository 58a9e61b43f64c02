// Shared pieces of the reliability suite (npm run test:reliability): a gateway run
// as a child process of the real CLI with its whole log kept in a file, its RSS
// read from /proc, tokens signed with its key, and the counts each test reports.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { systemClock } from '../../common/clock.js';
import { loadOrCreateSigner, loadTrustedKeys } from '../../common/keys.js';
import { verifyRecordingFile, type VerifyReport } from '../../common/recording/index.js';
import { issueToken } from '../../common/tokens/index.js';
import { TARGET_PASSWORD_ENV } from '../helpers/gateway.js';
import { freePort } from '../helpers/ports.js';
import type { PgConn, PgServer } from '../helpers/postgres.js';
import { spawnLong, type LongRunning } from '../helpers/processes.js';
import { sshTargetOf, type SshdServer } from '../helpers/sshd.js';

export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'reliability');

/** One line of a reliability report: a check, how many cases were tried and how many passed. */
export interface CountRow { check: string; tried: number; passed: number; note?: string }

/**
 * Counts of one test file, rewritten to test-artifacts/reliability/<name>.json on
 * every add, so a failing assertion later still leaves the counts measured so far.
 */
export class Counts {
  private readonly rows: CountRow[] = [];
  private readonly started = Date.now();
  constructor(private readonly name: string, private readonly title: string) {}

  add(row: CountRow): CountRow {
    const at = this.rows.findIndex((r) => r.check === row.check);
    if (at >= 0) this.rows[at] = row;
    else this.rows.push(row);
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, `${this.name}.json`), `${JSON.stringify({
      name: this.name, title: this.title, at: new Date().toISOString(), seconds: (Date.now() - this.started) / 1000,
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
      rows: this.rows,
    }, null, 2)}\n`);
    return row;
  }
}

export interface ChildGateway {
  proc: LongRunning;
  configPath: string;
  recordingsDir: string;
  keysDir: string;
  logFile: string;
  pgPort: number;
  sshPort: number;
  adminUrl: string;
  token(identity?: string): string;
  pg(identity?: string, target?: string): PgConn;
  /** VmRSS and VmHWM of the gateway process, in bytes. */
  memory(): Promise<{ rss: number; hwm: number }>;
  alive(): boolean;
}

/** A gateway configuration in `dir` with a PostgreSQL and an SSH listener in front of `db` and `sshd`. */
export async function gatewayConfig(dir: string, db: PgServer | undefined, sshd: SshdServer | undefined, extra: Record<string, unknown> = {}) {
  const targets: Record<string, unknown>[] = [];
  if (db) targets.push({ name: 'db', type: 'postgres', host: db.host, port: db.port, database: db.appDatabase, user: db.appUser, password: { env: TARGET_PASSWORD_ENV } });
  if (sshd) targets.push(sshTargetOf(sshd, 'host'));
  return {
    recording: { dir: join(dir, 'recordings'), fsync: 'batch' },
    keys: { dir: join(dir, 'keys') },
    admin: { listen: `127.0.0.1:${await freePort()}` },
    listeners: { ...(db ? { postgres: `127.0.0.1:${await freePort()}` } : {}), ...(sshd ? { ssh: `127.0.0.1:${await freePort()}` } : {}) },
    targets,
    identities: [{ name: 'agent', kind: 'machine', targets: targets.map((t) => t.name) }, { name: 'outsider', kind: 'human', targets: [] }],
    ...extra,
  };
}

/**
 * Starts `bin/hopscope gateway --config <dir>/gateway.yml` (written from `raw`
 * unless it exists: a restart reuses the same file). stdout and stderr go, whole,
 * to `<dir>/gateway-<n>.log`. Needs a build (`tsc`).
 */
export async function startChildGateway(dir: string, raw: Record<string, unknown>, opts: { password?: string; logLevel?: string } = {}): Promise<ChildGateway> {
  const configPath = join(dir, 'gateway.yml');
  writeFileSync(configPath, stringify(raw), { flag: 'w' });
  const logFile = join(dir, `gateway-${readdirSync(dir).filter((f) => f.endsWith('.log')).length + 1}.log`);
  writeFileSync(logFile, '');
  // `exec` replaces the shell, so proc.pid is the gateway's own pid (for SIGKILL and /proc).
  const proc = spawnLong('sh', ['-c', `exec "${process.execPath}" bin/hopscope gateway --config "${configPath}" >>"${logFile}" 2>&1`], {
    env: { [TARGET_PASSWORD_ENV]: opts.password ?? process.env[TARGET_PASSWORD_ENV], HOPSCOPE_LOG_LEVEL: opts.logLevel ?? 'warn' },
  });
  const deadline = Date.now() + 20_000;
  while (!readFileSync(logFile, 'utf8').includes('hopscope gateway running')) {
    if ((await Promise.race([proc.exited, sleep(50).then(() => 'wait')])) !== 'wait' || Date.now() > deadline) {
      throw new Error(`the gateway did not start:\n${readFileSync(logFile, 'utf8')}`);
    }
  }
  const listeners = raw.listeners as { postgres?: string; ssh?: string };
  const port = (a?: string) => (a ? Number(a.split(':')[1]) : 0);
  const keysDir = (raw.keys as { dir: string }).dir;
  const signer = loadOrCreateSigner(keysDir);
  let alive = true;
  void proc.exited.then(() => (alive = false));
  const token = (identity = 'agent') => issueToken(signer, systemClock, { identity, ttlSeconds: 3600 }).token;
  return {
    proc, configPath, logFile, keysDir,
    recordingsDir: (raw.recording as { dir: string }).dir,
    pgPort: port(listeners.postgres),
    sshPort: port(listeners.ssh),
    adminUrl: `http://${(raw.admin as { listen: string }).listen}`,
    token,
    pg: (identity = 'agent', target = 'db') => ({ host: '127.0.0.1', port: port(listeners.postgres), user: identity, password: token(identity), database: target }),
    async memory() {
      const status = await readFile(`/proc/${proc.pid}/status`, 'utf8');
      const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
      return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
    },
    alive: () => alive,
  };
}

/** Every recording file of a folder (session files and the gateway's audit files). */
export function recordingFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort().map((f) => join(dir, f));
}

/** Verifies every recording of a folder against the keys in keysDir. */
export async function verifyAll(recordingsDir: string, keysDir: string): Promise<Array<{ file: string; report: VerifyReport }>> {
  const trusted = loadTrustedKeys([keysDir]);
  const out = [];
  for (const file of recordingFiles(recordingsDir)) out.push({ file, report: await verifyRecordingFile(file, trusted) });
  return out;
}

/** Rejects after `ms` (a hung client must not hang the suite). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  })]).finally(() => clearTimeout(timer));
}

/** A small seeded PRNG (mulberry32), so a failing case can be reproduced from its seed. */
export function prng(seed: number): { next(): number; int(n: number): number; pick<T>(a: readonly T[]): T } {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: (a) => a[int(a.length)]! };
}
