import type ssh2 from 'ssh2';
import { EventType } from '../../common/recording/index.js';
import { describeOutcome } from '../policy/lifecycle.js';
import type { Verdict } from '../policy/types.js';
import type { ChannelContext } from './context.js';
import { InputRelay } from './input.js';
import { OutputMasker } from './masking.js';
import { scpCommand, scpTargetPath, ScpUploadStream } from './scp.js';
import { relaySftp } from './sftp-relay.js';
import { ShellInput } from './shell-input.js';

const SECRET_NAME = /TOKEN|SECRET|PASS|KEY|CREDENTIAL/i;
/** Legacy scp's download stream carries file sizes the masking would falsify: refused while masking applies. */
const LEGACY_SCP_DOWNLOAD: Verdict = { action: 'block', rule: 'shell.downloads',
  reason: 'legacy scp downloads (scp -O) cannot be masked; use sftp or scp without -O' };
/** Exit status of an exec the gateway refused (blocked, or denied on review): "command cannot execute". */
export const REFUSED_EXIT_STATUS = 126;

type Pty = { term: string; cols: number; rows: number; width: number; height: number };

/**
 * One SSH session channel: collects pty and env requests, then relays an exec,
 * a shell or the sftp subsystem to the same request on the target, recording
 * and applying policies on the way. `accept()` comes at once; the stream is
 * joined to the target's once that is open.
 */
export class SessionChannel {
  private pty: Pty | undefined;
  private readonly env: Record<string, string> = {};
  private up: ssh2.ClientChannel | undefined;
  private down: ssh2.ServerChannel | undefined;
  private kind: 'exec' | 'shell' | 'subsystem' | undefined;
  private readonly abort = new AbortController();
  private closed = false;
  private resized = false;
  private scp: ScpUploadStream | undefined;

  constructor(readonly id: number, session: ssh2.Session, private readonly ctx: ChannelContext) {
    session.on('pty', (accept, _reject, info) => {
      this.pty = { term: info.term, cols: info.cols, rows: info.rows, width: info.width, height: info.height };
      ctx.note(EventType.SshPty, { channel: id, ...this.pty });
      accept?.();
    });
    session.on('env', (accept, reject, info: ssh2.SetEnvInfo) => {
      // HOPSCOPE_* belongs to the gateway: a client may not forge its own hop token or session.
      const allowed = !info.key.startsWith('HOPSCOPE_');
      ctx.note(EventType.SshEnv, { channel: id, name: info.key, value: SECRET_NAME.test(info.key) ? '[redacted]' : info.val, accepted: allowed });
      if (allowed) this.env[info.key] = info.val;
      (allowed ? accept : reject)?.();
    });
    session.on('window-change', (accept, _reject, info) => {
      ctx.note(EventType.SshResize, { channel: id, cols: info.cols, rows: info.rows, width: info.width, height: info.height });
      if (this.pty) Object.assign(this.pty, { cols: info.cols, rows: info.rows, width: info.width, height: info.height });
      // Before the target's channel is open, the size is applied once it is (see relay).
      this.up?.setWindow(info.rows, info.cols, info.height, info.width);
      this.resized = !this.up;
      accept?.();
    });
    session.on('signal', (accept, _reject, info) => {
      ctx.note(EventType.SshSignal, { channel: id, signal: info.name });
      this.up?.signal(info.name);
      accept?.();
    });
    session.on('exec', (accept, _reject, info) => void this.exec(accept(), info.command).catch(() => this.close()));
    session.on('shell', (accept) => void this.shell(accept()).catch(() => this.close()));
    session.on('subsystem', (accept, reject, info) => {
      ctx.note(EventType.SshSubsystem, { channel: id, name: info.name, accepted: info.name === 'sftp' });
      if (info.name !== 'sftp') return reject?.();
      this.sftp(accept());
    });
    for (const kind of ['auth-agent', 'x11'] as const) {
      session.on(kind, (_accept: unknown, reject: (() => void) | undefined) => {
        ctx.note(EventType.SshForward, { channel: id, kind, allowed: false, reason: 'not allowed through the gateway' });
        ctx.metrics.refusalsTotal.inc({ reason: 'FORWARDING_NOT_ALLOWED' });
        reject?.();
      });
    }
    session.on('close', () => this.close());
  }

  /** Ends the channel from the gateway's side, telling the client why on stderr. */
  terminate(message: string): void {
    if (this.down && !this.closed) {
      this.down.stderr.write(`\r\nhopscope: ${message}\r\n`);
      this.down.exit(REFUSED_EXIT_STATUS);
      this.down.end();
    }
    this.close();
  }

  private async exec(down: ssh2.ServerChannel, command: string): Promise<void> {
    this.bind(down, 'exec');
    const started = performance.now();
    const scp = scpCommand(command);
    const verdict = scp?.mode === 'from' && this.ctx.textMask ? LEGACY_SCP_DOWNLOAD : this.ctx.policy.judgeCommand(this.ctx.policyContext, command);
    const seq = this.ctx.trail.append(EventType.SshExec, { channel: this.id, command, pty: this.pty !== undefined, action: verdict.action, ...ruleOf(verdict) });
    await this.ctx.trail.commit();
    this.ctx.metrics.statementsTotal.inc({ protocol: 'ssh' });
    if (!(await this.decide(seq, verdict, command, (text) => down.stderr.write(`hopscope: ${text}\r\n`)))) {
      down.exit(REFUSED_EXIT_STATUS);
      down.end();
      return;
    }
    if (scp?.mode === 'to') this.scp = this.followScpUpload(scp.path, scp.directory);
    // What the gateway adds before the exec goes upstream: judge, record, commit (a hold's wait included).
    this.ctx.metrics.statementSeconds.observe({ protocol: 'ssh' }, (performance.now() - started) / 1000);
    this.open((cb) => this.ctx.upstream.exec(command, { env: this.targetEnv(), pty: this.pty ?? false }, cb));
  }

  /** scp -t: each file received is recorded with its hash and registered for the policy, in order. */
  private followScpUpload(target: string, directory: boolean): ScpUploadStream {
    const targetIsDirectory = directory ? Promise.resolve(true) : this.ctx.files.isDirectory(target);
    let order = Promise.resolve();
    return new ScpUploadStream((file) => {
      order = order.then(async () => {
        const path = await this.ctx.files.absolute(scpTargetPath(target, await targetIsDirectory, file));
        this.ctx.uploads.set(path, file.sha256);
        await this.ctx.record(EventType.SshUpload, { channel: this.id, via: 'scp', path, sha256: file.sha256, bytes: file.bytes });
      }).catch(() => undefined);
    });
  }

  private async shell(down: ssh2.ServerChannel): Promise<void> {
    this.bind(down, 'shell');
    await this.ctx.record(EventType.SshShell, { channel: this.id, pty: this.pty !== undefined });
    this.open((cb) => this.ctx.upstream.shell(this.pty ?? false, { env: this.targetEnv() }, cb));
  }

  private sftp(down: ssh2.ServerChannel): void {
    this.bind(down, 'subsystem');
    this.open((cb) => this.ctx.upstream.subsys('sftp', cb));
  }

  /**
   * allow → true; block → false; review → holds until an approver decides.
   * The operation was recorded at `seq`; the policy lifecycle records and
   * counts the refusal or the approval (the same events as PostgreSQL's), durable
   * before the client is told.
   */
  private async decide(seq: number, verdict: Verdict, operation: string, tell: (text: string) => void): Promise<boolean> {
    if (verdict.action === 'allow') return true;
    if (verdict.action !== 'review') {
      this.ctx.lifecycle.refused(seq, verdict, { channel: this.id });
      await this.ctx.trail.commit();
      tell(`blocked by rule ${verdict.rule}: ${verdict.reason}`);
      return false;
    }
    const outcome = await this.ctx.lifecycle.review(seq, operation, verdict, this.abort.signal, tell, { channel: this.id });
    await this.ctx.trail.commit();
    tell(describeOutcome(outcome, verdict.rule));
    return outcome.decision === 'approved' && this.ctx.live && !this.closed;
  }

  private bind(down: ssh2.ServerChannel, kind: 'exec' | 'shell' | 'subsystem'): void {
    this.down = down;
    this.kind = kind;
    down.pause(); // nothing from the client moves before the target's channel is open
    down.on('close', () => this.close());
    down.on('error', () => this.close());
  }

  private targetEnv(): Record<string, string> {
    return { ...this.env, ...this.ctx.hopEnv };
  }

  private open(request: (cb: (err: Error | undefined, channel: ssh2.ClientChannel) => void) => void): void {
    const down = this.down!;
    if (this.closed || !this.ctx.live) return;
    request((err, up) => {
      if (err) {
        this.ctx.note(EventType.SshChannelEnd, { channel: this.id, error: err.message });
        down.stderr.write(`hopscope: the target refused the request: ${err.message}\r\n`);
        down.exit(REFUSED_EXIT_STATUS);
        down.end();
        return;
      }
      if (this.closed) return void up.close();
      this.up = up;
      this.relay(down, up);
    });
  }

  private relay(down: ssh2.ServerChannel, up: ssh2.ClientChannel): void {
    if (this.resized && this.pty) up.setWindow(this.pty.rows, this.pty.cols, this.pty.height, this.pty.width);
    if (this.kind === 'subsystem') relaySftp(this.id, this.ctx, down, up);
    const bytesOut = this.ctx.metrics.bytesTotal.series({ direction: 'target_to_client' });
    const output = (stream: 'stdout' | 'stderr', target: NodeJS.WritableStream) => {
      // Without a text rule in scope there is nothing to hold output back for (a pty's echo would wait for nothing).
      const mask = this.ctx.textMask;
      const masker = new OutputMasker(mask, (chunk, counts) => {
        if (!this.ctx.live) return;
        bytesOut.inc(chunk.length);
        this.ctx.data(EventType.SshOutput, this.id, stream, chunk, counts);
        if (!target.write(chunk)) {
          up.pause();
          down.once('drain', () => up.resume());
        }
      }, this.pty !== undefined);
      return masker;
    };
    const stdout = output('stdout', down);
    const stderr = output('stderr', down.stderr);
    if (this.kind !== 'subsystem') {
      up.on('data', (chunk: Buffer) => stdout.push(chunk));
      up.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    }
    // 'exit' and 'close' can come while output is still buffered in the target's paused streams (a slow client holds
    // them back): the maskers' held tails are released, and the exit status sent, only after the last of that output.
    // Released before it, a value whose first part was held would leave in two unmatched parts (red team, session 8).
    const outputRead = (then: () => void) => {
      const pending = [up, up.stderr].filter((s) => !s.readableEnded && !s.destroyed);
      if (pending.length === 0) return then();
      let left = pending.length;
      for (const s of pending) s.once('end', () => --left === 0 && then());
    };
    up.on('exit', (code: number | null, signal?: string, dump?: string) => outputRead(() => {
      stdout.flush();
      stderr.flush();
      if (code !== null) {
        this.ctx.note(EventType.SshExit, { channel: this.id, status: code });
        down.exit(code);
      } else {
        // Recorded as on the wire (TERM); ssh2 reports it as SIGTERM.
        this.ctx.note(EventType.SshExit, { channel: this.id, signal: (signal ?? 'KILL').replace(/^SIG/, ''), coreDumped: Boolean(dump) });
        down.exit(signal ?? 'KILL', Boolean(dump), '');
      }
    }));
    up.on('close', () => outputRead(() => {
      stdout.flush();
      stderr.flush();
      down.end();
      this.close();
    }));
    up.on('drain', () => down.resume());
    if (this.kind === 'subsystem') {
      down.resume();
      return;
    }
    // Every pty: an exec'd program may be an interactive shell (ssh -t host bash).
    const shell = this.pty ? new ShellInput() : undefined;
    if (shell) up.on('data', (chunk: Buffer) => shell.output(chunk));
    const input = new InputRelay(this.id, this.ctx, down, up, shell, this.scp, (seq, v, line, tell) => this.decide(seq, v, line, tell));
    down.on('data', (chunk: Buffer) => {
      if (this.pty) stdout.typed(chunk);
      input.push(chunk);
    });
    down.on('end', () => input.end());
    down.resume();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    this.up?.close();
    if (this.kind) this.ctx.note(EventType.SshChannelEnd, { channel: this.id });
  }
}

function ruleOf(v: Verdict): { rule?: string; reason?: string } {
  return v.action === 'allow' ? {} : { rule: v.rule, reason: v.reason };
}
