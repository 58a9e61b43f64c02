import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../common/clock.js';
import { issueToken } from '../common/tokens/index.js';
import { parseConfig, startGateway } from '../gateway/index.js';
import { freePort, waitForPort } from '../test/helpers/ports.js';
import type { PgConn } from '../test/helpers/postgres.js';
import { run, spawnLong } from '../test/helpers/processes.js';

export type GatewayMode = 'in-process' | 'child';

export interface BenchGateway {
  /** How clients reach the upstream through the gateway: user=identity, dbname=target, password=token. */
  conn: PgConn;
  /** Where the gateway writes its recordings (to count what it masked). */
  recordingDir: string;
  /** VmHWM of the gateway process; only known for a child process. */
  peakRssBytes(): Promise<number | undefined>;
  /** User + system CPU seconds the gateway process has used so far; only known for a child process. */
  cpuSeconds(): Promise<number | undefined>;
  /** The gateway's process id, when it is a child process. */
  pid?: number;
  stop(): Promise<void>;
}

const IDENTITY = 'bench';
const TARGET = 'bench-db';
const PASSWORD_ENV = 'BENCH_DB_PASSWORD';
// Per-session info lines would interleave with the table; warnings still show.
const LOG_LEVEL = process.env.HOPSCOPE_LOG_LEVEL ?? 'warn';

/** Which of the rules of examples/gateway.yml a bench gateway runs with (recording is always on). */
export type BenchPolicies = 'none' | 'masking' | 'masking+guardrails';

/**
 * The masking rules of examples/gateway.yml: what a gateway with masking does for
 * every result row (column and pattern masking) and, over SSH, for all output.
 */
export const BENCH_MASKING = [
  { name: 'email', column: '*email*' },
  { name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b' },
  { name: 'card', builtin: 'credit-card' },
];

/** The SQL guardrails of examples/gateway.yml: every statement is parsed (cached by text) and judged. */
export const BENCH_GUARDRAILS = [
  { name: 'no-drop', sql: { statements: ['DropStmt', 'TruncateStmt'] }, action: 'block' },
  { name: 'unbounded-write', sql: { statements: ['DeleteStmt', 'UpdateStmt'], withoutWhere: true }, action: 'review' },
];

/** The SSH guardrail of examples/gateway.yml: every exec and typed line is parsed as bash and judged. */
export const BENCH_SSH_GUARDRAILS = [
  { name: 'no-pipe-to-shell', ssh: { pipeTo: 'interpreter', from: 'downloader' }, action: 'block' },
];

export function policyConfig(policies: BenchPolicies): object {
  if (policies === 'none') return {};
  return policies === 'masking' ? { masking: BENCH_MASKING } : { masking: BENCH_MASKING, guardrails: BENCH_GUARDRAILS };
}

/** Starts a gateway in front of `upstream` with one machine identity allowed to reach it (with some of the example rules if asked). */
/** `nodeArgs` go to a child gateway's node (e.g. `--cpu-prof --cpu-prof-dir=…`); an in-process gateway ignores them. */
export async function startBenchGateway(upstream: PgConn, mode: GatewayMode, repoRoot: string, policies: BenchPolicies = 'none', nodeArgs: string[] = []): Promise<BenchGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'hopscope-bench-gw-'));
  try {
    const listen = `127.0.0.1:${await freePort()}`;
    const raw = {
      recording: { dir: join(dir, 'recordings'), fsync: 'batch' },
      keys: { dir: join(dir, 'keys') },
      admin: { listen: `127.0.0.1:${await freePort()}` },
      listeners: { postgres: listen },
      targets: [{
        name: TARGET, type: 'postgres', host: upstream.host, port: upstream.port,
        database: upstream.database, user: upstream.user, password: { env: PASSWORD_ENV },
      }],
      identities: [{ name: IDENTITY, kind: 'machine', targets: [TARGET] }],
      ...policyConfig(policies),
    };
    const started = mode === 'in-process' ? await inProcess(raw, dir, upstream.password) : await child(raw, dir, upstream.password, repoRoot, nodeArgs);
    return {
      ...started,
      recordingDir: join(dir, 'recordings'),
      async stop() {
        await started.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function inProcess(raw: object, dir: string, password: string): Promise<Omit<BenchGateway, 'recordingDir'>> {
  process.env[PASSWORD_ENV] = password;
  process.env.HOPSCOPE_LOG_LEVEL = LOG_LEVEL;
  const gw = await startGateway(parseConfig(raw, dir));
  if (!gw.postgres) throw new Error('the gateway started without a PostgreSQL listener');
  const { token } = issueToken(gw.signer, systemClock, { identity: IDENTITY, ttlSeconds: 3600 });
  return {
    conn: { ...gw.postgres, user: IDENTITY, password: token, database: TARGET },
    peakRssBytes: async () => undefined,
    cpuSeconds: async () => undefined,
    stop: () => gw.stop(),
  };
}

async function child(raw: { listeners: { postgres: string } }, dir: string, password: string, repoRoot: string, nodeArgs: string[]): Promise<Omit<BenchGateway, 'recordingDir'>> {
  const started = await startChildGateway(raw, dir, repoRoot, raw.listeners.postgres, { [PASSWORD_ENV]: password }, nodeArgs);
  const [host, port] = raw.listeners.postgres.split(':') as [string, string];
  return { conn: { host, port: Number(port), user: IDENTITY, password: started.token, database: TARGET }, peakRssBytes: started.peakRssBytes, cpuSeconds: started.cpuSeconds, pid: started.pid, stop: started.stop };
}

export interface ChildGateway {
  /** A token for the bench identity, issued by the CLI with the key the gateway created. */
  token: string;
  /** VmHWM of the gateway process. */
  peakRssBytes(): Promise<number | undefined>;
  /** User + system CPU seconds the gateway process has used so far (from /proc, in clock ticks of 10 ms). */
  cpuSeconds(): Promise<number | undefined>;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts the CLI gateway as deployed (`hopscope gateway --config …`, its own process and event loop) with `raw` as its
 * config file, waits for `listen` and issues a token for the bench identity. `nodeArgs` go to its node (e.g. --cpu-prof).
 */
export async function startChildGateway(raw: object, dir: string, repoRoot: string, listen: string, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<ChildGateway> {
  // JSON is YAML, so the config file can be written as JSON.
  const configFile = join(dir, 'gateway.yaml');
  await writeFile(configFile, JSON.stringify(raw, null, 2));
  const cli = join(repoRoot, 'bin', 'hopscope');
  const proc = spawnLong('node', [...nodeArgs, cli, 'gateway', '--config', configFile], { env: { ...env, HOPSCOPE_LOG_LEVEL: LOG_LEVEL } });
  const [host, port] = listen.split(':') as [string, string];
  try {
    await Promise.race([
      waitForPort(host, Number(port), 30_000),
      proc.exited.then(() => Promise.reject(new Error('the gateway exited'))),
    ]);
  } catch (err) {
    await proc.stop();
    throw new Error(`${(err as Error).message}:\n${proc.output()}`);
  }
  // The gateway creates its signing key on first start; the CLI signs with it.
  const issued = await run('node', [cli, 'token', 'issue', '--config', configFile, '--identity', IDENTITY, '--ttl', '1h']);
  if (issued.code !== 0) {
    await proc.stop();
    throw new Error(`hopscope token issue failed: ${issued.stderr}`);
  }
  return {
    token: issued.stdout.trim(),
    async peakRssBytes() {
      const status = await readFile(`/proc/${proc.pid}/status`, 'utf8').catch(() => '');
      const kib = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
      return kib === undefined ? undefined : Number(kib) * 1024;
    },
    cpuSeconds: () => processCpuSeconds(proc.pid),
    pid: proc.pid,
    stop: () => proc.stop(15_000), // SIGTERM drains and seals recordings (and writes a --cpu-prof profile)
  };
}

/** User + system CPU seconds process `pid` has used so far (from /proc, in clock ticks of 10 ms). */
export async function processCpuSeconds(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields.length > 12 ? (Number(fields[11]) + Number(fields[12])) / 100 : undefined;
}

/** Read and write system calls (any descriptor) process `pid` has made so far, from /proc/<pid>/io. */
export async function processSyscalls(pid: number): Promise<{ reads: number; writes: number } | undefined> {
  const io = await readFile(`/proc/${pid}/io`, 'utf8').catch(() => '');
  const reads = /^syscr:\s+(\d+)/m.exec(io)?.[1];
  const writes = /^syscw:\s+(\d+)/m.exec(io)?.[1];
  return reads === undefined || writes === undefined ? undefined : { reads: Number(reads), writes: Number(writes) };
}
