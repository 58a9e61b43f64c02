import { spawn } from 'node:child_process';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { GatewayRevocation } from '../../common/api/gateway.js';
import type { LocalGatewayRef, LocalGatewayStatus, RemoteGateway } from '../../common/api/index.js';
import { systemClock } from '../../common/clock.js';
import { loadTrustedKeys, SIGNING_KEY_FILE, signerFromPrivateKey, type TrustedKeys } from '../../common/keys.js';
import { issueToken } from '../../common/tokens/index.js';
import { ApiError } from '../common/contract.js';

/*
 * The gateway the workbench starts: `hopscope gateway --config FILE` as a child
 * process in its own process group, output to a log file (never a pipe, so the
 * gateway never writes to a dead reader), unref'd. The workbench dying or
 * quitting leaves it running: it is a data path, agents may be mid-session.
 * An explicit Stop sends SIGTERM, on which the gateway ends its sessions and
 * seals their recordings. A record of the run in stateDir lets the next
 * workbench find it again. The admin token stays here; the page names the run.
 */

const READY = 'hopscope gateway running';
const STATE_FILE = 'local-gateway.json';
const LOG_FILE = 'local-gateway.log';
const TAIL_LINES = 20;
const APPROVER_TOKEN_TTL_S = 600;

export interface LocalGatewayOptions {
  /** Where the log and the record of the running gateway live; outlives the workbench. */
  stateDir: string;
  /** The CLI launcher, bin/hopscope. */
  launcher: string;
  /** How long start() waits for the listeners before answering `starting`. */
  startWaitMs?: number;
  /** How long stop() waits for the seal before answering `stopping`. */
  stopWaitMs?: number;
}

/** What the workbench needs of the config, read once the gateway has validated it. */
interface ConfigFacts {
  recordingsDir: string;
  keysDir: string;
  adminListen: string;
  listeners: { postgres?: string; ssh?: string };
  approvers: string[];
}

interface Run {
  id: string;
  configPath: string;
  pid: number;
  logFile: string;
  startedAt: string;
  adopted: boolean;
  state: LocalGatewayStatus['state'];
  stopRequested: boolean;
  exitCode: number | null;
  signal: string | null;
  message: string | null;
  adminUrl: string | null;
  postgres: string | null;
  facts: ConfigFacts | null;
  exited: Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class LocalGateway {
  private run: Run | undefined;
  private approverToken: { identity: string; token: string; exp: number } | undefined;

  constructor(private readonly opts: LocalGatewayOptions) {
    this.run = this.adopt();
  }

  status(): LocalGatewayStatus {
    const r = this.run;
    if (!r) {
      return { state: 'none', id: null, configPath: null, pid: null, adopted: false, startedAt: null, listeners: {}, adminUrl: null,
        recordingsDir: null, approvers: [], revocations: [], exitCode: null, signal: null, message: null, logTail: [], logFile: null };
    }
    this.observe(r);
    return {
      state: r.state, id: r.id, configPath: r.configPath, pid: r.pid, adopted: r.adopted, startedAt: r.startedAt,
      listeners: { ...r.facts?.listeners, ...(r.postgres ? { postgres: r.postgres } : {}) }, adminUrl: r.adminUrl,
      recordingsDir: r.facts?.recordingsDir ?? null, approvers: r.facts?.approvers ?? [],
      revocations: r.facts ? readRevocations(r.facts.keysDir) : [], exitCode: r.exitCode, signal: r.signal,
      message: r.message, logTail: tail(r.logFile), logFile: r.logFile,
    };
  }

  async start(configPath: string): Promise<LocalGatewayStatus> {
    const path = resolve(configPath.trim());
    if (!configPath.trim()) throw new ApiError('BAD_REQUEST', 'give the path of a gateway config file');
    const current = this.run;
    if (current) this.observe(current);
    if (current && (current.state === 'starting' || current.state === 'running' || current.state === 'stopping')) {
      if (current.configPath === path && current.state !== 'stopping') return this.status();
      throw new ApiError('LOCAL_GATEWAY_RUNNING', `a local gateway is already ${current.state} (pid ${current.pid}, ${current.configPath}): stop it first`);
    }
    if (!existsSync(path) || !statSync(path).isFile()) throw new ApiError('LOCAL_GATEWAY_CONFIG', `no gateway config file at ${path}`);
    mkdirSync(this.opts.stateDir, { recursive: true, mode: 0o700 });
    const logFile = join(this.opts.stateDir, LOG_FILE);
    const fd = openSync(logFile, 'w', 0o600);
    // In Electron, process.execPath is Electron itself: run it as plain Node.
    const env = { ...process.env, ...(process.versions.electron ? { ELECTRON_RUN_AS_NODE: '1' } : {}) };
    let child;
    try {
      child = spawn(process.execPath, [this.opts.launcher, 'gateway', '--config', path],
        { cwd: dirname(path), detached: true, stdio: ['ignore', fd, fd], env, windowsHide: true });
    } finally {
      closeSync(fd);
    }
    child.unref();
    let exited!: () => void;
    const run: Run = {
      id: randomBytes(8).toString('hex'), configPath: path, pid: child.pid ?? -1, logFile, startedAt: new Date().toISOString(), adopted: false,
      state: 'starting', stopRequested: false, exitCode: null, signal: null, message: null, adminUrl: null, postgres: null, facts: null,
      exited: new Promise<void>((r) => (exited = r)),
    };
    child.once('error', (err) => this.ended(run, null, null, `cannot start the gateway: ${err.message}`, exited));
    child.once('exit', (code, signal) => this.ended(run, code, signal, null, exited));
    this.run = run;
    this.approverToken = undefined;
    if (run.pid > 0) this.remember(run);
    const deadline = Date.now() + (this.opts.startWaitMs ?? 20_000);
    while (run.state === 'starting' && Date.now() < deadline) {
      this.observe(run);
      if (run.state === 'starting') await Promise.race([run.exited, sleep(100)]);
    }
    return this.status();
  }

  async stop(): Promise<LocalGatewayStatus> {
    const r = this.run;
    if (!r) throw new ApiError('LOCAL_GATEWAY_NONE', 'no local gateway was started');
    this.observe(r);
    if (r.state !== 'starting' && r.state !== 'running' && r.state !== 'stopping') return this.status();
    r.stopRequested = true;
    r.state = 'stopping';
    try {
      process.kill(r.pid, 'SIGTERM');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw new ApiError('LOCAL_GATEWAY_STOP', `cannot stop pid ${r.pid}: ${(err as Error).message}`);
    }
    const deadline = Date.now() + (this.opts.stopWaitMs ?? 30_000);
    while (r.state === 'stopping' && Date.now() < deadline) {
      await Promise.race([r.exited, sleep(100)]);
      this.observe(r);
    }
    return this.status();
  }

  /** The admin URL and a token for the run the page names: the admin token, or a fresh token of the approver identity. */
  remote(ref: LocalGatewayRef, purpose: 'admin' | 'approve'): RemoteGateway {
    const r = this.run;
    if (r) this.observe(r);
    if (!r || r.id !== ref.local || r.state !== 'running' || !r.adminUrl || !r.facts) {
      throw new ApiError('LOCAL_GATEWAY_GONE', 'that local gateway is not running any more (stopped or restarted)');
    }
    const { keysDir, approvers } = r.facts;
    if (purpose === 'admin') return { url: r.adminUrl, token: readSecret(join(keysDir, 'admin.token'), 'the admin token') };
    const identity = ref.approver;
    if (!identity) throw new ApiError('APPROVER_REQUIRED', 'choose the approver identity to decide as');
    if (!approvers.includes(identity)) throw new ApiError('APPROVER_UNKNOWN', `${identity} is not an approver in ${r.configPath}`);
    const now = Math.floor(Date.now() / 1000);
    if (this.approverToken?.identity !== identity || this.approverToken.exp - now < 60) {
      const signer = signerFromPrivateKey(createPrivateKey(readSecret(join(keysDir, SIGNING_KEY_FILE), 'the gateway signing key')));
      const { token, claims } = issueToken(signer, systemClock, { identity, ttlSeconds: APPROVER_TOKEN_TTL_S });
      this.approverToken = { identity, token, exp: claims.exp };
    }
    return { url: r.adminUrl, token: this.approverToken.token };
  }

  /** The recordings folder of the last gateway run, and its signing key to trust on import. */
  recordings(): { dir: string; trusted: TrustedKeys } {
    const r = this.run;
    if (r) this.observe(r);
    const facts = r?.facts ?? (r ? readFacts(r.configPath) : undefined);
    if (!facts) throw new ApiError('LOCAL_GATEWAY_NONE', 'no local gateway was started: its recordings folder is unknown');
    if (!existsSync(facts.recordingsDir)) throw new ApiError('IMPORT_PATH', `the gateway has written no recordings yet (${facts.recordingsDir})`);
    return { dir: facts.recordingsDir, trusted: loadTrustedKeys([facts.keysDir]) };
  }

  /** Brings a run's state up to date: readiness from its log, its end when it is not our child. */
  private observe(r: Run): void {
    if (r.state === 'starting') {
      const log = readLog(r.logFile);
      if (log.includes(READY)) {
        r.adminUrl = /^\s+admin\s+(https?:\/\/\S+)/m.exec(log)?.[1] ?? null;
        r.postgres = /^\s+postgres\s+(\S+)/m.exec(log)?.[1] ?? null;
        try {
          r.facts = readFacts(r.configPath);
          r.adminUrl ??= `http://${r.facts.adminListen}`;
          r.state = 'running';
        } catch (err) {
          r.message = (err as Error).message;
        }
      }
    }
    if (r.adopted && (r.state === 'starting' || r.state === 'running' || r.state === 'stopping') && !alive(r.pid, r.configPath)) {
      this.ended(r, null, null, null, () => {});
    }
  }

  private ended(r: Run, code: number | null, signal: NodeJS.Signals | null, why: string | null, done: () => void): void {
    if (r.state === 'stopped' || r.state === 'failed') return done();
    r.exitCode = code;
    r.signal = signal;
    const said = errorText(tail(r.logFile).join('\n'));
    if (why || signal || (code !== null && code !== 0) || (code === null && said)) {
      r.state = 'failed';
      r.message = why ?? (signal ? `the gateway was killed by ${signal}; the recordings it had open are not sealed`
        : said ?? `the gateway exited with status ${code}${r.facts ? '' : ' before it listened'}`);
    } else {
      // Exit status 0 after SIGTERM/SIGINT: sessions ended, recordings sealed. (An adopted gateway's status is unknown.)
      r.state = 'stopped';
      r.message = r.stopRequested ? null : 'the gateway stopped (signalled from outside the workbench)';
    }
    rmSync(join(this.opts.stateDir, STATE_FILE), { force: true });
    done();
  }

  private remember(r: Run): void {
    writeFileSync(join(this.opts.stateDir, STATE_FILE),
      JSON.stringify({ id: r.id, pid: r.pid, configPath: r.configPath, logFile: r.logFile, startedAt: r.startedAt }), { mode: 0o600 });
  }

  /** The gateway an earlier workbench started, when it still runs. */
  private adopt(): Run | undefined {
    const file = join(this.opts.stateDir, STATE_FILE);
    try {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { id: string; pid: number; configPath: string; logFile: string; startedAt: string };
      if (!alive(saved.pid, saved.configPath)) {
        rmSync(file, { force: true });
        return undefined;
      }
      const run: Run = { ...saved, adopted: true, state: 'starting', stopRequested: false, exitCode: null, signal: null, message: null,
        adminUrl: null, postgres: null, facts: null, exited: new Promise<void>(() => {}) };
      this.observe(run);
      return run;
    } catch {
      return undefined;
    }
  }
}

/** Whether pid is alive and, where /proc tells, is the gateway of that config (not a reused pid). */
function alive(pid: number, configPath: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync(cmdline)) return true;
  try {
    const args = readFileSync(cmdline, 'utf8').split('\0');
    return args.includes('gateway') && args.includes(configPath);
  } catch {
    return false;
  }
}

function readFacts(configPath: string): ConfigFacts {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(configPath, 'utf8'));
  } catch (err) {
    throw new ApiError('LOCAL_GATEWAY_CONFIG', `cannot read ${configPath}: ${(err as Error).message}`);
  }
  const c = (raw ?? {}) as { recording?: { dir?: unknown }; keys?: { dir?: unknown }; admin?: { listen?: unknown };
    listeners?: { postgres?: unknown; ssh?: unknown }; identities?: Array<{ name?: unknown; approver?: unknown }> };
  // The gateway resolves relative paths against the config file's folder (gateway/config.ts); so do we.
  const base = dirname(configPath);
  const dir = (v: unknown, what: string) => {
    if (typeof v !== 'string' || !v) throw new ApiError('LOCAL_GATEWAY_CONFIG', `${configPath} has no ${what}`);
    return isAbsolute(v) ? v : resolve(base, v);
  };
  const listen = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const postgres = listen(c.listeners?.postgres);
  const ssh = listen(c.listeners?.ssh);
  return {
    recordingsDir: dir(c.recording?.dir, 'recording.dir'),
    keysDir: dir(c.keys?.dir, 'keys.dir'),
    adminListen: listen(c.admin?.listen) ?? '127.0.0.1:8099',
    listeners: { ...(postgres ? { postgres } : {}), ...(ssh ? { ssh } : {}) },
    approvers: (Array.isArray(c.identities) ? c.identities : []).filter((i) => i?.approver === true && typeof i.name === 'string').map((i) => i.name as string),
  };
}

/** keys.dir/revocations.json as the gateway writes it (gateway/policy/revocations.ts); unreadable: shown as nothing revoked here, the gateway itself refuses to start on it. */
function readRevocations(keysDir: string): GatewayRevocation[] {
  try {
    const list = JSON.parse(readFileSync(join(keysDir, 'revocations.json'), 'utf8')) as unknown;
    if (!Array.isArray(list)) return [];
    return list.filter((r): r is { identity?: string; tokenId?: string; at: number; by?: string } => typeof r?.at === 'number')
      .map((r) => ({
        ...(typeof r.identity === 'string' ? { identity: r.identity } : {}), ...(typeof r.tokenId === 'string' ? { tokenId: r.tokenId } : {}),
        at: r.at, revokedAt: new Date(r.at * 1000).toISOString(), ...(typeof r.by === 'string' ? { by: r.by } : {}),
      }));
  } catch {
    return [];
  }
}

function readSecret(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ApiError('LOCAL_GATEWAY_KEYS', `cannot read ${what} (${path}): ${(err as Error).message}`);
  }
}

/** The start of the log (the ready banner and early errors come first). */
function readLog(path: string, max = 64 * 1024): string {
  try {
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(max);
      return buf.subarray(0, readSync(fd, buf, 0, max, 0)).toString('utf8');
    } catch {
      return '';
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

function tail(path: string, max = 16 * 1024): string[] {
  try {
    const size = statSync(path).size;
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(Math.min(max, size));
      const n = readSync(fd, buf, 0, buf.length, Math.max(0, size - buf.length));
      const lines = buf.subarray(0, n).toString('utf8').split('\n');
      if (size > buf.length) lines.shift(); // a partial first line
      return lines.filter((l) => l.trim()).slice(-TAIL_LINES);
    } finally {
      closeSync(fd);
    }
  } catch {
    return [];
  }
}

/** What the CLI said when it failed: from its last `hopscope: …` error line to the end (a config error lists its fields). */
function errorText(log: string): string | null {
  const lines = log.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    if (line.startsWith('hopscope: ') && !/^hopscope: SIG(TERM|INT) received/.test(line)) {
      return lines.slice(i, i + TAIL_LINES).join('\n').replace(/^hopscope: /, '').trim().slice(0, 4000);
    }
  }
  return null;
}
