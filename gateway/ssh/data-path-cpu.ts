// The gateway's own work per byte of an SSH transfer, without ssh2 and sockets: CPU of 200 MB of random bytes in
// 32 KB chunks (as ssh2 hands them over) through OutputMasker (with the example's masking rules, or none) into
// DataRecorder and a real RecordingWriter (fsync batch), or, for input, through DataRecorder with a flush per turn
// of the event loop (as InputRelay does). Less sensitive to other load than MB/s: run it a few times, take the least.
// `builtins`: every built-in recognizer as a rule instead of the example's.
// `node dist/gateway/ssh/data-path-cpu.js [rules|builtins|none] [download|upload] [MB] [--ssh2] [--parser]`
// (docs/BENCHMARKS.md, issue 15).
//
// What the real gateway does besides, and this harness leaves out unless asked (issue 15, /work/notes/bench-ssh-rules.md):
// `--ssh2` allocates the Buffers ssh2 and the sockets do per packet (a 64 KB socket read per two packets, the
// decrypted payload, the encrypted packet written to the other side, alive until the next turn as a socket write
// is): memory outside V8's heap that dies young. V8 counts the external memory allocated since the last full GC
// against the old generation's limit, so at a high ratio of external to heap allocation every young collection can
// turn into a mark-compact. `--parser` loads the bash parser (WebAssembly) and judges a command, as a gateway with an
// SSH guardrail does at start. The line printed counts the full (mark-compact) and young collections and their time.
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { systemClock } from '../../common/clock.js';
import { generateSigner } from '../../common/keys.js';
import { EventType } from '../../common/recording/index.js';
import { Masker } from '../policy/masking.js';
import { compileGuardrails, compileMasking } from '../policy/rules.js';
import { loadShellParser, ShellJudge } from '../policy/shell/index.js';
import { RecordingWriter } from '../recording/index.js';
import { DataRecorder } from './data.js';
import { OutputMasker } from './masking.js';

const flags = new Set(process.argv.slice(2).filter((a) => a.startsWith('--')));
const [rules = 'rules', direction = 'download', mbText = '200'] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const CHUNK = 32 * 1024;
const total = Number(mbText) * 1024 * 1024;
const BUILTINS = ['email', 'credit-card', 'us-ssn', 'iban', 'aws-access-key', 'jwt', 'pem-private-key'];
// The masking rules of examples/gateway.yml (bench/gateway.ts BENCH_MASKING), or every built-in.
const compiled = compileMasking(rules === 'builtins' ? BUILTINS.map((builtin) => ({ name: builtin, builtin })) : [
  { name: 'email', column: '*email*' },
  { name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b' },
  { name: 'card', builtin: 'credit-card' },
], 'data-path-cpu');
if (flags.has('--parser')) {
  // The SSH guardrail of examples/gateway.yml (bench/gateway.ts BENCH_SSH_GUARDRAILS), loaded and used once.
  const guardrails = compileGuardrails([{ name: 'no-pipe-to-shell', ssh: { pipeTo: 'interpreter', from: 'downloader' }, action: 'block' }], 'data-path-cpu');
  await loadShellParser();
  new ShellJudge(guardrails).judge({ session: 'bench', identity: 'bench', target: 'bench-host', protocol: 'ssh', uploads: new Map() }, 'cat > /dev/null');
}
const scoped = new Masker(compiled).forSession('bench', 'bench-host');
const dir = mkdtempSync(join(tmpdir(), 'hopscope-data-path-'));
const writer = RecordingWriter.open({ dir, session: 'data-path', protocol: 'ssh', signer: generateSigner(), clock: systemClock, fsync: 'batch', checkpointEvery: 1000 });
const recorder = new DataRecorder(writer, systemClock, (err) => {
  throw err;
});
const masker = new OutputMasker(rules === 'none' ? undefined : (text) => scoped.maskText(text),
  (chunk, counts) => recorder.push(EventType.SshOutput, 0, 'stdout', chunk, counts), false);
const source = Array.from({ length: 64 }, () => randomFillSync(Buffer.alloc(CHUNK)));
const gc = { full: 0, young: 0, ms: 0 };
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.full++;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.young++;
    gc.ms += entry.duration;
  }
});
observer.observe({ entryTypes: ['gc'] });

const cpu = process.cpuUsage();
const started = performance.now();
let inFlight: Buffer[] = [];
for (let sent = 0, i = 0; sent < total;) {
  // What ssh2 and the sockets allocate this turn stays alive until the next (a socket write completes later).
  if (flags.has('--ssh2')) inFlight = [Buffer.allocUnsafe(2 * CHUNK)];
  // Two packets per socket read of 64 KB, each in a fresh Buffer as ssh2 decrypts it.
  for (let k = 0; k < 2 && sent < total; k++, sent += CHUNK) {
    const chunk = Buffer.allocUnsafe(CHUNK);
    source[i++ % source.length]!.copy(chunk);
    if (flags.has('--ssh2')) inFlight.push(Buffer.allocUnsafe(CHUNK + 64)); // the packet ssh2 encrypts for the other side
    if (direction === 'download') masker.push(chunk);
    else recorder.push(EventType.SshInput, 0, undefined, chunk);
  }
  if (direction === 'upload') recorder.flush();
  await new Promise((resolve) => setImmediate(resolve));
}
masker.flush();
recorder.flush();
const used = process.cpuUsage(cpu);
await new Promise((resolve) => setImmediate(resolve)); // the last GC entries
observer.disconnect();
const options = [...flags].join(' ');
console.log(`${rules} ${direction} ${mbText} MB${options ? ` ${options}` : ''}: CPU ${((used.user + used.system) / 1000).toFixed(0)} ms (user ${(used.user / 1000).toFixed(0)}, system ${(used.system / 1000).toFixed(0)}), wall ${(performance.now() - started).toFixed(0)} ms; GC ${gc.full} full, ${gc.young} young, ${gc.ms.toFixed(0)} ms`);
writer.close({ reason: 'done', cause: 'client-quit' });
rmSync(dir, { recursive: true, force: true });
