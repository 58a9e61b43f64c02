// The gateway's own work per byte of an SSH transfer, without ssh2 and sockets: CPU of 200 MB of random bytes in
// 32 KB chunks (as ssh2 hands them over) through OutputMasker (with the example's masking rules, or none) into
// DataRecorder and a real RecordingWriter (fsync batch), or, for input, through DataRecorder with a flush per turn
// of the event loop (as InputRelay does). Less sensitive to other load than MB/s: run it a few times, take the least.
// `builtins`: every built-in recognizer as a rule instead of the example's.
// `node dist/gateway/ssh/data-path-cpu.js [rules|builtins|none] [download|upload] [MB]` (docs/BENCHMARKS.md, issue 15).
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../common/clock.js';
import { generateSigner } from '../../common/keys.js';
import { EventType } from '../../common/recording/index.js';
import { Masker } from '../policy/masking.js';
import { compileMasking } from '../policy/rules.js';
import { RecordingWriter } from '../recording/index.js';
import { DataRecorder } from './data.js';
import { OutputMasker } from './masking.js';

const [rules = 'rules', direction = 'download', mbText = '200'] = process.argv.slice(2);
const CHUNK = 32 * 1024;
const total = Number(mbText) * 1024 * 1024;
const BUILTINS = ['email', 'credit-card', 'us-ssn', 'iban', 'aws-access-key', 'jwt', 'pem-private-key'];
// The masking rules of examples/gateway.yml (bench/gateway.ts BENCH_MASKING), or every built-in.
const compiled = compileMasking(rules === 'builtins' ? BUILTINS.map((builtin) => ({ name: builtin, builtin })) : [
  { name: 'email', column: '*email*' },
  { name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b' },
  { name: 'card', builtin: 'credit-card' },
], 'data-path-cpu');
const scoped = new Masker(compiled).forSession('bench', 'bench-host');
const dir = mkdtempSync(join(tmpdir(), 'hopscope-data-path-'));
const writer = RecordingWriter.open({ dir, session: 'data-path', protocol: 'ssh', signer: generateSigner(), clock: systemClock, fsync: 'batch', checkpointEvery: 1000 });
const recorder = new DataRecorder(writer, systemClock, (err) => {
  throw err;
});
const masker = new OutputMasker(rules === 'none' ? undefined : (text) => scoped.maskText(text),
  (chunk, counts) => recorder.push(EventType.SshOutput, 0, 'stdout', chunk, counts), false);
const source = Array.from({ length: 64 }, () => randomFillSync(Buffer.alloc(CHUNK)));

const cpu = process.cpuUsage();
const started = performance.now();
for (let sent = 0, i = 0; sent < total;) {
  // Two packets per socket read of 64 KB, each in a fresh Buffer as ssh2 decrypts it.
  for (let k = 0; k < 2 && sent < total; k++, sent += CHUNK) {
    const chunk = Buffer.allocUnsafe(CHUNK);
    source[i++ % source.length]!.copy(chunk);
    if (direction === 'download') masker.push(chunk);
    else recorder.push(EventType.SshInput, 0, undefined, chunk);
  }
  if (direction === 'upload') recorder.flush();
  await new Promise((resolve) => setImmediate(resolve));
}
masker.flush();
recorder.flush();
const used = process.cpuUsage(cpu);
console.log(`${rules} ${direction} ${mbText} MB: CPU ${((used.user + used.system) / 1000).toFixed(0)} ms (user ${(used.user / 1000).toFixed(0)}, system ${(used.system / 1000).toFixed(0)}), wall ${(performance.now() - started).toFixed(0)} ms`);
writer.close({ reason: 'done', cause: 'client-quit' });
rmSync(dir, { recursive: true, force: true });
