// Big transfer: 500 MB each way over SSH through the gateway CLI, with masking on.
// Every byte arrives unchanged, the recordings of it verify intact and sealed, and
// the gateway's peak RSS does not grow with the size of the transfer.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run, stopAll } from '../helpers/processes.js';
import { sshClientOf, startSshd, type SshdServer } from '../helpers/sshd.js';
import { Counts, gatewayConfig, startChildGateway, verifyAll } from './support.js';

const BYTES = 500 * 2 ** 20;
const GROWTH_BOUND = 128 * 2 ** 20;
const counts = new Counts('big-transfer', 'Big transfer: 500 MB each way over SSH');
let sshd: SshdServer;
let dir: string;

beforeAll(async () => {
  sshd = await startSshd();
  dir = await mkdtemp(join(tmpdir(), 'hopscope-rel-big-'));
});
afterAll(async () => {
  await stopAll();
  await sshd?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('carries 500 MB each way through a masking gateway unchanged, recorded, in bounded memory', async () => {
  const gw = await startChildGateway(dir, await gatewayConfig(dir, undefined, sshd, {
    masking: [{ name: 'email', builtin: 'email' }, { name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b' }],
  }));
  // Random bytes without digits or '@': no rule can match, so the bytes must arrive unchanged (a
  // match would be masked: the gateway masks binary output too). sshd runs on this machine and
  // reads the same file.
  const file = join(dir, 'random.bin');
  const made = await run('sh', ['-c', `head -c ${Math.ceil(BYTES * 1.1)} /dev/urandom | tr -d '0-9@' | head -c ${BYTES} > '${file}' && sha256sum < '${file}'`], { timeoutMs: 120_000 });
  const sum = made.stdout.trim();
  expect((await stat(file)).size).toBe(BYTES);

  const { options, env } = await sshClientOf(dir, gw.token());
  const ssh = ['ssh', ...options, '-p', String(gw.sshPort), 'agent:host@127.0.0.1'].map((a) => `'${a}'`).join(' ');
  const through = async (shell: string) => {
    const res = await run('sh', ['-c', shell], { env, timeoutMs: 300_000 });
    return `${res.stdout.trim()}${res.stderr ? ` (stderr: ${res.stderr.trim()})` : ''}`;
  };
  const before = (await gw.memory()).hwm;
  const down = await through(`${ssh} "cat '${file}'" | sha256sum`);
  const up = await through(`${ssh} 'sha256sum' < '${file}'`);
  const growth = (await gw.memory()).hwm - before;
  counts.add({ check: 'download: bytes arrive unchanged (SHA-256)', tried: 1, passed: Number(down === sum), note: down === sum ? '' : down });
  counts.add({ check: 'upload: bytes arrive unchanged (SHA-256)', tried: 1, passed: Number(up === sum), note: up === sum ? '' : up });
  const mib = (b: number) => Math.round(b / 2 ** 20);
  counts.add({ check: `gateway peak RSS grows by less than ${mib(GROWTH_BOUND)} MiB`, tried: 1, passed: Number(growth < GROWTH_BOUND), note: `VmHWM ${mib(before)} → ${mib(before + growth)} MiB for 1,000 MB carried` });
  expect(down).toBe(sum);
  expect(up).toBe(sum);
  expect(growth).toBeLessThan(GROWTH_BOUND);

  await gw.proc.stop(30_000); // SIGTERM seals the recordings
  const reports = await verifyAll(gw.recordingsDir, gw.keysDir);
  const sessions = [];
  for (const r of reports) if ((await stat(r.file)).size > (BYTES * 4) / 3) sessions.push(r); // base64: 4/3 of the bytes
  const intact = sessions.filter((r) => r.report.status === 'intact' && r.report.sealed);
  counts.add({ check: 'both transfers recorded whole (base64 > 4/3 × 500 MB), intact and sealed', tried: 2, passed: intact.length });
  expect(intact).toHaveLength(2);
}, 600_000);
