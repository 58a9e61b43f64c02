// `npm run bench`: bench:pg (pgbench -S and simple-update at 1, 4 and 16 clients), bench:pg:big, bench:ssh,
// bench:import and bench:fleet in sequence, each in its own process, then one table of ratios and counts, each row with the
// command that measured it, the machine's load average when that part started and the peer it is compared with.
// A full run replaces the table in docs/BENCHMARKS.md (between its bench:table markers); `--quick` runs and
// `--no-docs` only print it. Raw JSON stays in bench/results/ (git-ignored); `--quick` shortens every part:
// `npm run bench -- [--quick] [--no-docs] [--clients 1,4,16] [--pg-seconds 5] [--pg-rounds 2] [--only pg,pg-big,ssh,import,fleet]`.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** What --only takes; a run of all of them replaces the table in docs/BENCHMARKS.md. */
const PART_NAMES = ['pg', 'pg-big', 'ssh', 'import', 'fleet'];
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const results = join(repoRoot, 'bench', 'results');
const { values: args } = parseArgs({ options: {
  quick: { type: 'boolean', default: false }, clients: { type: 'string', default: '1,4,16' },
  'pg-seconds': { type: 'string' }, 'pg-rounds': { type: 'string' }, only: { type: 'string', default: PART_NAMES.join(',') },
  'no-docs': { type: 'boolean', default: false },
} });
const only = new Set(args.only.split(','));
const started = Date.now();
const TABLE_START = '<!-- bench:table:start (written by npm run bench; a rerun replaces it) -->';
const TABLE_END = '<!-- bench:table:end -->';
const q = args.quick;
const pgSeconds = args['pg-seconds'] ?? (q ? '2' : '5');
const pgRounds = args['pg-rounds'] ?? (q ? '1' : '2');

interface Part { name: string; script: string; args: string[]; prefix: RegExp; peer: string }
const PG_PEERS = 'direct PostgreSQL; PgBouncer 1.18 (session pooling); the floor: a bare Node.js relay';
/**
 * The gateways and their peers, and two floors (bench/node-relay.ts): the cheapest Node.js relay (no parsing, no
 * recording) and the same writing each client chunk to a file before forwarding. They say how far a Node gateway
 * can get towards pgbouncer on this machine at all.
 */
const PG_PATHS = 'direct,pgbouncer,gateway,gateway+masking,gateway+masking+guardrails,node-relay-onread,node-relay+write';
/** The SSH paths: with the floor, a bare ssh2 relay over the gateway's two connections (bench/ssh2-relay.ts). */
const SSH_PATHS = 'direct,bastion,gateway,gateway+rules,ssh2-relay';
const all: Part[] = [
  ...args.clients.split(',').map((c) => ({ name: `pg ${c} client${c === '1' ? '' : 's'}`, script: 'pg.js', args: ['--clients', c, '--seconds', pgSeconds, '--rounds', pgRounds, '--gateway', 'child', '--paths', PG_PATHS], prefix: /^pg-\d/, peer: PG_PEERS })),
  { name: 'pg big select', script: 'pg-big-select.js', args: ['--rows', q ? '500000' : '5000000'], prefix: /^pg-big-/, peer: 'direct PostgreSQL' },
  { name: 'ssh', script: 'ssh.js', args: ['--mb', q ? '50' : '200', '--echo', q ? '100' : '500', '--paths', SSH_PATHS], prefix: /^ssh-/, peer: 'direct OpenSSH; ssh -J through a second OpenSSH (bastion); the floor: a bare ssh2 relay' },
  { name: 'import', script: 'import.js', args: q ? ['--events', '200000', '--terminal-mb', '20', '--seeks', '200'] : [], prefix: /^import-/, peer: 'none: events/s (issue 15 target 250k)' },
  // Its rows come written by bench/fleet.js, each with its own peer and the load when its measurement started.
  { name: 'fleet', script: 'fleet.js', args: q ? ['--rounds', '10', '--pg-rounds', '1', '--seconds', '2'] : [], prefix: /^fleet-/, peer: 'per row' },
];
const parts = all.filter((p) => only.has(p.script.replace(/\.js$/, '').replace('pg-big-select', 'pg-big')));

const newest = (prefix: RegExp, since: number): Record<string, unknown> | undefined => {
  const files = readdirSync(results).filter((f) => prefix.test(f) && f.endsWith('.json')).sort();
  const file = files.at(-1);
  if (!file) return undefined;
  const json = JSON.parse(readFileSync(join(results, file), 'utf8')) as Record<string, unknown>;
  const at = Date.parse(String(json.startedAt ?? json.at));
  return at >= since - 1000 ? { ...json, file } : undefined;
};

type Numbers = Record<string, number | undefined>;
type Latency = { p50Ms: number; p99Ms: number };
type Added = Latency & { p50Ratio: number; p99Ratio: number };
const f = (n: unknown, d = 2) => (typeof n === 'number' ? n.toFixed(d) : '-');
const mib = (b: unknown) => (typeof b === 'number' ? `${(b / 2 ** 20).toFixed(0)} MiB` : '-');
const plus = (a: Added | undefined) => (a ? `p50 ${a.p50Ms >= 0 ? '+' : ''}${f(a.p50Ms, 3)} ms (×${f(a.p50Ratio)}), p99 ${a.p99Ms >= 0 ? '+' : ''}${f(a.p99Ms, 3)} ms (×${f(a.p99Ratio)})` : '-');
const ms = (l: Latency | undefined) => (l ? `${f(l.p50Ms, 3)}/${f(l.p99Ms, 3)}` : '-');
const PG_LABELS: Record<string, string> = { select: 'pgbench -S', write: 'pgbench -N (simple-update)', masked: 'select of protected columns' };

/** part, command, load at its start, peer, ratio, detail */
type Row = [string, string, string, string, string, string];
const rows: Row[] = [];
let failed = 0;
let current = { command: '', load: '', peer: '' };
/** A row of the part running now: its command, load and peer go with it. */
const push = (name: string, ratio: string, detail: string) => rows.push([name, current.command, current.load, current.peer, ratio, detail]);
for (const part of parts) {
  const since = Date.now();
  current = { command: `node dist/bench/${part.script} ${part.args.join(' ')}`.trim(), load: loadavg().map((l) => l.toFixed(2)).join(' '), peer: part.peer };
  console.log(`\n=== ${part.name}: ${current.command} (load ${current.load})`);
  const code = await new Promise<number | null>((resolve) => {
    spawn(process.execPath, [join(repoRoot, 'dist', 'bench', part.script), ...part.args], { stdio: 'inherit', cwd: repoRoot }).on('close', resolve);
  });
  // A part that fails half-way (a gateway that did not start) still writes what it measured.
  const json = newest(part.prefix, since);
  if (code !== 0) {
    failed++;
    push(part.name, 'failed', `exit ${code}${json ? `; its partial results follow (${String(json.file)})` : ''}`);
  }
  if (!json) continue;
  if (part.script === 'pg.js') pgRows(json);
  else if (part.script === 'pg-big-select.js') {
    const rps = json.rowsPerSecond as { direct: number; gateway: number };
    push(part.name, `gateway/direct ${f(json.ratio)}`, `${json.rows} rows; rows/s direct ${f(rps.direct, 0)}, gateway ${f(rps.gateway, 0)}; gateway peak RSS ${mib((json.gatewayRssBytes as { peak?: number }).peak)}`);
  } else if (part.script === 'ssh.js') sshRows(json);
  // A failure is the row above already (the part's output says why).
  else if (part.script === 'fleet.js') rows.push(...(json.rows as Row[]).filter((r) => r[4] !== 'failed'));
  else {
    const imp = json.import as Record<string, number>;
    const term = json.terminal as Record<string, number>;
    push(part.name, `${f(imp.eventsPerSecond, 0)} events/s`, `${imp.events} events, peak RSS ${f(imp.peakRssMB, 0)} MB; seek p50 ${f(term.seekP50ms, 1)} ms, p99 ${f(term.seekP99ms, 1)} ms`);
  }
}

/** Per workload: TPS ratios and counts; at one client also the latency each path adds (per statement for -S). */
function pgRows(json: Record<string, unknown>): void {
  const clients = (json.options as { clients: number }).clients;
  const rss = (json.gateway as { peakRssBytes?: Numbers }).peakRssBytes ?? {};
  const summary = json.workloads as Record<string, { meanTps: Numbers; ratios: Numbers; latency: Record<string, Latency | undefined>; addedLatency: Record<string, Added | undefined>;
    maskedPerSecond?: Numbers; proxyCpuMicros?: Numbers; relayRatios?: { tps: Numbers; cpu: Numbers } }>;
  for (const [workload, w] of Object.entries(summary)) {
    const r = w.ratios;
    const t = w.meanTps;
    // pgbench's own workloads read no protected column: their +masking rows measure the rules' presence, not masking.
    const rules = workload === 'masked' ? '+masking' : '+masking rules (nothing to mask)';
    push(`${PG_LABELS[workload]}, ${clients} client${clients === 1 ? '' : 's'}`,
      `gateway (recording only)/pgbouncer ${f(r['gateway/pgbouncer'])}, gateway/direct ${f(r['gateway/direct'])}, ${rules}/pgbouncer ${f(r['masking/pgbouncer'])}, ${rules}+guardrails/pgbouncer ${f(r['masking+guardrails/pgbouncer'])}${floor(w)}`,
      `TPS direct ${f(t.direct, 0)}, pgbouncer ${f(t.pgbouncer, 0)}, gateway ${f(t.gateway, 0)}, +masking ${f(t['gateway+masking'], 0)}, +masking+guardrails ${f(t['gateway+masking+guardrails'], 0)}; gateway peak RSS ${mib(rss.gateway)} (${mib(rss['gateway+masking'])}, ${mib(rss['gateway+masking+guardrails'])})${
        w.maskedPerSecond?.['gateway+masking'] !== undefined ? `; values masked/s +masking ${f(w.maskedPerSecond['gateway+masking'], 0)}, +masking+guardrails ${f(w.maskedPerSecond['gateway+masking+guardrails'], 0)}` : ''}`);
    if (clients !== 1) continue;
    const l = w.latency;
    const a = w.addedLatency;
    const unit = workload === 'write' ? 'per transaction (5 statements)' : 'per statement';
    push(`added latency ${unit}, ${PG_LABELS[workload]}, 1 client`,
      `gateway−direct ${plus(a.gateway)}`,
      `p50/p99 ms direct ${ms(l.direct)}, pgbouncer ${ms(l.pgbouncer)}, gateway ${ms(l.gateway)}, +masking ${ms(l['gateway+masking'])}, +masking+guardrails ${ms(l['gateway+masking+guardrails'])}`);
  }
}

/** The floor of a pg row: the bare Node relays against pgbouncer, and the CPU each proxy spent per transaction. */
function floor(w: { relayRatios?: { tps: Numbers }; proxyCpuMicros?: Numbers }): string {
  const t = w.relayRatios?.tps;
  if (!t) return '';
  const cpu = w.proxyCpuMicros ?? {};
  return `; floor: bare Node relay/pgbouncer ${f(t['node-relay-onread/pgbouncer'])}, same writing before forwarding ${f(t['node-relay+write/pgbouncer'])}`
    + ` (proxy CPU µs per transaction: pgbouncer ${f(cpu.pgbouncer, 1)}, bare relay ${f(cpu['node-relay-onread'], 1)}, +write ${f(cpu['node-relay+write'], 1)}, gateway ${f(cpu.gateway, 1)})`;
}

function sshRows(json: Record<string, unknown>): void {
  const o = json.options as { mb: number; echo: number };
  const r = json.ratios as Record<string, { download?: number; upload?: number }>;
  const m = json.meanMbPerSecond as Record<string, { download?: number; upload?: number }>;
  const both = (x: { download?: number; upload?: number } | undefined, d = 2) => `${f(x?.download, d)} / ${f(x?.upload, d)}`;
  const relay = json.relay as { ratios: Record<string, { download?: number; upload?: number }> } | undefined;
  type Cpu = { middleSeconds?: number } | undefined;
  const meanCpu = json.meanCpuSeconds as Record<string, { download?: Cpu; upload?: Cpu }> | undefined;
  const cpu = meanCpu && Object.fromEntries(Object.entries(meanCpu).map(([path, d]) => [path, { middle: { download: d.download?.middleSeconds, upload: d.upload?.middleSeconds } }]));
  if (o.mb > 0) {
    push(`SSH ${o.mb} MB download / upload`,
      `gateway/direct ${both(r['gateway/direct'])}, ssh -J bastion/direct ${both(r['bastion/direct'])}, gateway/bastion ${both(r['gateway/bastion'])}${relay ? `; floor: bare ssh2 relay/direct ${both(relay.ratios['ssh2-relay/direct'])}` : ''}`,
      `MB/s direct ${both(m.direct, 1)}, -J bastion ${both(m.bastion, 1)}, gateway ${both(m.gateway, 1)}, gateway+rules ${both(m['gateway+rules'], 1)}${relay ? `, bare ssh2 relay ${both(m['ssh2-relay'], 1)}` : ''}`
      + `${cpu ? `; CPU s of the middle process gateway ${both(cpu.gateway?.middle)}, gateway+rules ${both(cpu['gateway+rules']?.middle)}, bare relay ${both(cpu['ssh2-relay']?.middle)}` : ''}; bench process peak RSS ${mib(json.peakRssBytes)}`);
  }
  if (o.echo > 0) {
    const e = json.echo as Record<string, Latency | undefined>;
    const a = json.echoAdded as Record<string, Added | undefined>;
    push(`SSH echo on a pty, ${o.echo} keys`,
      `gateway−direct ${plus(a.gateway)}; with the example's masking rules and SSH guardrail ${plus(a['gateway+rules'])}; -J bastion−direct ${plus(a.bastion)}`,
      `p50/p99 ms direct ${ms(e.direct)}, -J bastion ${ms(e.bastion)}, gateway ${ms(e.gateway)}, gateway+rules ${ms(e['gateway+rules'])}`);
  }
}

// A Markdown table, as docs/BENCHMARKS.md shows it; a full run replaces the one there.
const table = [
  `Run ${new Date(started).toISOString().slice(0, 16).replace('T', ' ')}–${new Date().toISOString().slice(11, 16)} UTC, \`npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`, ` +
    `${cpus().length} cores (${cpus()[0]?.model}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}${q ? ', --quick' : ''}; load is the 1, 5 and 15 minute load average when each part started.`,
  '',
  '| part | command | load at start | compared with | ratio | detail |',
  '| --- | --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`),
].join('\n');
console.log(`\n${table}`);
console.log(`raw JSON: ${results}`);
if (!q && !args['no-docs'] && PART_NAMES.every((p) => only.has(p))) writeTable(join(repoRoot, 'docs', 'BENCHMARKS.md'), table);
if (failed) process.exitCode = 1;

/** Replaces the text between the markers (a rerun replaces its table, never appends one). */
function writeTable(file: string, text: string): void {
  const doc = readFileSync(file, 'utf8');
  const start = doc.indexOf(TABLE_START);
  const end = doc.indexOf(TABLE_END);
  if (start < 0 || end < start) {
    console.error(`${file} has no ${TABLE_START} … ${TABLE_END} markers: the table was not written there`);
    process.exitCode = 1;
    return;
  }
  writeFileSync(file, `${doc.slice(0, start + TABLE_START.length)}\n${text}\n${doc.slice(end)}`);
  console.log(`table written to ${file}`);
}
