// A fleet of two gateways (gw-a, gw-b: separate processes) on one control plane (a second PostgreSQL cluster), issue 16:
// revocation propagation (POST /revocations on gw-a until a session on gw-b sees its connection end), the approval round
// trip through another gateway (a statement held on gw-b approved via gw-a, until the client has its result), and
// pgbench -S through gw-a against a lone gateway of the same config without controlPlane (interleaved rounds).
// `npm run bench:fleet -- [--rounds 50] [--pg-rounds 3] [--seconds 5] [--clients 4]`; raw JSON in bench/results/fleet-*.json,
// with the rows bench/all.ts puts in its table (each with its command, the load average at its start and its peer).
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { cpuSeconds, createControlPlane, libpqEnv, run, startCluster, startGatewayProcess, type Cluster, type GatewayProcess, type PgConn } from './fleet-setup.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const { values: args } = parseArgs({ options: {
  rounds: { type: 'string', default: '50' }, 'pg-rounds': { type: 'string', default: '3' },
  seconds: { type: 'string', default: '5' }, clients: { type: 'string', default: '4' },
} });
const whole = (name: keyof typeof args) => {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number above 0, not ${args[name]}`);
  return n;
};
const options = { rounds: whole('rounds'), pgRounds: whole('pg-rounds'), seconds: whole('seconds'), clients: whole('clients') };
const command = `node dist/bench/fleet.js ${process.argv.slice(2).join(' ')}`.trim();
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
const startedAt = new Date().toISOString();
/** Wait for what a round waits on (a session's end, a held result) before the round is counted as missed. */
const ROUND_TIMEOUT_MS = 10_000;
const HELD_TABLE = 'fleet_bench_items';

interface Latency { samples: number; p50Ms: number; p99Ms: number; maxMs: number }
function percentiles(ms: number[]): Latency | undefined {
  if (!ms.length) return undefined;
  const sorted = Float64Array.from(ms).sort();
  const at = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { samples: sorted.length, p50Ms: at(50), p99Ms: at(99), maxMs: sorted[sorted.length - 1]! };
}
const within = <T>(p: Promise<T>, ms: number, what: string) => Promise.race([p, sleep(ms).then(() => Promise.reject(new Error(`${what}: nothing within ${ms} ms`)))]);

async function connect(conn: PgConn): Promise<pg.Client> {
  const c = new pg.Client(conn);
  c.on('error', () => undefined); // a cut session errors; the rounds watch 'end'
  await c.connect();
  return c;
}

/** A login refused while gw-b has not yet seen a lift is retried: the lift's propagation is not what is measured. */
async function connectRetrying(conn: () => PgConn): Promise<pg.Client> {
  const deadline = Date.now() + ROUND_TIMEOUT_MS;
  for (;;) {
    try {
      return await connect(conn());
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(20);
    }
  }
}

/** Per round: revokee's session on gw-b, its identity revoked through gw-a's API; then the revocation is lifted. */
async function revocationRounds(a: GatewayProcess, b: GatewayProcess, rounds: number) {
  const loadAtStart = load();
  const toEnd: number[] = [];
  const answered: number[] = [];
  const missed: string[] = [];
  for (let i = 0; i < rounds; i++) {
    const client = await connectRetrying(() => b.conn('revokee'));
    await client.query('SELECT 1'); // admitted and live
    const ended = new Promise<number>((resolve) => client.once('end', () => resolve(performance.now())));
    const sent = performance.now();
    const res = await a.api('POST', '/revocations', { identity: 'revokee', reason: `bench:fleet round ${i + 1}` });
    answered.push(performance.now() - sent);
    if (res.status !== 200) throw new Error(`POST /revocations on gw-a answered ${res.status}: ${JSON.stringify(res.body)}`);
    try {
      toEnd.push((await within(ended, ROUND_TIMEOUT_MS, 'session on gw-b')) - sent);
    } catch (err) {
      missed.push(`round ${i + 1}: ${(err as Error).message}`);
      await client.end().catch(() => undefined);
    }
    const lifted = await a.api('DELETE', '/revocations/identity/revokee');
    if (lifted.status !== 200) throw new Error(`DELETE /revocations/identity/revokee on gw-a answered ${lifted.status}`);
  }
  return { loadAtStart, toSessionEnd: percentiles(toEnd), postAnswered: percentiles(answered), overOneSecond: toEnd.filter((ms) => ms > 1000).length, missed, samplesMs: toEnd };
}

/** Per round: a DELETE without WHERE held on gw-b (guardrail, action review), approved by alice through gw-a's API. */
async function approvalRounds(a: GatewayProcess, b: GatewayProcess, rounds: number) {
  const loadAtStart = load();
  const toResult: number[] = [];
  const answered: number[] = [];
  const alice = a.token('alice');
  const held = await connect(b.conn('agent'));
  try {
    for (let i = 0; i < rounds; i++) {
      const result = held.query(`DELETE FROM ${HELD_TABLE}`).then(() => performance.now());
      // Listing is not timed: the round trip starts when the approver decides.
      let pending: { id: string } | undefined;
      for (const deadline = Date.now() + ROUND_TIMEOUT_MS; !pending; await sleep(10)) {
        if (Date.now() > deadline) throw new Error(`round ${i + 1}: the held DELETE was not listed on gw-a within ${ROUND_TIMEOUT_MS} ms`);
        const list = await a.api('GET', '/approvals');
        pending = (list.body as Array<{ id: string; gateway?: string }> | undefined)?.find((p) => p.gateway === 'gw-b');
      }
      const sent = performance.now();
      const res = await a.api('POST', `/approvals/${pending.id}/approve`, { reason: `bench:fleet round ${i + 1}` }, alice);
      answered.push(performance.now() - sent);
      if (res.status !== 200) throw new Error(`POST /approvals/${pending.id}/approve on gw-a answered ${res.status}: ${JSON.stringify(res.body)}`);
      toResult.push((await within(result, ROUND_TIMEOUT_MS, 'held DELETE on gw-b')) - sent);
    }
  } finally {
    await held.end().catch(() => undefined);
  }
  return { loadAtStart, toResult: percentiles(toResult), postAnswered: percentiles(answered), samplesMs: toResult };
}

/** pgbench -S through gw-a and through the lone gateway, alternating which goes first; TPS and gateway CPU per transaction. */
async function pgbenchRounds(fleetGw: GatewayProcess, lone: GatewayProcess) {
  const loadAtStart = load();
  const pgbench = async (gw: GatewayProcess, seconds: number, warmUp = false) => {
    const cpu0 = await cpuSeconds(gw.pid);
    const out = await run('pgbench', ['-n', '-S', '-c', String(options.clients), '-j', '1', '-T', String(seconds), '-M', 'simple'],
      libpqEnv(gw.conn('agent')), (seconds + 60) * 1000);
    const cpu = (await cpuSeconds(gw.pid)) - cpu0;
    const tps = Number(/^tps = ([\d.]+)/m.exec(out)?.[1]);
    const transactions = Number(/^number of transactions actually processed: (\d+)/m.exec(out)?.[1]);
    if (!warmUp && !(tps > 0 && transactions > 0)) throw new Error(`pgbench through ${gw.name} printed no tps:\n${out}`);
    return { tps, transactions, gatewayCpuMicrosPerTransaction: (cpu * 1e6) / transactions };
  };
  for (const gw of [fleetGw, lone]) await pgbench(gw, 2, true); // warm-up, not counted (under load its logins may fill it)
  const runs: Array<{ round: number; gateway: string } & Awaited<ReturnType<typeof pgbench>>> = [];
  for (let round = 1; round <= options.pgRounds; round++) {
    for (const gw of round % 2 ? [fleetGw, lone] : [lone, fleetGw]) runs.push({ round, gateway: gw === lone ? 'lone' : 'fleet', ...(await pgbench(gw, options.seconds)) });
  }
  const mean = (which: string, key: 'tps' | 'gatewayCpuMicrosPerTransaction') => {
    const xs = runs.filter((r) => r.gateway === which).map((r) => r[key]);
    return xs.reduce((s, x) => s + x, 0) / xs.length;
  };
  const perRound = Array.from({ length: options.pgRounds }, (_, i) => {
    const of = (g: string) => runs.find((r) => r.round === i + 1 && r.gateway === g)!.tps;
    return of('fleet') / of('lone');
  });
  return {
    loadAtStart, runs, perRoundRatio: perRound,
    meanTps: { fleet: mean('fleet', 'tps'), lone: mean('lone', 'tps') }, ratio: mean('fleet', 'tps') / mean('lone', 'tps'),
    gatewayCpuMicrosPerTransaction: { fleet: mean('fleet', 'gatewayCpuMicrosPerTransaction'), lone: mean('lone', 'gatewayCpuMicrosPerTransaction') },
  };
}

const clusters: Cluster[] = [];
const gateways: GatewayProcess[] = [];
const result: Record<string, unknown> = {};
let failure: string | undefined;
try {
  clusters.push(...(await Promise.all([startCluster(), startCluster()])));
  const [db, cpCluster] = clusters as [Cluster, Cluster];
  const cp = await createControlPlane(cpCluster, ['a', 'b']);
  // Started together: both migrate the control plane at once, as a fleet's first start does.
  const [a, b] = await Promise.all([
    startGatewayProcess(repoRoot, db.app, { fleet: { name: 'gw-a', controlPlane: cp.url('a') } }),
    startGatewayProcess(repoRoot, db.app, { fleet: { name: 'gw-b', controlPlane: cp.url('b') },
      guardrails: [{ name: 'unbounded-delete', sql: { statements: ['DeleteStmt'], withoutWhere: true }, action: 'review' }] }),
  ]);
  gateways.push(a, b);
  const lone = await startGatewayProcess(repoRoot, db.app); // gw-a's config without controlPlane
  gateways.push(lone);
  await run('pgbench', ['-i', '-q', '-s', '1'], libpqEnv(db.app), 300_000);
  await db.query('app', `CREATE TABLE ${HELD_TABLE} (id int); ALTER TABLE ${HELD_TABLE} OWNER TO app`);
  console.log(`fleet up: gw-a, gw-b, a lone gateway; ${options.rounds} revocation rounds (load ${load()})`);
  result.revocation = await revocationRounds(a, b, options.rounds);
  console.log(`approval rounds (load ${load()})`);
  result.approval = await approvalRounds(a, b, options.rounds);
  console.log(`pgbench -S, ${options.clients} clients, ${options.pgRounds} x ${options.seconds} s per gateway (load ${load()})`);
  result.pgbench = await pgbenchRounds(a, lone);
} catch (err) {
  failure = (err as Error).stack ?? String(err);
  console.error(`bench:fleet failed: ${failure}`);
  for (const gw of gateways) console.error(`--- ${gw.name} output (tail):\n${gw.output().slice(-3000)}`);
  process.exitCode = 1;
} finally {
  await Promise.all(gateways.map((gw) => gw.stop()));
  await Promise.all(clusters.map((c) => c.stop()));
}

type Row = [string, string, string, string, string, string];
const rows: Row[] = [];
const f = (n: number | undefined, d = 1) => (n === undefined ? '-' : n.toFixed(d));
const lat = (l: Latency | undefined) => (l ? `p50 ${f(l.p50Ms)} ms, p99 ${f(l.p99Ms)} ms` : '-');
type RevocationResult = Awaited<ReturnType<typeof revocationRounds>>;
type ApprovalResult = Awaited<ReturnType<typeof approvalRounds>>;
type PgbenchResult = Awaited<ReturnType<typeof pgbenchRounds>>;
const rev = result.revocation as RevocationResult | undefined;
if (rev) {
  rows.push(['fleet: revocation propagation (POST on gw-a → session on gw-b ends)', command, rev.loadAtStart, 'none: latency (issue 16 target: each within 1 s)',
    lat(rev.toSessionEnd),
    `${rev.toSessionEnd?.samples ?? 0} rounds (identity revoked, lifted between rounds), max ${f(rev.toSessionEnd?.maxMs)} ms, first (cold) round ${rev.missed.some((m) => m.startsWith('round 1:')) ? 'missed' : `${f(rev.samplesMs[0])} ms`}, over 1 s: ${rev.overOneSecond}, missed: ${rev.missed.length}; gw-a's answer to the POST ${lat(rev.postAnswered)}`]);
}
const appr = result.approval as ApprovalResult | undefined;
if (appr) {
  rows.push(['fleet: approval round trip (held on gw-b, approved via gw-a → client has its result)', command, appr.loadAtStart, 'none: latency',
    lat(appr.toResult), `${appr.toResult?.samples ?? 0} rounds (DELETE without WHERE, guardrail action review), max ${f(appr.toResult?.maxMs)} ms, first (cold) round ${f(appr.samplesMs[0])} ms; gw-a's answer to the POST ${lat(appr.postAnswered)}`]);
}
const bench = result.pgbench as PgbenchResult | undefined;
if (bench) {
  rows.push([`fleet: pgbench -S, ${options.clients} clients, gateway in a fleet vs lone`, command, bench.loadAtStart, 'a lone gateway (same config, no controlPlane)',
    `fleet/lone ${f(bench.ratio, 2)}`,
    `TPS fleet ${f(bench.meanTps.fleet, 0)}, lone ${f(bench.meanTps.lone, 0)} (${options.pgRounds} interleaved rounds of ${options.seconds} s, per round ${bench.perRoundRatio.map((r) => r.toFixed(2)).join(', ')}); ` +
      `gateway CPU per transaction fleet ${f(bench.gatewayCpuMicrosPerTransaction.fleet)} µs, lone ${f(bench.gatewayCpuMicrosPerTransaction.lone)} µs`]);
}
if (failure) rows.push(['fleet', command, '-', '-', 'failed', failure.split('\n')[0]!]);

const dir = join(repoRoot, 'bench', 'results');
await mkdir(dir, { recursive: true });
const file = join(dir, `fleet-${startedAt.replace(/[:.]/g, '-')}.json`);
await writeFile(file, `${JSON.stringify({ bench: 'fleet', startedAt, command, machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
  options, ...result, failure, rows }, null, 2)}\n`);
console.log(['', '| part | command | load at start | compared with | ratio | detail |', '| --- | --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`)].join('\n'));
console.log(`raw results: ${file}`);
