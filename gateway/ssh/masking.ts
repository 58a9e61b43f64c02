import { isUtf8 } from 'node:buffer';
import type { MaskCounts } from '../policy/types.js';

export type MaskFn = (text: string) => { text: string; counts: MaskCounts };

/** How long a line without its newline (a prompt, a progress bar) may wait for the rest of it. */
const TAIL_WAIT_MS = 15;
/**
 * Characters a sensitive value is made of (emails, card numbers with their
 * spaces and dashes, SSNs, keys, tokens). A run of them at the end of a held
 * line could be the first half of a value, so a non-interactive stream never
 * lets it go on the timer: only its end, a character outside the set, or the
 * size limit releases it.
 */
const VALUE_RUN = /[A-Za-z0-9@._%+\-/=: ]+$/;
/**
 * On a pty, the tail of a held line that looks like the start of a number
 * value (digits with spaces or dashes) or of an email gets a second, longer
 * wait: typed letters still echo at once, a partial SSN or card number does not.
 */
const PARTIAL_VALUE = /(?:\d[\d -]{2,}|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]*)$/;
const PARTIAL_WAIT_MS = 300;
/**
 * What a held partial value becomes when its wait ends on a pty: the run that
 * could begin a value is never released raw, so a value written in two parts
 * with a pause between (`123-45-`, pause, `6789`) reaches the client and the
 * recording as `[masked]6789`, never whole. Counted under this name.
 */
export const PARTIAL_MASK = '[masked]';
export const PARTIAL_RULE = 'partial-value';
/**
 * A line longer than this is masked in parts rather than held whole; the trailing run of value characters (at most
 * this many bytes of it) is still held, so a value cut by an SSH packet inside a long line (minified JSON, a long
 * CSV row) is masked whole. A value longer than this inside a longer run of value characters is the limit.
 */
const TAIL_LIMIT = 8192;
/** A private key's first line, and its last: the lines between are masked whatever chunks they come in. */
const KEY_BEGIN = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/g;
const KEY_END = /-----END (?:[A-Z]+ )?PRIVATE KEY-----/g;
/** How many typed bytes, and for how long, may wait for their echo. */
const ECHO_LIMIT = 256;
const ECHO_WAIT_MS = 500;

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
  /** The delay `timer` was set with (TAIL_WAIT_MS or PARTIAL_WAIT_MS). */
  private timerWait = 0;
  private partialWaited = false;
  /** What the client typed on a pty and the target has not echoed yet, and when it was typed. */
  private echo: Buffer | undefined;
  private typedAt = 0;
  /**
   * A private key's BEGIN line went out (masked) and its END line has not: what follows is masked as the rest of
   * that key, with the BEGIN line put back in front of it for the mask function (then taken off again).
   */
  private inKey: string | undefined;

  /**
   * `interactive` (a pty): the wait ends the hold, so echo and prompts appear at
   * once; a value split by a pause of more than TAIL_WAIT_MS may then pass in two
   * unmatched parts. Otherwise the trailing run of value characters is kept back
   * until what follows it shows where it ends.
   */
  constructor(
    private readonly mask: MaskFn | undefined,
    private readonly emit: (chunk: Buffer, counts: MaskCounts | undefined) => void,
    private readonly interactive = true,
  ) {}

  /**
   * Bytes the client typed on a pty. Their echo, when it comes back alone and
   * nothing is held, passes at once (masked, but without the wait): the client
   * knows what it typed, and the hold would add its wait to every keystroke.
   */
  typed(bytes: Buffer): void {
    if (!this.mask || !this.interactive) return;
    const pending = this.echo && Date.now() - this.typedAt <= ECHO_WAIT_MS ? Buffer.concat([this.echo, bytes]) : bytes;
    this.echo = pending.length > ECHO_LIMIT ? pending.subarray(pending.length - ECHO_LIMIT) : pending;
    this.typedAt = Date.now();
  }

  push(chunk: Buffer): void {
    if (!this.mask) return this.emit(chunk, undefined);
    if (this.echo) {
      const echo = this.echo;
      this.echo = undefined;
      if (!this.tail && Date.now() - this.typedAt <= ECHO_WAIT_MS && chunk.length <= echo.length && chunk.compare(echo, 0, chunk.length) === 0) {
        if (chunk.length < echo.length) this.echo = echo.subarray(chunk.length);
        return this.maskAndEmit(chunk);
      }
    }
    const data = this.tail ? Buffer.concat([this.tail, chunk]) : chunk;
    this.tail = undefined;
    const cut = data.lastIndexOf(0x0a) + 1;
    if (cut > 0) this.maskAndEmit(data.subarray(0, cut));
    let rest = data.subarray(cut);
    if (rest.length > TAIL_LIMIT) {
      const keep = Math.min(trailingValueRun(rest), TAIL_LIMIT);
      this.maskAndEmit(rest.subarray(0, rest.length - keep));
      rest = rest.subarray(rest.length - keep);
    }
    if (rest.length === 0) return this.clearTimer();
    this.tail = Buffer.from(rest);
    this.partialWaited = false;
    // The wait starts again from this chunk. On a stream of long lines every chunk leaves a tail: the same timer is
    // restarted (refresh) rather than a Timeout made and cancelled per SSH packet.
    if (this.timer && this.timerWait === TAIL_WAIT_MS) this.timer.refresh();
    else this.wait(TAIL_WAIT_MS);
  }

  private wait(ms: number): void {
    this.clearTimer();
    this.timerWait = ms;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush(false);
    }, ms);
  }

  /** Emits what is held: all of it at the end of the stream, or after the wait what cannot be part of a value. */
  flush(final = true): void {
    this.clearTimer();
    const tail = this.tail;
    this.tail = undefined;
    if (!tail) return;
    if (final) return this.maskAndEmit(tail);
    const text = tail.toString('latin1');
    if (this.interactive && this.partialWaited) return this.releasePartial(tail, text);
    const pattern = this.interactive ? PARTIAL_VALUE : VALUE_RUN;
    const run = pattern.exec(text);
    const keep = run ? run[0].length : 0;
    if (keep < tail.length) this.maskAndEmit(tail.subarray(0, tail.length - keep));
    if (keep > 0) {
      this.tail = Buffer.from(tail.subarray(tail.length - keep));
      if (this.interactive) {
        this.partialWaited = true;
        this.wait(PARTIAL_WAIT_MS);
      }
    }
  }

  /** The second wait on a pty is over: what could still begin a value goes out as PARTIAL_MASK. */
  private releasePartial(tail: Buffer, text: string): void {
    const run = PARTIAL_VALUE.exec(text);
    if (!run) return this.maskAndEmit(tail);
    const keep = Buffer.byteLength(run[0], 'latin1');
    if (keep < tail.length) this.maskAndEmit(tail.subarray(0, tail.length - keep));
    this.emit(Buffer.from(PARTIAL_MASK), { [PARTIAL_RULE]: 1 });
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private maskAndEmit(bytes: Buffer): void {
    if (bytes.length === 0) return;
    const encoding = readsAsUtf8(bytes) ? 'utf8' : 'latin1';
    const raw = bytes.toString(encoding);
    const begin = this.inKey;
    const { text, counts } = this.mask!(begin ? `${begin}\n${raw}` : raw);
    const masked = Object.keys(counts).length > 0;
    // A key's BEGIN line is masked when a rule recognises keys (nothing to keep open otherwise): only then is the
    // text searched for one (a scan of every chunk cost ~0.2 s of CPU per 200 MB download).
    this.inKey = begin || masked ? openKey(raw, begin) : undefined;
    // The BEGIN line put in front was masked with the key's lines (the rule took it); if no rule did, it is taken off.
    const out = begin && text.startsWith(`${begin}\n`) ? text.slice(begin.length + 1) : text;
    this.emit(masked || out !== raw ? Buffer.from(out, encoding) : bytes, masked ? counts : undefined);
  }
}

/** The BEGIN line of a private key that `text` (after the key `open` was still open before it) leaves open, if any. */
function openKey(text: string, open: string | undefined): string | undefined {
  if (!open && !text.includes('PRIVATE KEY-----')) return undefined;
  let lastBegin: RegExpExecArray | undefined;
  for (const m of text.matchAll(KEY_BEGIN)) lastBegin = m;
  let lastEnd = -1;
  for (const m of text.matchAll(KEY_END)) lastEnd = m.index;
  if (lastBegin && lastBegin.index > lastEnd) return lastBegin[0];
  return lastEnd >= 0 ? undefined : open;
}

/** How many bytes at the end of `bytes` are value characters (VALUE_RUN's set). */
function trailingValueRun(bytes: Buffer): number {
  let i = bytes.length;
  while (i > 0 && isValueByte(bytes[i - 1]!)) i--;
  return bytes.length - i;
}

/** [A-Za-z0-9@._%+\-/=: ] as bytes. */
function isValueByte(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
    || b === 0x40 || b === 0x2e || b === 0x5f || b === 0x25 || b === 0x2b || b === 0x2d || b === 0x2f || b === 0x3d || b === 0x3a || b === 0x20;
}

/**
 * Whether output is valid UTF-8 (masked as text) or not (masked as latin1). A
 * byte 0xff is never part of UTF-8, and binary output holds one every few
 * hundred bytes: finding it (memchr) spares the validation of the whole chunk,
 * ~15 % of masking's CPU on a binary download (issue 15).
 */
export function readsAsUtf8(bytes: Buffer): boolean {
  return bytes.indexOf(0xff) === -1 && isUtf8(bytes);
}
