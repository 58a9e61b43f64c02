import { StringDecoder } from 'node:string_decoder';
import type ssh2 from 'ssh2';
import { EventType } from '../../common/recording/index.js';
import type { Verdict } from '../policy/types.js';
import { recordBytes } from './bytes.js';
import type { ChannelContext } from './context.js';
import type { LineEditor } from './line-editor.js';
import type { SftpTracker } from './sftp.js';

type Decide = (verdict: Verdict, operation: string, tell: (text: string) => void) => Promise<boolean>;

/** Sent to the target's shell in place of a refused Enter: end of line, then kill the line (readline and the tty alike). */
const KILL_LINE = Buffer.from('\x05\x15');

/**
 * Client → target bytes of one channel, recorded before they are forwarded.
 * Exec stdin and sftp stream straight through (with backpressure); a shell with
 * a pty is cut at each Enter, and the line the person typed is judged before
 * the Enter reaches the target — a blocked line is killed, a line under review
 * waits (and the client's input with it) until an approver decides.
 */
export class InputRelay {
  private readonly decoder = new StringDecoder('utf8');
  private queue: Promise<void> = Promise.resolve();
  private busy = 0;

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
    if (this.busy === 0 && !this.editor) {
      // The fast path: record, forward; wait only when fsync=always asks to.
      const durable = this.recordRaw(chunk);
      if (!durable) return this.forward(chunk);
    }
    this.busy++;
    this.down.pause();
    this.queue = this.queue
      .then(() => (this.editor ? this.typed(chunk, this.editor) : this.recordRaw(chunk)?.then(() => this.forward(chunk))))
      .then(() => {
        if (--this.busy === 0 && this.ctx.live) this.down.resume();
      }, () => undefined); // the session has failed closed
  }

  end(): void {
    this.queue = this.queue.then(() => void this.up.end());
  }

  private recordRaw(chunk: Buffer): Promise<void> | undefined {
    if (this.sftp) {
      this.sftp.fromClient.push(chunk);
      return undefined;
    }
    this.ctx.note(EventType.SshInput, { channel: this.channel, ...recordBytes(chunk) });
    return undefined;
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
