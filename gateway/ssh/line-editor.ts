import { ReadlineBuffer } from './readline-buffer.js';

/**
 * Rebuilds the line bash's readline (emacs mode, default bindings plus
 * Debian's /etc/inputrc) accepts from the raw bytes a person types: each key is
 * applied as readline applies it (see ReadlineBuffer and line-editor.test.ts,
 * which compares with a real bash). What depends on state the gateway cannot
 * see — history recall and search, completion, keyboard macros, numeric
 * arguments, an unmodelled key or escape sequence, text edited outside ASCII
 * (readline's idea of a character depends on the target's locale) — makes the
 * line `uncertain`, with the reasons. Incremental: feed bytes as they arrive,
 * split anywhere.
 */
export interface TypedLine {
  line: string;
  uncertain: boolean;
  /** Why the line may not be what the shell runs. */
  reasons: string[];
}

export type EditorEvent =
  /** A line was accepted (Enter, C-o, C-x C-e, M-#). */
  | { kind: 'line'; typed: TypedLine }
  /** C-d on an empty line: end of input for the shell. */
  | { kind: 'eof' }
  /** C-c: the line (and any continuation in progress) is abandoned. */
  | { kind: 'abandon' };

const PASTE_END = '\x1b[201~';
const ESC = '\x1b';

type Mode = 'key' | 'esc' | 'csi' | 'ss3' | 'escesc' | 'ctrlx' | 'quoted' | 'paste';

export class LineEditor {
  readonly buffer = new ReadlineBuffer();
  private mode: Mode = 'key';
  private seq = '';
  private paste: string[] = [];
  private utf8: number[] = [];
  private utf8Need = 0;
  private reasons = new Set<string>();
  private sinceKill: 'kill' | 'typing' | 'other' = 'other';
  private edited = false;

  /** Feeds bytes; calls `on` for each event with the byte index just after the key that caused it. */
  feed(input: Buffer | string, on: (event: EditorEvent, end: number) => void): void {
    const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
    for (let i = 0; i < bytes.length; i++) {
      const ch = this.decode(bytes[i]!);
      if (ch === undefined) continue;
      const event = this.key(ch);
      if (event) on(event, i + 1);
    }
  }

  /** The line typed so far (not yet accepted). */
  get pending(): TypedLine {
    return this.typed();
  }

  /** Starts afresh (the shell's prompt is back); the kill ring stays, as readline keeps it. */
  reset(): void {
    this.newLine();
  }

  /** Marks the current line uncertain (the gateway learned something it cannot model). */
  doubt(reason: string): void {
    this.reasons.add(reason);
  }

  /** UTF-8 bytes to characters; an invalid byte is one character of its own (as latin1). */
  private decode(b: number): string | undefined {
    if (this.utf8Need > 0 && (b & 0xc0) === 0x80) {
      this.utf8.push(b);
      if (--this.utf8Need > 0) return undefined;
      const ch = Buffer.from(this.utf8).toString('utf8');
      this.utf8 = [];
      return ch;
    }
    this.utf8 = [];
    this.utf8Need = 0;
    const need = b >= 0xf0 && b < 0xf8 ? 3 : b >= 0xe0 ? 2 : b >= 0xc2 ? 1 : 0;
    if (b < 0x80 || need === 0) return String.fromCharCode(b);
    this.utf8 = [b];
    this.utf8Need = need;
    return undefined;
  }

  private key(ch: string): EditorEvent | undefined {
    switch (this.mode) {
      case 'paste': return this.pasted(ch);
      case 'quoted': // C-v: the next character as text; the tty still turns C-c into SIGINT
        this.mode = 'key';
        return ch === '\x03' ? this.plain(ch) : this.command(() => this.insert(ch), 'edit');
      case 'esc': return this.meta(ch);
      case 'escesc': return this.escEsc(ch);
      case 'ctrlx': return this.ctrlX(ch);
      case 'ss3': this.mode = 'key'; return this.command(() => this.ss3(ch));
      case 'csi': {
        this.seq += ch;
        if (/[\x20-\x3f]/.test(ch) && this.seq.length < 16) return undefined;
        this.mode = 'key';
        return this.csi(this.seq, false);
      }
      default: return this.plain(ch);
    }
  }

  private plain(ch: string): EditorEvent | undefined {
    const b = this.buffer;
    const code = ch.charCodeAt(0);
    if (code >= 0x20 && code !== 0x7f) return this.command(() => this.insert(ch), 'insert');
    switch (ch) {
      case '\r': case '\n': return this.accept();
      case '\x0f': return this.accept('C-o (operate-and-get-next) recalls the next history line', true); // runs this line, then recalls history
      case ESC: this.mode = 'esc'; return undefined;
      case '\x18': this.mode = 'ctrlx'; return undefined;
      case '\x16': this.mode = 'quoted'; return undefined; // C-v
      case '\x03': { // C-c: SIGINT, readline discards the line
        this.newLine();
        return { kind: 'abandon' };
      }
      case '\x04': // C-d: end of input on an empty line, else delete-char
        if (b.chars.length === 0) {
          this.newLine();
          return { kind: 'eof' };
        }
        return this.command(() => b.delete(b.point, Math.min(b.point + 1, b.chars.length)), 'edit');
      case '\x7f': case '\b': return this.command(() => b.delete(Math.max(0, b.point - 1), b.point), 'edit');
      case '\x01': return this.command(() => (b.point = 0));
      case '\x05': return this.command(() => (b.point = b.chars.length));
      case '\x02': return this.command(() => (b.point = Math.max(0, b.point - 1)));
      case '\x06': return this.command(() => (b.point = Math.min(b.chars.length, b.point + 1)));
      case '\x0b': return this.kill(b.chars.length);
      case '\x15': return this.kill(0);
      case '\x17': return this.kill(b.unixWordStart());
      case '\x19': return this.command(() => b.yank(), 'yank');
      case '\x14': return this.command(() => b.transposeChars(), 'edit');
      case '\x1f': return this.command(() => b.undo(), 'edit');
      case '\x0c': return this.command(() => undefined); // C-l clears the screen, not the line
      case '\t': return this.command(() => this.doubt('tab completion (the shell decides what it inserts)'));
      case '\x10': case '\x0e': case '\x12': case '\x13':
        return this.command(() => this.doubt('history recall or search (C-p/C-n/C-r/C-s)'));
      default:
        return this.command(() => this.doubt(`unmodelled control key 0x${code.toString(16).padStart(2, '0')}`));
    }
  }

  /** ESC + key: readline's meta bindings (upper case letters act as lower case, do-lowercase-version). */
  private meta(raw: string): EditorEvent | undefined {
    const b = this.buffer;
    this.mode = 'key';
    if (raw === '[') {
      this.mode = 'csi';
      this.seq = '';
      return undefined;
    }
    if (raw === 'O') {
      this.mode = 'ss3';
      return undefined;
    }
    if (raw === ESC) {
      this.mode = 'escesc';
      return undefined;
    }
    const ch = /^[A-Z]$/.test(raw) ? raw.toLowerCase() : raw;
    switch (ch) {
      case 'b': return this.command(() => (b.point = b.backwardWord()));
      case 'f': return this.command(() => (b.point = b.forwardWord()));
      case 'd': return this.kill(b.forwardWord());
      case '\x7f': case '\b': return this.kill(b.backwardWord());
      case 'y': return this.command(() => b.yankPop(), 'yank', true);
      case 't': return this.command(() => b.transposeWords(), 'edit');
      case 'u': return this.command(() => b.changeCase('up'), 'edit');
      case 'l': return this.command(() => b.changeCase('down'), 'edit');
      case 'c': return this.command(() => b.changeCase('cap'), 'edit');
      case '\x0c': return this.command(() => undefined); // M-C-l clear-display
      case '#': return this.accept('M-# (insert-comment) accepts the line commented', true);
      case '\r': case '\n': return this.command(() => this.doubt('M-C-j switches readline to vi mode'));
      default: return this.command(() => this.doubt(`unmodelled key M-${printable(raw)}`));
    }
  }

  private escEsc(ch: string): EditorEvent | undefined {
    if (ch === '[') {
      this.mode = 'csi';
      this.seq = '\x1b'; // marks M-CSI
      return undefined;
    }
    this.mode = 'key';
    return this.command(() => this.doubt(`unmodelled key M-ESC ${printable(ch)}`));
  }

  private ctrlX(ch: string): EditorEvent | undefined {
    const b = this.buffer;
    this.mode = 'key';
    if (ch === '\x15') return this.command(() => b.undo(), 'edit');
    if (ch === '\x7f') return this.kill(0);
    if (ch === '\x05') return this.accept('C-x C-e runs the line through an editor', true);
    return this.command(() => this.doubt(`unmodelled key C-x ${printable(ch)}`));
  }

  private csi(seq: string, _meta: boolean): EditorEvent | undefined {
    const b = this.buffer;
    if (seq.startsWith(ESC)) { // ESC ESC [ C / D: forward / backward word
      const body = seq.slice(1);
      if (body === 'C') return this.command(() => (b.point = b.forwardWord()));
      if (body === 'D') return this.command(() => (b.point = b.backwardWord()));
      return this.command(() => this.doubt(`unmodelled escape sequence M-CSI ${printable(body)}`));
    }
    switch (seq) {
      case 'D': return this.command(() => (b.point = Math.max(0, b.point - 1)));
      case 'C': return this.command(() => (b.point = Math.min(b.chars.length, b.point + 1)));
      case 'H': case '1~': return this.command(() => (b.point = 0));
      case 'F': case '4~': return this.command(() => (b.point = b.chars.length));
      case '3~': return this.command(() => b.delete(b.point, Math.min(b.point + 1, b.chars.length)), 'edit');
      case '2~': this.mode = 'quoted'; return undefined; // Insert: quoted-insert in Debian's inputrc
      case '1;5C': case '1;3C': case '5C': return this.command(() => (b.point = b.forwardWord()));
      case '1;5D': case '1;3D': case '5D': return this.command(() => (b.point = b.backwardWord()));
      case '3;5~': return this.kill(b.forwardWord());
      case '200~': this.mode = 'paste'; this.paste = []; return undefined;
      case 'A': case 'B': case '5~': case '6~':
        return this.command(() => this.doubt('history recall (arrow or page keys)'));
      default: return this.command(() => this.doubt(`unmodelled escape sequence CSI ${printable(seq)}`));
    }
  }

  private ss3(ch: string): void {
    const b = this.buffer;
    if (ch === 'D') b.point = Math.max(0, b.point - 1);
    else if (ch === 'C') b.point = Math.min(b.chars.length, b.point + 1);
    else if (ch === 'H') b.point = 0;
    else if (ch === 'F') b.point = b.chars.length;
    else if (ch === 'A' || ch === 'B') this.doubt('history recall (arrow keys)');
    else this.doubt(`unmodelled escape sequence SS3 ${printable(ch)}`);
  }

  /** Bracketed paste: everything up to ESC[201~ is inserted as text, CR as LF (readline's _rl_bracketed_text). */
  private pasted(ch: string): EditorEvent | undefined {
    this.paste.push(ch);
    const n = this.paste.length;
    if (n >= PASTE_END.length && this.paste.slice(n - PASTE_END.length).join('') === PASTE_END) {
      const text = this.paste.slice(0, n - PASTE_END.length).map((c) => (c === '\r' ? '\n' : c));
      this.paste = [];
      this.mode = 'key';
      // The tty still turns C-c, C-z and C-\ into signals inside a paste.
      if (text.some((c) => /[\x00-\x08\x0b-\x1f]/.test(c))) this.doubt('control characters inside a bracketed paste');
      return this.command(() => this.buffer.insert(text));
    }
    return undefined;
  }

  /** Kills from point to `to`. An empty kill is no kill for readline (the bell rings): the next kill starts a new slot. */
  private kill(to: number): undefined {
    const b = this.buffer;
    const from = b.point;
    return this.command(() => b.kill(from, to), from === to ? 'move' : 'kill');
  }

  private insert(ch: string): void {
    this.buffer.insert([ch]);
  }

  /** Runs one readline command, keeping what readline's next command looks at: was the last one a kill, a yank. */
  private command(run: () => unknown, kind: 'insert' | 'edit' | 'kill' | 'yank' | 'move' = 'move', pop = false): undefined {
    const b = this.buffer;
    b.lastWasKill = this.sinceKill === 'kill';
    b.killAfterTyping = this.sinceKill === 'typing';
    if (!pop && kind !== 'yank') b.lastWasYank = false;
    run();
    if (kind !== 'yank') b.lastWasYank = false;
    if (kind !== 'insert') this.edited = true;
    this.sinceKill = kind === 'kill' ? 'kill' : kind === 'insert' && this.sinceKill !== 'other' ? 'typing' : 'other';
    return undefined;
  }

  private accept(reason?: string, uncertain = false): EditorEvent {
    if (uncertain && reason) this.doubt(reason);
    const typed = this.typed();
    this.newLine();
    return { kind: 'line', typed };
  }

  private typed(): TypedLine {
    const line = this.buffer.text;
    const reasons = new Set([...this.reasons, ...this.buffer.doubt]);
    // Readline counts characters as the target's locale does: non-ASCII text that was edited may differ.
    if (this.edited && /[^\x00-\x7f]/.test(line)) reasons.add('non-ASCII text edited (depends on the target locale)');
    return { line, uncertain: reasons.size > 0, reasons: [...reasons] };
  }

  private newLine(): void {
    this.buffer.newLine();
    this.reasons = new Set();
    this.sinceKill = 'other';
    this.edited = false;
    this.mode = 'key';
  }
}

function printable(s: string): string {
  return [...s].map((c) => (c < ' ' || c === '\x7f' ? `^${String.fromCharCode(c.charCodeAt(0) ^ 0x40)}` : c)).join('');
}
