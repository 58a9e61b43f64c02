import { isUtf8 } from 'node:buffer';
import type { MaskCounts } from '../policy/types.js';

export type MaskFn = (text: string) => { text: string; counts: MaskCounts };

/** How long a line without its newline (a prompt, a progress bar) may wait for the rest of it. */
const TAIL_WAIT_MS = 15;
/** A line longer than this is masked in parts rather than held. */
const TAIL_LIMIT = 8192;

/**
 * Masks an output stream before it reaches the client or the disk. Patterns
 * (an email, a card number) can straddle chunks, so text is masked up to the last
 * newline and the rest of a line waits briefly for its end. Valid UTF-8 is
 * masked as text; anything else as latin1, which maps every byte to one char,
 * so bytes outside a match come back unchanged.
 */
export class OutputMasker {
  private tail: Buffer | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly mask: MaskFn | undefined, private readonly emit: (chunk: Buffer, counts: MaskCounts | undefined) => void) {}

  push(chunk: Buffer): void {
    if (!this.mask) return this.emit(chunk, undefined);
    const data = this.tail ? Buffer.concat([this.tail, chunk]) : chunk;
    this.tail = undefined;
    const cut = data.lastIndexOf(0x0a) + 1;
    if (cut > 0) this.maskAndEmit(data.subarray(0, cut));
    const rest = data.subarray(cut);
    if (rest.length === 0) return this.clearTimer();
    if (rest.length > TAIL_LIMIT) return this.maskAndEmit(rest);
    this.tail = Buffer.from(rest);
    this.clearTimer();
    this.timer = setTimeout(() => this.flush(), TAIL_WAIT_MS);
  }

  /** Emits what is held (end of stream, or the wait ran out). */
  flush(): void {
    this.clearTimer();
    const tail = this.tail;
    this.tail = undefined;
    if (tail) this.maskAndEmit(tail);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private maskAndEmit(bytes: Buffer): void {
    const encoding = isUtf8(bytes) ? 'utf8' : 'latin1';
    const { text, counts } = this.mask!(bytes.toString(encoding));
    const masked = Object.keys(counts).length > 0;
    this.emit(masked ? Buffer.from(text, encoding) : bytes, masked ? counts : undefined);
  }
}
