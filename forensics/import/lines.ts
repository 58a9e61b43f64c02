/**
 * Rebuilds the lines a person typed from terminal input, with the edits a shell
 * line editor applies: backspace, Ctrl-U (kill line), Ctrl-W (kill word),
 * Ctrl-C (abandon). Cursor movement keys are dropped, so a line edited in the
 * middle is approximate; a gateway that records `ssh.line` is authoritative.
 */
export class LineEditor {
  private line = '';
  private escape = 0; // 0 none, 1 after ESC, 2 inside CSI/SS3
  private readonly decoder = new TextDecoder('utf-8');

  /** Whether bytes were fed: then the decoder may hold part of a character, and text must go through it too. */
  private fedBytes = false;

  feed(bytes: Uint8Array): string[] {
    this.fedBytes = true;
    return this.apply(this.decoder.decode(bytes, { stream: true }));
  }

  /** Typed text recorded as text (UTF-8 input): the same lines as feeding its UTF-8 bytes, without encoding it to decode it again. */
  feedText(text: string): string[] {
    return this.fedBytes ? this.feed(Buffer.from(text, 'utf8')) : this.apply(wellFormed(text));
  }

  private apply(text: string): string[] {
    const out: string[] = [];
    for (const ch of text) {
      if (this.escape === 1) {
        this.escape = ch === '[' || ch === 'O' ? 2 : 0;
        continue;
      }
      if (this.escape === 2) {
        if (ch >= '@' && ch <= '~') this.escape = 0;
        continue;
      }
      switch (ch) {
        case '\x1b': this.escape = 1; break;
        case '\r':
        case '\n':
          if (this.line.trim()) out.push(this.line);
          this.line = '';
          break;
        case '\x7f':
        case '\b': this.line = [...this.line].slice(0, -1).join(''); break;
        case '\x15':
        case '\x03': this.line = ''; break;
        case '\x17': this.line = this.line.replace(/\S+\s*$/, ''); break;
        default:
          if (ch === '\t' || ch >= ' ') this.line += ch;
      }
    }
    return out;
  }
}

/** Lone surrogates as U+FFFD, as encoding to UTF-8 and decoding does (String.prototype.toWellFormed, not in this target's lib). */
function wellFormed(text: string): string {
  return (text as string & { toWellFormed(): string }).toWellFormed();
}
