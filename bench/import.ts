// Forensic import and seek: `npm run bench:import -- --events 1000000 --terminal-mb 100 --seeks 1000 [--data DIR]`.
// Each phase runs in its own process so peak RSS is the import's (or the seek's) alone; CPU µs/event
// (user + system of the import) is less sensitive to other load than events/s. `--data DIR` keeps the
// generated recordings in DIR and reuses them on the next run with the same sizes (case files are always fresh).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fixedClock } from '../common/clock.js';
import { loadOrCreateSigner, trustedKeysOf, type Signer } from '../common/keys.js';
import { RecordingEncoder } from '../common/recording/index.js';
import { importPaths, openCase, screenAt } from '../forensics/index.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const self = fileURLToPath(import.meta.url);
const T0 = 1_760_000_000_000_000;

/** Appends lines to a file in 1 MiB writes. */
class Out {
  private readonly fd: number;
  private parts: string[] = [];
  private size = 0;
  constructor(path: string) { this.fd = openSync(path, 'w'); }
  add(line: string): void {
    this.parts.push(line);
    this.size += line.length;
    if (this.size > 1 << 20) this.flush();
  }
  flush(): void { writeSync(this.fd, this.parts.join('')); this.parts = []; this.size = 0; }
  close(): void { this.flush(); closeSync(this.fd); }
}

const SQL = ['SELECT id, email, plan FROM customers WHERE id = $1', 'UPDATE accounts SET balance = balance - 10 WHERE id = 42',
  'SELECT count(*) FROM orders WHERE created_at > now() - interval \'1 day\'', 'INSERT INTO audit(actor, action) VALUES ($1, $2)'];
const TERM = ['\x1b[32mok\x1b[0m building target', 'compiling src/main.c', '\x1b[1;33mwarning:\x1b[0m unused variable', 'tests: 412 passed, 0 failed'];

/** A realistic mix: PostgreSQL sessions (statement, masked result, the odd error) and SSH sessions (typing, output, resizes). */
function generate(dir: string, total: number, signer: Signer): void {
  mkdirSync(dir, { recursive: true });
  const perFile = 25_000;
  let written = 0;
  for (let f = 0; written < total; f++) {
    const ssh = f % 2 === 1;
    const enc = new RecordingEncoder({ session: `bench-${String(f).padStart(4, '0')}`, protocol: ssh ? 'ssh' : 'postgres', signer, clock: fixedClock(T0 + f * 1e9, 150) });
    const out = new Out(join(dir, `bench-${String(f).padStart(4, '0')}.jsonl`));
    out.add(enc.header);
    const n = Math.min(perFile, total - written);
    out.add(enc.event('session.start', { identity: `agent-${f % 5}`, tokenId: `tok-${f}`, tokenKind: f > 1 ? 'hop' : 'identity', target: ssh ? 'build-host' : 'prod-db',
      protocol: ssh ? 'ssh' : 'postgres', client: '10.0.0.5:5000',
      ...(f > 1 ? { parent: `bench-${String(f - (f % 2 ? 1 : 2)).padStart(4, '0')}`, linkKind: 'hop-token' } : {}) }));
    if (ssh) out.add(enc.event('ssh.pty', { channel: 0, term: 'xterm', cols: 120, rows: 40 }));
    for (let i = 2 + (ssh ? 1 : 0); i < n - 1; i++) {
      if (i % 1000 === 0) { out.add(enc.checkpoint()); continue; }
      if (!ssh) {
        const k = i % 3;
        if (k === 0) out.add(enc.event('pg.query', { sql: SQL[i % SQL.length]! }));
        else if (k === 1) out.add(enc.event('pg.result', { statement: enc.lastSeq, command: 'SELECT 3', rowCount: 3,
          columns: [{ name: 'id', typeOid: 23, format: 'text' }, { name: 'email', typeOid: 25, format: 'text' }, { name: 'plan', typeOid: 25, format: 'text' }],
          rows: [[String(i), '[masked:email]', 'team'], [String(i + 1), '[masked:email]', 'free'], [String(i + 2), '[masked:email]', 'enterprise']],
          rowsRecorded: 3, durationMicros: 420, masked: [{ rule: 'email', count: 3 }] }));
        else out.add(i % 300 === 2 ? enc.event('pg.error', { statement: enc.lastSeq - 1, severity: 'ERROR', code: '42P01', message: 'relation does not exist' })
          : enc.event('pg.notice', { statement: enc.lastSeq - 1, severity: 'NOTICE', code: '00000', message: 'ok' }));
      } else {
        const k = i % 10;
        if (k < 7) { const text = `${TERM[i % TERM.length]} ${i}\r\n`; out.add(enc.event('ssh.output', { channel: 0, data: text, encoding: 'utf8', bytes: text.length, stream: 'stdout' })); }
        else if (k < 9) out.add(enc.event('ssh.input', { channel: 0, data: k === 8 ? '\r' : 'm', encoding: 'utf8', bytes: 1 }));
        else out.add(i % 5000 === 9 ? enc.event('ssh.resize', { channel: 0, cols: 100 + (i % 40), rows: 40 }) : enc.event('ssh.line', { channel: 0, line: `make test-${i}`, uncertain: false, action: 'allow' }));
      }
    }
    out.add(enc.event('session.end', { reason: 'client closed the connection', cause: 'client-quit' }));
    out.add(enc.seal());
    out.close();
    written += enc.lastSeq;
  }
}

/** One long shell session of about `mb` MB: full-screen redraws and scrolling text, in 4 KiB chunks. */
function generateTerminal(path: string, mb: number, signer: Signer): void {
  const enc = new RecordingEncoder({ session: 'bench-terminal', protocol: 'ssh', signer, clock: fixedClock(T0, 2000) });
  const out = new Out(path);
  out.add(enc.header);
  out.add(enc.event('session.start', { identity: 'ops', tokenId: 'tok-ops', tokenKind: 'identity', target: 'build-host', protocol: 'ssh', client: '10.0.0.5:5000' }));
  out.add(enc.event('ssh.pty', { channel: 0, term: 'xterm', cols: 120, rows: 40 }));
  let bytes = 0;
  for (let i = 0; bytes < mb * 1e6; i++) {
    let text = '';
    while (text.length < 4096) text += i % 50 === 0 ? `\x1b[2J\x1b[H\x1b[7m top - ${i} \x1b[0m\r\n` : `\x1b[3${i % 8}m${String(i).padStart(8)} ${TERM[i % 4]} ${'.'.repeat(40)}\x1b[0m\r\n`;
    const line = enc.event('ssh.output', { channel: 0, data: text, encoding: 'utf8', bytes: text.length, stream: 'stdout' });
    out.add(line);
    bytes += line.length;
    if (i % 2000 === 0) out.add(enc.checkpoint());
  }
  out.add(enc.event('session.end', { reason: 'client closed the connection', cause: 'client-quit' }));
  out.add(enc.seal());
  out.close();
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function phase(name: string, argv: string[]): Promise<void> {
  const [dir, dbPath, pub] = argv as [string, string, string];
  const trusted = trustedKeysOf([pub]);
  const c = openCase(dbPath);
  const started = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const summary = await importPaths(c, [dir], { trusted });
  const cpu = process.cpuUsage(cpu0);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const result: Record<string, unknown> = {
    events: summary.events, seconds, eventsPerSecond: summary.events / seconds, allIntact: summary.allIntact,
    cpuSeconds: (cpu.user + cpu.system) / 1e6, cpuMicrosPerEvent: (cpu.user + cpu.system) / summary.events,
  };
  if (name === 'seek') {
    const s = c.db.prepare("SELECT start_t, end_t FROM sessions WHERE id = 'bench-terminal'").get() as { start_t: number; end_t: number };
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
      keyframes: (c.db.prepare("SELECT count(*) AS n FROM keyframes WHERE session = 'bench-terminal'").get() as { n: number }).n });
  }
  c.close();
  result.peakRssMB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify(result));
}

function child(args: string[]): Record<string, number> {
  const r = spawnSync(process.execPath, [...process.execArgv, self, ...args], { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${args[0]} phase failed (exit ${r.status})`);
  return JSON.parse(r.stdout) as Record<string, number>;
}

const size = (path: string) => statSync(path).size + ['-wal', '-shm'].reduce((n, s) => { try { return n + statSync(path + s).size; } catch { return n; } }, 0);

async function main(): Promise<void> {
  if (process.argv[2] === '--phase') return phase(process.argv[3]!, process.argv.slice(4));
  const { values } = parseArgs({ options: { events: { type: 'string', default: '1000000' }, 'terminal-mb': { type: 'string', default: '100' },
    seeks: { type: 'string', default: '1000' }, data: { type: 'string' } } });
  const work = mkdtempSync(join(tmpdir(), 'hopscope-bench-import-'));
  try {
    const data = values.data ?? work;
    const mix = join(data, `mix-${values.events}`);
    const term = join(data, `term-${values['terminal-mb']}`);
    // The key stays with the data, so reused recordings verify.
    const signer = loadOrCreateSigner(join(data, 'key'));
    let t = Date.now();
    if (!existsSync(join(mix, '.done'))) {
      generate(mix, Number(values.events), signer);
      writeFileSync(join(mix, '.done'), '');
      console.error(`generated ${values.events} events in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    }
    const imp = child(['--phase', 'import', mix, join(work, 'mix.db'), signer.publicKey]);
    const caseMB = size(join(work, 'mix.db')) / 1e6;
    console.log(`import: ${imp.events} events in ${imp.seconds!.toFixed(1)} s = ${Math.round(imp.eventsPerSecond!)} events/s (target ≥ 100000), ` +
      `CPU ${imp.cpuMicrosPerEvent!.toFixed(1)} µs/event, peak RSS ${imp.peakRssMB!.toFixed(0)} MB (target < 300), case file ${caseMB.toFixed(0)} MB`);
    // `--terminal-mb 0` skips the terminal recording and the seeks.
    let terminal: Record<string, number> | undefined;
    if (Number(values['terminal-mb']) > 0) {
      t = Date.now();
      if (!existsSync(join(term, '.done'))) {
        mkdirSync(term, { recursive: true });
        generateTerminal(join(term, 'terminal.jsonl'), Number(values['terminal-mb']), signer);
        writeFileSync(join(term, '.done'), '');
        console.error(`generated a ${(statSync(join(term, 'terminal.jsonl')).size / 1e6).toFixed(0)} MB terminal recording in ${((Date.now() - t) / 1000).toFixed(1)} s`);
      }
      const termMB = statSync(join(term, 'terminal.jsonl')).size / 1e6;
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
      targets: { eventsPerSecond: 100_000, peakRssMB: 300, seekP99ms: 50 },
    };
    mkdirSync(join(repoRoot, 'bench', 'results'), { recursive: true });
    writeFileSync(join(repoRoot, 'bench', 'results', `import-${report.at.replace(/[:.]/g, '-')}.json`), `${JSON.stringify(report, null, 2)}\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
