// A 200 MB download and upload over SSH, direct to OpenSSH vs through the hopscope gateway (recording on): `npm run bench:ssh -- --mb 200`.
import { open, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { systemClock } from '../common/clock.js';
import { issueToken } from '../common/tokens/index.js';
import { parseConfig, startGateway } from '../gateway/index.js';
import { freePort } from '../test/helpers/ports.js';
import { run } from '../test/helpers/processes.js';
import { sshClientOf, sshTargetOf, startSshd } from '../test/helpers/sshd.js';

// Compiled to dist/bench/ssh.js; the repository root is two levels up.
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const { values: args } = parseArgs({ options: { mb: { type: 'string', default: '200' }, fsync: { type: 'string', default: 'batch' } } });
const mb = Number(args.mb);
if (!(mb > 0)) throw new Error('--mb must be a positive number');

type Direction = 'download' | 'upload';
type Path = 'direct' | 'gateway';
const startedAt = new Date().toISOString();
const results: Array<{ path: Path; direction: Direction; seconds: number; mbPerSecond: number; benchCpuSeconds: number }> = [];

const sshd = await startSshd();
const dir = await mkdtemp(join(tmpdir(), 'hopscope-bench-ssh-'));
process.env.HOPSCOPE_LOG_LEVEL ??= 'warn';
const gateway = await startGateway(parseConfig({
  recording: { dir: join(dir, 'recordings'), fsync: args.fsync },
  keys: { dir: join(dir, 'keys') },
  admin: { listen: `127.0.0.1:${await freePort()}` },
  listeners: { ssh: `127.0.0.1:${await freePort()}` },
  targets: [sshTargetOf(sshd, 'bench-host')],
  identities: [{ name: 'bench', kind: 'machine', targets: ['bench-host'] }],
}, dir));
let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
try {
  const file = join(sshd.dir, 'payload.bin');
  await writeRandom(file, mb);
  const token = issueToken(gateway.signer, systemClock, { identity: 'bench', ttlSeconds: 3600 }).token;
  const client = await sshClientOf(dir, token);
  const common = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'];
  const direct = [...common, '-i', sshd.clientKeyPath, '-o', 'IdentitiesOnly=yes', '-p', String(sshd.port), `${sshd.user}@127.0.0.1`];
  const viaGateway = [...client.options, '-p', String(gateway.ssh!.port), 'bench:bench-host@127.0.0.1'];
  const quote = (a: string[]) => a.map((s) => `'${s}'`).join(' ');
  const commands: Record<Direction, (sshArgs: string[]) => string> = {
    download: (a) => `ssh ${quote(a)} cat ${file} > /dev/null`,
    upload: (a) => `ssh ${quote(a)} 'cat > /dev/null' < ${file}`,
  };
  console.log(`${mb} MB over SSH on 127.0.0.1: OpenSSH direct vs the gateway (ssh2, recording fsync=${args.fsync}); ${cpus().length} cores`);
  for (const direction of ['download', 'upload'] as const) {
    for (const [path, sshArgs] of [['direct', direct], ['gateway', viaGateway]] as const) {
      const started = process.hrtime.bigint();
      const cpu = process.cpuUsage();
      const res = await run('sh', ['-c', commands[direction]([...sshArgs])], { env: path === 'gateway' ? client.env : {}, timeoutMs: 600_000 });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const used = process.cpuUsage(cpu);
      // CPU of this process: the gateway's, for the gateway path (less sensitive than MB/s to other load on the machine).
      const benchCpuSeconds = (used.user + used.system) / 1e6;
      if (res.code !== 0) throw new Error(`${path} ${direction} failed (exit ${res.code}): ${res.stderr}`);
      results.push({ path, direction, seconds, mbPerSecond: mb / seconds, benchCpuSeconds });
      const cpuNote = path === 'gateway' ? `   gateway CPU ${benchCpuSeconds.toFixed(2)} s` : '';
      console.log(`  ${direction.padEnd(8)} ${path.padEnd(8)} ${seconds.toFixed(2).padStart(7)} s ${(mb / seconds).toFixed(1).padStart(8)} MB/s${cpuNote}`);
    }
  }
  const ratio = (d: Direction) => results.find((r) => r.path === 'gateway' && r.direction === d)!.mbPerSecond
    / results.find((r) => r.path === 'direct' && r.direction === d)!.mbPerSecond;
  const ratios = { download: ratio('download'), upload: ratio('upload') };
  console.log(`\ngateway/direct: download ${ratios.download.toFixed(2)}   upload ${ratios.upload.toFixed(2)}   (target ≥ 0.6, goal ≥ 0.9)`);
  console.log(`peak RSS of the bench process (gateway in-process): ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
  const out = join(repoRoot, 'bench', 'results');
  await mkdir(out, { recursive: true });
  const path = join(out, `ssh-${startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFile(path, `${JSON.stringify({
    bench: 'ssh', startedAt, machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version },
    options: { mb, fsync: args.fsync }, results, ratios, peakRssBytes: peakRss,
  }, null, 2)}\n`);
  console.log(`raw results: ${path}`);
} finally {
  clearInterval(sampler);
  await gateway.stop();
  await sshd.stop();
  await rm(dir, { recursive: true, force: true });
}

/** Incompressible data, written in 1 MiB blocks. */
async function writeRandom(path: string, megabytes: number): Promise<void> {
  const { randomFillSync } = await import('node:crypto');
  const handle = await open(path, 'w');
  const block = Buffer.alloc(1 << 20);
  for (let i = 0; i < megabytes; i++) await handle.write(randomFillSync(block));
  await handle.close();
}
