// bench/ssh.ts's helpers for the bare ssh2 relay paths (bench/ssh2-relay.ts) and for the CPU of every process of a
// transfer: the ssh client (/usr/bin/time around it), the target's and the bastion's sshd (the listener's own CPU plus
// that of the session processes it has reaped, from /proc), the gateway or relay child (from /proc).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/ports.js';
import { spawnLong } from '../test/helpers/processes.js';
import type { SshdServer } from '../test/helpers/sshd.js';
import { processCpuSeconds } from './gateway.js';

export const RELAY_PATHS = ['ssh2-relay', 'ssh2-relay+write'] as const;
export type RelayPath = (typeof RELAY_PATHS)[number];

export interface Relay {
  port: number;
  /** The password the relay accepts (the bench's ssh gives it through SSH_ASKPASS, as it gives a gateway its token). */
  token: string;
  /** What the relay's two connections negotiated (its first connection's): `negotiated client: …`, `negotiated target: …`. */
  algorithms(): string[];
  cpuSeconds(): Promise<number | undefined>;
  stop(): Promise<void>;
}

/** Starts dist/bench/ssh2-relay.js in front of `sshd` as a child process; with `write`, it writes every chunk to a file in `dir`. */
export async function startRelay(sshd: SshdServer, dir: string, write: boolean): Promise<Relay> {
  const script = fileURLToPath(new URL('./ssh2-relay.js', import.meta.url));
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const proc = spawnLong('node', [script, '--listen', `127.0.0.1:${port}`, '--password', token, '--target', `${sshd.host}:${sshd.port}`,
    '--user', sshd.user, '--key', sshd.clientKeyPath, ...(write ? ['--write', join(dir, 'ssh2-relay-write.bin')] : [])]);
  await proc.waitForOutput(/^listening on /m, 30_000);
  return {
    port, token,
    algorithms: () => proc.output().split('\n').filter((l) => l.startsWith('negotiated ')),
    cpuSeconds: () => processCpuSeconds(proc.pid),
    stop: () => proc.stop(),
  };
}

/**
 * CPU seconds of an sshd listener (`-D`, pid from its PidFile) and of every session process it has reaped (cutime,
 * cstime: the session processes, the shell and the remote `cat` they ran, as each was waited for). Read after
 * `sshdSessionsGone`, the delta over a transfer is all sshd-side work of that transfer.
 */
export async function sshdCpuSeconds(sshd: SshdServer): Promise<number | undefined> {
  const pid = await sshdPid(sshd);
  if (pid === undefined) return undefined;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime, stime, cutime, cstime: fields 14-17 of stat, 11-14 after the command name (0-based), in ticks of 10 ms.
  return f.length > 14 ? (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100 : undefined;
}

/** Waits (up to `ms`) until the sshd listener has no child left: the last transfer's session processes are reaped. */
export async function sshdSessionsGone(sshd: SshdServer, ms = 5_000): Promise<boolean> {
  const pid = await sshdPid(sshd);
  if (pid === undefined) return false;
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if ((await childrenOf(pid)).length === 0) return true;
    await sleep(20);
  }
  return false;
}

const pids = new Map<string, number>();
async function sshdPid(sshd: SshdServer): Promise<number | undefined> {
  const cached = pids.get(sshd.dir);
  if (cached !== undefined) return cached;
  const text = await readFile(join(sshd.dir, 'sshd.pid'), 'utf8').catch(() => '');
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  pids.set(sshd.dir, pid);
  return pid;
}

async function childrenOf(pid: number): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) found.push(Number(name));
  }
  return found;
}

/** `/usr/bin/time -f '%U %S' -o file` in front of a command when it exists (the ssh client's CPU, its ProxyJump child's included). */
export const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
export function timed(command: string, file: string): string {
  return TIME ? `${TIME} -f '%U %S' -o '${file}' ${command}` : command;
}
export async function timedSeconds(file: string): Promise<number | undefined> {
  if (!TIME) return undefined;
  const [user, system] = (await readFile(file, 'utf8').catch(() => '')).trim().split(/\s+/).slice(-2).map(Number);
  return user === undefined || system === undefined || Number.isNaN(user + system) ? undefined : user + system;
}

/** Per transfer: CPU seconds of each process that took part (undefined where it could not be read). */
export interface TransferCpu {
  /** The gateway or relay child process (not set for direct and bastion). */
  middleSeconds?: number;
  /** The OpenSSH client (with -J, its ProxyJump ssh too). */
  clientSeconds?: number;
  /** The target sshd's session processes (and the remote shell and cat). */
  sshdSeconds?: number;
  /** The bastion sshd's session processes (bastion path only). */
  bastionSshdSeconds?: number;
  /** The sum of those known. */
  totalSeconds: number;
}

export function cpuOf(parts: Omit<TransferCpu, 'totalSeconds'>): TransferCpu {
  const known = Object.fromEntries(Object.entries(parts).filter(([, v]) => v !== undefined)) as Omit<TransferCpu, 'totalSeconds'>;
  return { ...known, totalSeconds: Object.values(known).reduce((s: number, v) => s + (v ?? 0), 0) };
}
