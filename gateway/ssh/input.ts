import { isUtf8 } from 'node:buffer';
import type ssh2 from 'ssh2';
import { EventType } from '../../common/recording/index.js';
import type { Verdict } from '../policy/types.js';
import type { ChannelContext } from './context.js';
import { COALESCE_BYTES } from './data.js';
import type { ScpUploadStream } from './scp.js';
import type { ShellInput, ShellStep } from './shell-input.js';

type Decide = (seq: number, verdict: Verdict, operation: string, tell: (text: string) => void) => Promise<boolean>;

/**
 * Sent to the target's shell in place of the key that would run a refused
 * command: C-g cancels a key prefix already forwarded (ESC, C-x), C-e C-u kill
 * the line (readline and a tty in canonical mode alike). A command of several
 * lines is abandoned with C-c as well, since bash holds its earlier lines.
 */
const KILL_LINE = Buffer.from('\x07\x05\x15');
const KILL_COMMAND = Buffer.from('\x07\x05\x15\x03');

/**
 * Client → target bytes of one channel, recorded before they are forwarded.
 * Exec stdin (and a shell's without a pty) is gathered for one turn of the
 * event loop (up to COALESCE_BYTES), recorded as one event, written, then
 * forwarded (scp -t uploads are followed to hash each file); input on a
 * pty is cut at each key that makes bash run a command (see ShellInput), and
 * that command is judged before the key reaches the target — a blocked one is
 * killed, one under review waits (and the client's input with it) until an
 * approver decides. A command the gateway could not reconstruct for sure is
 * judged as uncertain (the `shell.uncertain` default) and recorded so.
 */
export class InputRelay {
  private queue: Promise<void> = Promise.resolve();
  private busy = 0;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private release: NodeJS.Immediate | undefined;
  /** The byte counter's series, made once: no labels object and key per chunk. */
  private readonly bytesIn: { inc(by?: number): void };
  /** hopscope_statement_seconds{protocol="ssh"}: from a command's Enter to its forward (recorded, judged; a hold's wait included). */
  private readonly commandLatency: { observe(seconds: number): void };

  constructor(
    private readonly channel: number,
    private readonly ctx: ChannelContext,
    private readonly down: ssh2.ServerChannel,
    private readonly up: ssh2.ClientChannel,
    private readonly shell: ShellInput | undefined,
    private readonly scp: ScpUploadStream | undefined,
    private readonly decide: Decide,
  ) {
    this.bytesIn = ctx.metrics.bytesTotal.series({ direction: 'client_to_target' });
    this.commandLatency = ctx.metrics.statementSeconds.series({ protocol: 'ssh' });
  }

  push(chunk: Buffer): void {
    if (!this.ctx.live) return;
    this.bytesIn.inc(chunk.length);
    const shell = this.shell;
    if (!shell) {
      this.scp?.push(chunk); // scp -t: files written are hashed as they pass
      // The fast path: gather, then record and write, then forward (write before forward).
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      if (this.heldBytes >= COALESCE_BYTES) return this.releaseHeld();
      this.release ??= setImmediate(() => this.releaseHeld());
      return;
    }
    if (this.busy > 0) return this.enqueue(() => this.typed(chunk, this.steps(chunk, shell), shell));
    // Nothing is waiting ahead of this chunk, so the line model sees it now, in order. Most keys (a letter, an
    // arrow) end no command: recorded and written, then forwarded in this same turn — write before forward
    // as below, without a promise chain and a pause and resume of the channel for every keystroke.
    let durable: Promise<void> | undefined;
    try {
      const steps = this.steps(chunk, shell);
      if (steps.length > 0) return this.enqueue(() => this.typed(chunk, steps, shell));
      durable = this.ctx.record(EventType.SshInput, inputEvent(this.channel, chunk));
    } catch {
      // The recording failed (the session has failed closed) or the line model did: nothing more is forwarded,
      // as when the queued path fails.
      this.busy++;
      this.down.pause();
      return;
    }
    if (durable === undefined) return this.forward(chunk);
    this.enqueue(async () => { // fsync=always: forwarded once the input is on stable storage
      await durable;
      this.forward(chunk);
    });
  }

  /** Runs `work` after everything queued before it, with the client's input paused meanwhile. */
  private enqueue(work: () => Promise<void>): void {
    this.busy++;
    this.down.pause();
    this.queue = this.queue
      .then(work)
      .then(() => {
        if (--this.busy === 0 && this.ctx.live) this.down.resume();
      }, () => undefined); // the session has failed closed
  }

  end(): void {
    this.queue = this.queue.then(() => {
      this.releaseHeld();
      this.up.end();
    });
  }

  /** Records what was gathered as one input event, writes it, then forwards it. */
  private releaseHeld(): void {
    if (this.release) clearImmediate(this.release);
    this.release = undefined;
    if (this.heldBytes === 0) return;
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    // The recorder joins the chunks into one event (in its reused buffer); the chunks themselves are forwarded as they
    // came (ssh2 cuts what it sends into packets anyway): no copy of the whole batch made only to be split again.
    for (const chunk of held) this.ctx.data(EventType.SshInput, this.channel, undefined, chunk);
    this.ctx.flushData();
    this.forward(...held);
  }

  private forward(...chunks: Buffer[]): void {
    if (!this.ctx.live) return;
    let full = false;
    for (const chunk of chunks) if (chunk.length > 0) full = !this.up.write(chunk);
    if (full) {
      this.down.pause();
      this.up.once('drain', () => this.busy === 0 && this.down.resume());
    }
  }

  /** Feeds the chunk to the line model: the keys in it that make bash run (or read on in) a command. */
  private steps(chunk: Buffer, shell: ShellInput): { step: ShellStep; end: number }[] {
    const steps: { step: ShellStep; end: number }[] = [];
    shell.feed(chunk, (step, end) => steps.push({ step, end }));
    return steps;
  }

  /** Cuts the chunk after each key that runs a command, judging the command before that key is forwarded. */
  private async typed(chunk: Buffer, steps: { step: ShellStep; end: number }[], shell: ShellInput): Promise<void> {
    let start = 0;
    for (const { step, end } of steps) {
      const segment = chunk.subarray(start, end);
      start = end;
      const started = performance.now();
      await this.ctx.record(EventType.SshInput, inputEvent(this.channel, segment));
      const refusal = step.kind === 'partial' || step.lines > 1 ? KILL_COMMAND : KILL_LINE;
      const late = shell.lateReasons();
      if (step.kind === 'command' && late && !step.reasons.includes(late)) {
        step.reasons.push(late);
        step.uncertain = true;
      }
      const allowed = await this.judge(step);
      if (allowed) shell.ran(step);
      if (!allowed && refusal === KILL_COMMAND) shell.interruptSent();
      this.forward(allowed ? segment : Buffer.concat([segment.subarray(0, -1), refusal]));
      if (allowed && step.kind === 'command') this.commandLatency.observe((performance.now() - started) / 1000);
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      await this.ctx.record(EventType.SshInput, inputEvent(this.channel, rest));
      this.forward(rest);
    }
  }

  /**
   * A complete command is judged (as uncertain when it may not be what bash
   * runs) and recorded; an Enter inside a command only when a rule blocks what
   * was typed so far, so a continuation the gateway misreads is still judged.
   */
  private async judge(step: ShellStep): Promise<boolean> {
    const { policy, policyContext } = this.ctx;
    const tell = (message: string) => this.down.write(`\r\nhopscope: ${message}\r\n`);
    if (step.kind === 'partial') {
      const verdict = policy.judgeCommand(policyContext, step.judged);
      if (verdict.action !== 'block') return true;
      const seq = this.ctx.trail.append(EventType.SshLine, { channel: this.channel, line: step.command, partial: true, uncertain: false,
        action: verdict.action, rule: verdict.rule, reason: verdict.reason });
      await this.ctx.trail.commit();
      return this.decide(seq, verdict, step.command, tell);
    }
    const { command, judged: text, uncertain, reasons, lines } = step;
    const judged = command.trim() !== '' || uncertain;
    let verdict: Verdict = judged ? policy.judgeCommand(policyContext, text, uncertain ? { uncertain: true } : undefined) : { action: 'allow' };
    if (uncertain && verdict.action !== 'allow') {
      verdict = { ...verdict, reason: `${verdict.reason} (the gateway cannot be sure what the shell runs: ${reasons.join('; ')})` };
    }
    const seq = this.ctx.trail.append(EventType.SshLine, { channel: this.channel, line: command, ...(text !== command ? { judged: text } : {}), uncertain,
      ...(uncertain ? { uncertainReasons: reasons } : {}), ...(lines > 1 ? { lines } : {}), action: verdict.action,
      ...(verdict.action === 'allow' ? {} : { rule: verdict.rule, reason: verdict.reason }) });
    await this.ctx.trail.commit();
    if (judged) this.ctx.metrics.statementsTotal.inc({ protocol: 'ssh' });
    return this.decide(seq, verdict, command, tell);
  }
}

/** An ssh.input event of typed bytes (the shape of recordBytes, built as one object: it is made for every keystroke). */
function inputEvent(channel: number, bytes: Buffer): { channel: number; data: string; encoding: 'utf8' | 'base64'; bytes: number } {
  return isUtf8(bytes)
    ? { channel, data: bytes.toString('utf8'), encoding: 'utf8', bytes: bytes.length }
    : { channel, data: bytes.toString('base64'), encoding: 'base64', bytes: bytes.length };
}
