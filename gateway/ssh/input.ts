import { StringDecoder } from 'node:string_decoder';
import type ssh2 from 'ssh2';
import { EventType } from '../../common/recording/index.js';
import type { Verdict } from '../policy/types.js';
import { recordBytes } from './bytes.js';
import type { ChannelContext } from './context.js';
import { COALESCE_BYTES } from './data.js';
import type { LineEditor } from './line-editor.js';
import type { SftpTracker } from './sftp.js';

type Decide = (verdict: Verdict, operation: string, tell: (text: string) => void) => Promise<boolean>;

/** Sent to the target's shell in place of a refused Enter: end of line, then kill the line (readline and the tty alike). */
const KILL_LINE = Buffer.from('\x05\x15');

/**
 * Client → target bytes of one channel, recorded before they are forwarded.
 * Exec stdin (and a shell's without a pty) is gathered for one turn of the
 * event loop (up to COALESCE_BYTES), recorded as one event, written, then
 * forwarded; sftp streams straight through (with backpressure); a shell with
 * a pty is cut at each Enter, and the line the person typed is judged before
 * the Enter reaches the target — a blocked line is killed, a line under review
 * waits (and the client's input with it) until an approver decides.
 */
export class InputRelay {
  private readonly decoder = new StringDecoder('utf8');
  private queue: Promise<void> = Promise.resolve();
  private busy = 0;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private release: NodeJS.Immediate | undefined;

  constructor(
    private readonly channel: number,
    private readonly ctx: ChannelContext,
    private readonly down: ssh2.ServerChannel,
    private readonly up: ssh2.ClientChannel,
    private readonly editor: LineEditor | undefined,
    private readonly sftp: SftpTracker | undefined,
    private readonly decide: Decide,
  ) {}

  push(chunk: Buffer): void {
    if (!this.ctx.live) return;
    this.ctx.metrics.bytesTotal.inc({ direction: 'client_to_target' }, chunk.length);
    const editor = this.editor;
    if (!editor) {
      if (this.sftp) {
        this.sftp.fromClient.push(chunk);
        return this.forward(chunk);
      }
      // The fast path: gather, then record and write, then forward (write before forward).
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      if (this.heldBytes >= COALESCE_BYTES) return this.releaseHeld();
      this.release ??= setImmediate(() => this.releaseHeld());
      return;
    }
    this.busy++;
    this.down.pause();
    this.queue = this.queue
      .then(() => this.typed(chunk, editor))
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
    const chunk = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held, this.heldBytes);
    this.held = [];
    this.heldBytes = 0;
    this.ctx.data(EventType.SshInput, this.channel, undefined, chunk);
    this.ctx.flushData();
    this.forward(chunk);
  }

  private forward(chunk: Buffer): void {
    if (!this.ctx.live || chunk.length === 0) return;
    if (!this.up.write(chunk)) {
      this.down.pause();
      this.up.once('drain', () => this.busy === 0 && this.down.resume());
    }
  }

  /** Splits at every CR/LF byte (never inside a UTF-8 sequence) so each Enter is judged before it is forwarded. */
  private async typed(chunk: Buffer, editor: LineEditor): Promise<void> {
    let start = 0;
    for (let i = 0; i <= chunk.length; i++) {
      if (i < chunk.length && chunk[i] !== 0x0d && chunk[i] !== 0x0a) continue;
      const segment = chunk.subarray(start, Math.min(i + 1, chunk.length));
      start = i + 1;
      if (segment.length === 0) continue;
      let line: { line: string; uncertain: boolean } | undefined;
      editor.feed(this.decoder.write(segment), (typed) => (line = typed));
      await this.ctx.record(EventType.SshInput, { channel: this.channel, ...recordBytes(segment) });
      if (!line) {
        this.forward(segment);
        continue;
      }
      const { line: text, uncertain } = line;
      const verdict = text.trim() ? this.ctx.policy.judgeCommand(this.ctx.policyContext, text) : { action: 'allow' as const };
      await this.ctx.record(EventType.SshLine, { channel: this.channel, line: text, uncertain, action: verdict.action,
        ...(verdict.action === 'allow' ? {} : { rule: verdict.rule, reason: verdict.reason }) });
      if (text.trim()) this.ctx.metrics.statementsTotal.inc({ protocol: 'ssh' });
      const allowed = await this.decide(verdict, text, (message) => this.down.write(`\r\nhopscope: ${message}\r\n`));
      this.forward(allowed ? segment : Buffer.concat([segment.subarray(0, -1), KILL_LINE]));
    }
  }
}
