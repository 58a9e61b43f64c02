// Forensic import and seek: `npm run bench:import -- --events 1000000 --terminal-mb 100 --seeks 1000 [--data DIR] [--hash-thread]`.
// Each phase runs in its own process so peak RSS is the import's (or the seek's) alone; CPU µs/event
// (user + system of the import) is less sensitive to other load than events/s. `--data DIR` keeps the
// generated recordings in DIR and reuses them on the next run with the same sizes (case files are always fresh).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadOrCreateSigner, trustedKeysOf } from '../common/keys.js';
import { importPaths, openCase, screenAt } from '../forensics/index.js';
import { generateMix, generateTerminal } from './import-mix.js';
import { caseDb } from '../forensics/store/case.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const self = fileURLToPath(import.meta.url);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function phase(name: string, argv: string[]): Promise<void> {
  const [dir, dbPath, pub] = argv as [string, string, string];
  const trusted = trustedKeysOf([pub]);
  const c = openCase(dbPath);
  const started = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  // `--phase import DIR CASE.db KEY hash-thread`: lines hashed on the hash thread (ImportOptions.hashThread).
  const summary = await importPaths(c, [dir], { trusted, hashThread: name === 'import' && argv[3] === 'hash-thread' });
  const cpu = process.cpuUsage(cpu0);
  const threads = threadCpu();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const result: Record<string, unknown> = {
    events: summary.events, seconds, eventsPerSecond: summary.events / seconds, allIntact: summary.allIntact,
    cpuSeconds: (cpu.user + cpu.system) / 1e6, cpuMicrosPerEvent: (cpu.user + cpu.system) / summary.events, threadCpuSeconds: threads,
  };
  if (name === 'import') {
    // What was imported (not timed): the event mix, and masking read from the notes as the gateway writes them (by column).
    result.mix = Object.fromEntries((caseDb(c).prepare('SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY n DESC').all() as { type: string; n: number }[])
      .map((r) => [r.type, r.n]));
    result.masked = caseDb(c).prepare("SELECT sum(count) AS values_, count(DISTINCT field) AS fields, sum(field = '*') AS unplaced FROM sensitive_fields WHERE masked = 1").get();
  }
  if (name === 'seek') {
    const s = caseDb(c).prepare("SELECT start_t, end_t FROM sessions WHERE id = 'bench-terminal'").get() as { start_t: number; end_t: number };
    const times: number[] = [];
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < Number(argv[3]); i++) {
      const t = Math.floor(s.start_t + next() * (s.end_t - s.start_t));
      const t0 = process.hrtime.bigint();
      await screenAt(c, 'bench-terminal', t);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    times.sort((a, b) => a - b);
    Object.assign(result, { seeks: times.length, seekP50ms: pct(times, 50), seekP99ms: pct(times, 99), seekMaxMs: times.at(-1),
      keyframes: (caseDb(c).prepare("SELECT count(*) AS n FROM keyframes WHERE session = 'bench-terminal'").get() as { n: number }).n });
  }
  c.close();
  result.peakRssMB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify(result));
}

/**
 * CPU seconds of each thread of this process that used more than 0.1 s (Linux /proc): `main` is the importing
 * thread; the others are named by the kernel (node#tid): the write thread and V8's GC helpers. On a busy machine the split says
 * more than events/s: the import takes at least as long as its busiest thread's CPU time.
 */
function threadCpu(): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    const tick = 100; // USER_HZ
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const seconds = (Number(f[11]) + Number(f[12])) / tick;
      if (seconds >= 0.1) out[tid === String(process.pid) ? 'main' : `${name}#${tid}`] = seconds;
    }
  } catch {
    // not Linux: no split
  }
  return out;
}

function child(args: string[]): Record<string, number> & { mix?: unknown; masked?: unknown; threadCpuSeconds?: unknown } {
  const r = spawnSync(process.execPath, [...process.execArgv, self, ...args], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${args[0]} phase failed (exit ${r.status})`);
  return JSON.parse(r.stdout) as Record<string, number> & { mix?: unknown; masked?: unknown; threadCpuSeconds?: unknown };
}

/** The machine's CPU jiffies from /proc/stat (all CPUs): total, idle + iowait, steal; undefined off Linux. */
function machineCpu(): { total: number; idle: number; steal: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { total: f.reduce((a, b) => a + b, 0), idle: f[3]! + f[4]!, steal: f[7] ?? 0 };
  } catch {
    return undefined;
  }
}

/**
 * What else used the CPUs while the import ran: the import needs about 1.5 of 2 cores, so a run that shared them reports
 * fewer events/s for the same code (the 13:35 and 15:35 runs of 2026-12-03 got under one core; BENCHMARKS.md, import).
 */
function machineShare(a: ReturnType<typeof machineCpu>, b: ReturnType<typeof machineCpu>, ownCpuSeconds: number) {
  if (!a || !b || b.total <= a.total) return undefined;
  const tick = 100; // USER_HZ
  const busy = (b.total - a.total - (b.idle - a.idle) - (b.steal - a.steal)) / tick;
  return {
    idleShare: (b.idle - a.idle) / (b.total - a.total),
    stealSeconds: Math.round((b.steal - a.steal) / tick * 10) / 10,
    otherCpuSeconds: Math.max(0, Math.round((busy - ownCpuSeconds) * 10) / 10),
  };
}

const size = (path: string) => statSync(path).size + ['-wal', '-shm'].reduce((n, s) => { try { return n + statSync(path + s).size; } catch { return n; } }, 0);

async function main(): Promise<void> {
  if (process.argv[2] === '--phase') return phase(process.argv[3]!, process.argv.slice(4));
  const { values } = parseArgs({ options: { events: { type: 'string', default: '1000000' }, 'terminal-mb': { type: 'string', default: '100' },
    seeks: { type: 'string', default: '1000' }, data: { type: 'string' }, 'hash-thread': { type: 'boolean', default: false } } });
  const work = mkdtempSync(join(tmpdir(), 'hopscope-bench-import-'));
  try {
    const data = values.data ?? work;
    // v3: written by the gateway's own recording code (bench/import-mix.ts); older generated data is not reused.
    const mix = join(data, `mix-v3-${values.events}`);
    const term = join(data, `term-v3-${values['terminal-mb']}`);
    // The key stays with the data, so reused recordings verify.
    const signer = loadOrCreateSigner(join(data, 'key'));
    let t = Date.now();
    if (!existsSync(join(mix, '.done'))) {
      mkdirSync(mix, { recursive: true });
      await generateMix(mix, Number(values.events), signer);
      writeFileSync(join(mix, '.done'), '');
      console.error(`generated ${values.events} events in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    }
    const before = machineCpu();
    const imp = child(['--phase', 'import', mix, join(work, 'mix.db'), signer.publicKey, ...(values['hash-thread'] ? ['hash-thread'] : [])]);
    const machine = machineShare(before, machineCpu(), imp.cpuSeconds!);
    if (machine) {
      (imp as Record<string, unknown>).machine = machine;
      console.error(`machine during the import: ${machine.otherCpuSeconds} s CPU used by other processes (and this phase's start and counts), ${machine.stealSeconds} s stolen by the host, ` +
        `idle ${(machine.idleShare * 100).toFixed(0)} % (events/s compares only when the other two are near 0)`);
    }
    const caseMB = size(join(work, 'mix.db')) / 1e6;
    console.error(`mix: ${JSON.stringify(imp.mix)}; masked: ${JSON.stringify(imp.masked)}; CPU s by thread: ${JSON.stringify(imp.threadCpuSeconds)}`);
    console.log(`import: ${imp.events} events in ${imp.seconds!.toFixed(1)} s = ${Math.round(imp.eventsPerSecond!)} events/s (target ≥ 250000), ` +
      `CPU ${imp.cpuMicrosPerEvent!.toFixed(1)} µs/event, peak RSS ${imp.peakRssMB!.toFixed(0)} MB (target < 300), case file ${caseMB.toFixed(0)} MB`);
    // `--terminal-mb 0` skips the terminal recording and the seeks.
    let terminal: Record<string, unknown> | undefined;
    if (Number(values['terminal-mb']) > 0) {
      t = Date.now();
      if (!existsSync(join(term, '.done'))) {
        mkdirSync(term, { recursive: true });
        generateTerminal(term, Number(values['terminal-mb']), signer);
        writeFileSync(join(term, '.done'), '');
        console.error(`generated a ${(statSync(join(term, 'bench-terminal.jsonl')).size / 1e6).toFixed(0)} MB terminal recording in ${((Date.now() - t) / 1000).toFixed(1)} s`);
      }
      const termMB = statSync(join(term, 'bench-terminal.jsonl')).size / 1e6;
      const seek = child(['--phase', 'seek', term, join(work, 'term.db'), signer.publicKey, String(values.seeks)]);
      terminal = { recordingMB: termMB, ...seek };
      const seeks = seek.seeks ? `screenAt over ${seek.seeks} random times: p50 ${seek.seekP50ms!.toFixed(1)} ms, p99 ${seek.seekP99ms!.toFixed(1)} ms (target < 50), ` +
        `max ${seek.seekMaxMs!.toFixed(1)} ms` : 'no seeks';
      console.log(`terminal: ${termMB.toFixed(0)} MB recording imported in ${seek.seconds!.toFixed(1)} s, CPU ${seek.cpuSeconds!.toFixed(1)} s ` +
        `(${seek.keyframes} keyframes, peak RSS ${seek.peakRssMB!.toFixed(0)} MB); ${seeks}`);
    }
    const report = {
      at: new Date().toISOString(), cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version,
      import: { ...imp, caseFileMB: caseMB }, terminal,
      targets: { eventsPerSecond: 250_000, peakRssMB: 300, seekP99ms: 50 },
    };
    mkdirSync(join(repoRoot, 'bench', 'results'), { recursive: true });
    writeFileSync(join(repoRoot, 'bench', 'results', `import-${report.at.replace(/[:.]/g, '-')}.json`), `${JSON.stringify(report, null, 2)}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
