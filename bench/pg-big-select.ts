// A large SELECT direct vs through the gateway (child process, recording on): rows/s, ratio and the
// gateway's peak RSS. `npm run bench:pg:big -- --rows 5000000`.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startPostgres, type PgConn } from '../test/helpers/postgres.js';
import { libpqEnv, run } from '../test/helpers/processes.js';
import { startBenchGateway } from './gateway.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const { values } = parseArgs({ options: { rows: { type: 'string', default: '5000000' } } });
const rows = Number(values.rows);
if (!Number.isInteger(rows) || rows < 1) throw new Error(`--rows must be a positive integer, not ${values.rows}`);

const sql = `SELECT g, 'row ' || g || ' with some padding text' FROM generate_series(1, ${rows}) g`;

/** Streams the result through psql into wc (psql keeps rows itself, the gateway must not). */
async function select(conn: PgConn): Promise<number> {
  const started = process.hrtime.bigint();
  const res = await run('sh', ['-c', `psql -X -A -t -c "${sql}" | wc -l`], { env: libpqEnv(conn), timeoutMs: 1_800_000 });
  if (res.stdout.trim() !== String(rows)) throw new Error(`expected ${rows} rows, got ${res.stdout.trim()}: ${res.stderr}`);
  return rows / (Number(process.hrtime.bigint() - started) / 1e9);
}

const server = await startPostgres();
try {
  const gateway = await startBenchGateway(server.app, 'child', repoRoot);
  try {
    const baseline = await gateway.peakRssBytes();
    const direct = await select(server.app);
    const through = await select(gateway.conn);
    const peak = await gateway.peakRssBytes();
    const mib = (b: number | undefined) => (b === undefined ? '?' : (b / 2 ** 20).toFixed(1));
    console.log(`SELECT of ${rows} rows, psql → wc`);
    console.log(`  direct   ${direct.toFixed(0)} rows/s`);
    console.log(`  gateway  ${through.toFixed(0)} rows/s   ratio ${(through / direct).toFixed(2)}`);
    console.log(`  gateway peak RSS ${mib(peak)} MiB (after start: ${mib(baseline)} MiB)`);
    const at = new Date().toISOString();
    const file = join(repoRoot, 'bench', 'results', `pg-big-${at.replace(/[:.]/g, '-')}.json`);
    await mkdir(join(repoRoot, 'bench', 'results'), { recursive: true });
    await writeFile(file, `${JSON.stringify({
      bench: 'pg-big', at, machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
      rows, rowsPerSecond: { direct, gateway: through }, ratio: through / direct, gatewayRssBytes: { afterStart: baseline, peak },
    }, null, 2)}\n`);
    console.log(`raw results: ${file}`);
  } finally {
    await gateway.stop();
  }
} finally {
  await server.stop();
}
