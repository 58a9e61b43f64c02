import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PgConn } from './postgres.js';

export type Env = Record<string, string | undefined>;

export interface RunOptions {
  /** Merged over process.env; a value of undefined removes the variable. */
  env?: Env;
  input?: string | Buffer;
  timeoutMs?: number;
  cwd?: string;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function mergedEnv(env: Env | undefined): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(env ?? {})) {
    if (value === undefined) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

/**
 * Runs a command to completion and captures its output. A non-zero exit is a
 * result, not an error (tests assert on it); a timeout is an error, because a
 * hung client would otherwise hang the suite.
 */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: mergedEnv(opts.env), cwd: opts.cwd, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    // A client that exits without reading its input must not crash the test with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

export interface LongRunning {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Combined stdout and stderr so far (the last MiB). */
  output(): string;
  /** Resolves with the output once it matches; rejects if the process exits first or on timeout. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM to the whole process group, SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
}

const OUTPUT_LIMIT = 1 << 20;
const running = new Set<LongRunning>();

/**
 * Starts a server-like process in its own process group, so that stop() also
 * reaches what it forks (runuser → pgbouncer, a shell → node). Every process is
 * tracked: call `stopAll()` in afterAll/afterEach, and anything still alive is
 * killed when this Node process exits, so a failed test leaves no daemon behind.
 */
export function spawnLong(cmd: string, args: string[], opts: Omit<RunOptions, 'input' | 'timeoutMs'> = {}): LongRunning {
  const child = spawn(cmd, args, { env: mergedEnv(opts.env), cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const append = (s: string) => {
    output = (output + s).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.setEncoding('utf8').on('data', append);
  child.stderr?.setEncoding('utf8').on('data', append);
  let alive = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (err) => {
      append(`\n[spawn error] ${err.message}\n`);
      alive = false;
      resolve({ code: null, signal: null });
    });
    child.once('exit', (code, signal) => {
      alive = false;
      resolve({ code, signal });
    });
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const handle: LongRunning = {
    child,
    pid: child.pid ?? -1,
    output: () => output,
    exited,
    async waitForOutput(pattern, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output)) {
        if (!alive) throw new Error(`${cmd} exited before printing ${pattern}:\n${output}`);
        if (Date.now() > deadline) throw new Error(`${cmd} did not print ${pattern} within ${timeoutMs} ms:\n${output}`);
        await sleep(20);
      }
      return output;
    },
    async stop(graceMs = 5_000) {
      running.delete(handle);
      if (!alive) return;
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      // The leader may exit before its children (runuser before pgbouncer).
      signalGroup('SIGKILL');
    },
  };
  running.add(handle);
  return handle;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

process.once('exit', () => {
  for (const p of running) {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Environment that points libpq clients (psql, pgbench) at a connection. */
export function libpqEnv(conn: PgConn): Env {
  return { PGHOST: conn.host, PGPORT: String(conn.port), PGUSER: conn.user, PGPASSWORD: conn.password, PGDATABASE: conn.database };
}

export async function pgbenchInit(conn: PgConn, scale: number): Promise<void> {
  const res = await run('pgbench', ['-i', '-q', '-s', String(scale)], { env: libpqEnv(conn), timeoutMs: 300_000 });
  if (res.code !== 0) throw new Error(`pgbench -i failed (exit ${res.code}):\n${res.stderr}`);
}

export interface PgbenchOptions {
  clients: number;
  seconds: number;
  selectOnly: boolean;
  protocol: 'simple' | 'extended';
  /** pgbench worker threads; pgbench's own default is 1. */
  threads?: number;
}

export interface PgbenchResult {
  tps: number;
  transactions: number;
  failed: number;
  latencyMs: number;
}

export async function runPgbench(conn: PgConn, opts: PgbenchOptions): Promise<PgbenchResult> {
  const args = ['-n', '-c', String(opts.clients), '-j', String(opts.threads ?? 1), '-T', String(opts.seconds), '-M', opts.protocol];
  if (opts.selectOnly) args.push('-S');
  const res = await run('pgbench', args, { env: libpqEnv(conn), timeoutMs: (opts.seconds + 60) * 1000 });
  if (res.code !== 0) throw new Error(`pgbench failed (exit ${res.code}):\n${res.stdout}\n${res.stderr}`);
  return parsePgbench(res.stdout);
}

export function parsePgbench(out: string): PgbenchResult {
  const num = (re: RegExp, what: string) => {
    const m = re.exec(out);
    if (!m?.[1]) throw new Error(`pgbench output has no ${what}:\n${out}`);
    return Number(m[1]);
  };
  return {
    tps: num(/^tps = ([\d.]+)/m, 'tps'),
    transactions: num(/^number of transactions actually processed: (\d+)/m, 'transaction count'),
    failed: num(/^number of failed transactions: (\d+)/m, 'failure count'),
    latencyMs: num(/^latency average = ([\d.]+) ms/m, 'average latency'),
  };
}
