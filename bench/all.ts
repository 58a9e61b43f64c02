// `npm run bench`: bench:pg (pgbench -S at 1, 4 and 16 clients), bench:pg:big, bench:ssh and
// bench:import in sequence, each in its own process, then one table of ratios and counts.
// Raw JSON stays in bench/results/ (git-ignored); `--quick` shortens every part.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const results = join(repoRoot, 'bench', 'results');
const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false }, clients: { type: 'string', default: '1,4,16' } } });
const q = args.quick;

interface Part { name: string; script: string; args: string[]; prefix: RegExp }
const parts: Part[] = [
  ...args.clients.split(',').map((c) => ({ name: `pg ${c} client(s)`, script: 'pg.js', args: ['--clients', c, '--seconds', q ? '3' : '10', '--rounds', q ? '1' : '2', '--gateway', 'child'], prefix: /^pg-\d/ })),
  { name: 'pg big select', script: 'pg-big-select.js', args: ['--rows', q ? '500000' : '5000000'], prefix: /^pg-big-/ },
  { name: 'ssh', script: 'ssh.js', args: ['--mb', q ? '50' : '200'], prefix: /^ssh-/ },
  { name: 'import', script: 'import.js', args: q ? ['--events', '200000', '--terminal-mb', '20', '--seeks', '200'] : [], prefix: /^import-/ },
];

const newest = (prefix: RegExp, since: number): Record<string, unknown> | undefined => {
  const files = readdirSync(results).filter((f) => prefix.test(f) && f.endsWith('.json')).sort();
  const file = files.at(-1);
  if (!file) return undefined;
  const json = JSON.parse(readFileSync(join(results, file), 'utf8')) as Record<string, unknown>;
  const at = Date.parse(String(json.startedAt ?? json.at));
  return at >= since - 1000 ? { ...json, file } : undefined;
};

const rows: Array<[string, string, string]> = [];
let failed = 0;
for (const part of parts) {
  const since = Date.now();
  console.log(`\n=== ${part.name}: node dist/bench/${part.script} ${part.args.join(' ')}`);
  const code = await new Promise<number | null>((resolve) => {
    spawn(process.execPath, [join(repoRoot, 'dist', 'bench', part.script), ...part.args], { stdio: 'inherit', cwd: repoRoot }).on('close', resolve);
  });
  const json = code === 0 ? newest(part.prefix, since) : undefined;
  if (!json) {
    failed++;
    rows.push([part.name, 'failed', `exit ${code}`]);
    continue;
  }
  const f = (n: unknown, d = 2) => (typeof n === 'number' ? n.toFixed(d) : '-');
  const mib = (b: unknown) => (typeof b === 'number' ? `${(b / 2 ** 20).toFixed(0)} MiB` : '-');
  if (part.script === 'pg.js') {
    const r = json.ratios as Record<string, number | undefined>;
    const tps = json.meanTps as Record<string, number | undefined>;
    rows.push([part.name, `gateway/direct ${f(r['gateway/direct'])}, gateway/pgbouncer ${f(r['gateway/pgbouncer'])}, with policies/pgbouncer ${f(r['policies/pgbouncer'])}`,
      `TPS direct ${f(tps.direct, 0)}, pgbouncer ${f(tps.pgbouncer, 0)}, gateway ${f(tps.gateway, 0)}, gateway+policies ${f(tps['gateway+policies'], 0)}; gateway peak RSS ${mib((json.gateway as { peakRssBytes?: number }).peakRssBytes)}`]);
  } else if (part.script === 'pg-big-select.js') {
    const rps = json.rowsPerSecond as { direct: number; gateway: number };
    rows.push([part.name, `gateway/direct ${f(json.ratio)}`, `${json.rows} rows; rows/s direct ${f(rps.direct, 0)}, gateway ${f(rps.gateway, 0)}; gateway peak RSS ${mib((json.gatewayRssBytes as { peak?: number }).peak)}`]);
  } else if (part.script === 'ssh.js') {
    const r = json.ratios as { download: number; upload: number };
    rows.push([part.name, `gateway/direct download ${f(r.download)}, upload ${f(r.upload)}`, `${(json.options as { mb: number }).mb} MB each way; bench process peak RSS ${mib(json.peakRssBytes)}`]);
  } else {
    const imp = json.import as Record<string, number>;
    const term = json.terminal as Record<string, number>;
    rows.push([part.name, `${f(imp.eventsPerSecond, 0)} events/s`, `${imp.events} events, peak RSS ${f(imp.peakRssMB, 0)} MB; seek p50 ${f(term.seekP50ms, 1)} ms, p99 ${f(term.seekP99ms, 1)} ms`]);
  }
}

const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['part', 'ratio', 'detail'][i]!.length));
const line = (r: readonly string[]) => r.map((c, i) => c.padEnd(w[i]!)).join('  ');
console.log(`\nhopscope benchmarks, ${cpus().length} cores (${cpus()[0]?.model}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}${q ? ', --quick' : ''}`);
console.log(line(['part', 'ratio', 'detail']));
console.log(line(w.map((n) => '-'.repeat(n))));
for (const r of rows) console.log(line(r));
console.log(`raw JSON: ${results}`);
if (failed) process.exitCode = 1;
