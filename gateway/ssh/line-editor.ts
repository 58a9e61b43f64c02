/**
 * Rebuilds the command line a person types into a shell from the raw terminal
 * input, the way readline and the kernel's line discipline would apply it:
 * printable text, backspace, ^U (kill to start), ^W (kill word), ^K (kill to
 * end), ^A/^E and arrow keys (cursor), Delete, ^C (discard), bracketed paste.
 * History (up/down) and completion (tab) depend on the shell's state, which the
 * gateway cannot see: a line that used them is flagged `uncertain`.
 * Pure and incremental: feed chunks as they arrive, split anywhere.
 */
export interface TypedLine {
  line: string;
  uncertain: boolean;
}

const ESC = '\x1b';

export class LineEditor {
  private chars: string[] = [];
  private cursor = 0;
  private uncertain = false;
  private escape = ''; // an escape sequence in progress
  private afterCR = false; // CR LF from one keypress is one Enter, even split across chunks

  /** Feeds input; calls `onLine` for each line ended by Enter, with the index just after the Enter in `text`. */
  feed(text: string, onLine: (typed: TypedLine, end: number) => void): void {
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      const afterCR = this.afterCR;
      this.afterCR = ch === '\r';
      if (ch === '\n' && afterCR) continue;
      if (this.escape) {
        this.escape += ch;
        if (isSequenceEnd(this.escape)) {
          this.applyEscape(this.escape);
          this.escape = '';
        }
        else if (this.escape.length > 16) this.escape = ''; // not a sequence we know: drop it
        continue;
      }
      switch (ch) {
        case ESC: this.escape = ch; break;
        case '\r': case '\n': {
          const typed = { line: this.chars.join(''), uncertain: this.uncertain };
          this.reset();
          if (ch === '\r' && text[i + 1] === '\n') {
            i++;
            this.afterCR = false;
          }
          onLine(typed, i + 1);
          break;
        }
        case '\x7f': case '\b':
          if (this.cursor > 0) this.chars.splice(--this.cursor, 1);
          break;
        case '\x15': this.chars.splice(0, this.cursor); this.cursor = 0; break; // ^U
        case '\x0b': this.chars.splice(this.cursor); break; // ^K
        case '\x17': this.killWord(); break; // ^W
        case '\x01': this.cursor = 0; break; // ^A
        case '\x05': this.cursor = this.chars.length; break; // ^E
        case '\x02': this.cursor = Math.max(0, this.cursor - 1); break; // ^B
        case '\x06': this.cursor = Math.min(this.chars.length, this.cursor + 1); break; // ^F
        case '\x04': if (this.cursor < this.chars.length) this.chars.splice(this.cursor, 1); break; // ^D deletes under the cursor
        case '\x03': this.reset(); break; // ^C
        case '\t': this.uncertain = true; break; // completion: the shell decides
        default:
          if (ch >= ' ') this.chars.splice(this.cursor++, 0, ch);
          else this.uncertain ||= ch === '\x10' || ch === '\x0e' || ch === '\x12'; // ^P ^N ^R: history
      }
    }
  }

  /** The line typed so far (not yet ended). */
  get pending(): TypedLine {
    return { line: this.chars.join(''), uncertain: this.uncertain };
  }

  private reset(): void {
    this.chars = [];
    this.cursor = 0;
    this.uncertain = false;
  }

  private killWord(): void {
    let start = this.cursor;
    while (start > 0 && this.chars[start - 1] === ' ') start--;
    while (start > 0 && this.chars[start - 1] !== ' ') start--;
    this.chars.splice(start, this.cursor - start);
    this.cursor = start;
  }

  private applyEscape(seq: string): void {
    const body = seq.slice(1);
    if (body === '[D' || body === 'OD') this.cursor = Math.max(0, this.cursor - 1);
    else if (body === '[C' || body === 'OC') this.cursor = Math.min(this.chars.length, this.cursor + 1);
    else if (body === '[H' || body === 'OH' || body === '[1~') this.cursor = 0;
    else if (body === '[F' || body === 'OF' || body === '[4~') this.cursor = this.chars.length;
    else if (body === '[3~') { if (this.cursor < this.chars.length) this.chars.splice(this.cursor, 1); }
    else if (body === '[200~' || body === '[201~') { /* bracketed paste markers: the text between is typed */ }
    else if (body === '[A' || body === '[B' || body === 'OA' || body === 'OB') this.uncertain = true; // history
    else if (body === '\x7f') this.killWord(); // Alt-Backspace
    else this.uncertain = true;
  }
}

/** CSI sequences end with a byte in @–~; SS3 (ESC O x) and Alt+key (ESC x) are two or three bytes. */
function isSequenceEnd(seq: string): boolean {
  if (seq.length < 2) return false;
  const second = seq[1]!;
  if (second === '[') return seq.length > 2 && /[@-~]/.test(seq[seq.length - 1]!);
  if (second === 'O') return seq.length === 3;
  return true;
}
