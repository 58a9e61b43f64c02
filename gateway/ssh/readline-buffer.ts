/**
 * The line buffer of GNU readline (bash's line editor) as its emacs-mode
 * commands change it: the text and point, readline's word definition, the
 * kill ring (consecutive kills append) and the undo list. Each method mirrors
 * the readline function named in its comment, checked against bash 5.2 (see
 * line-editor.test.ts). Where readline's result depends on something the
 * gateway cannot see (keyboard timing, text killed on an earlier line), the
 * method says so through `doubt`, and the line is marked uncertain.
 */
type Undo =
  | { what: 'insert'; start: number; end: number }
  | { what: 'delete'; start: number; text: string[] }
  | { what: 'group'; entries: Undo[] };

/** readline's rl_alphabetic for ASCII: letters and digits (not '_'). Other characters make a line uncertain elsewhere. */
export function isWordChar(ch: string | undefined): boolean {
  return ch !== undefined && /^[\p{L}\p{N}]$/u.test(ch);
}
const isBlank = (ch: string | undefined) => ch === ' ' || ch === '\t';
const MAX_KILLS = 10; // rl_max_kills
const COALESCE_LIMIT = 20; // rl_insert_text joins single-character inserts up to 20 characters

export class ReadlineBuffer {
  chars: string[] = [];
  point = 0;
  /** Why the buffer may differ from readline's (empty: it does not). */
  doubt: string[] = [];
  private undoList: Undo[] = [];
  private group: Undo[] | undefined;
  /** Kill ring, shared by every line of the session, as readline keeps it; `line` = the line a slot was last written on. */
  private ring: { text: string[]; line: number; ambiguous: boolean }[] = [];
  private ringIndex = 0;
  /** An earlier kill either appended or made a new slot (keyboard timing decided): slots before the newest may be off by one. */
  private ringAmbiguous = false;
  lastWasKill = false;
  /** A kill after a kill with only typed characters between: readline appends or not depending on keyboard timing. */
  killAfterTyping = false;
  lastWasYank = false;
  private yanked = 0;
  lineNo = 0;

  get text(): string {
    return this.chars.join('');
  }

  /** A new line: point, text and undo list go, the kill ring stays. */
  newLine(): void {
    this.chars = [];
    this.point = 0;
    this.doubt = [];
    this.undoList = [];
    this.group = undefined;
    this.lastWasKill = this.lastWasYank = this.killAfterTyping = false;
    this.lineNo++;
  }

  /** rl_insert_text: a single character joins the insert before it (up to 20), whether typed or yanked. */
  insert(text: string[]): void {
    if (text.length === 0) return;
    this.chars.splice(this.point, 0, ...text);
    const top = this.group ? undefined : this.undoList.at(-1);
    if (text.length === 1 && top?.what === 'insert' && top.end === this.point && top.end - top.start < COALESCE_LIMIT) {
      top.end++;
    } else {
      this.pushUndo({ what: 'insert', start: this.point, end: this.point + text.length });
    }
    this.point += text.length;
  }

  /** rl_delete_text */
  delete(from: number, to: number): string[] {
    const [start, end] = from < to ? [from, to] : [to, from];
    if (start === end) return [];
    const removed = this.chars.splice(start, end - start);
    this.pushUndo({ what: 'delete', start, text: removed });
    if (this.point > end) this.point -= end - start;
    else if (this.point > start) this.point = start;
    return removed;
  }

  /** rl_forward_word: skip non-word characters, then word characters. */
  forwardWord(from = this.point): number {
    let p = from;
    while (p < this.chars.length && !isWordChar(this.chars[p])) p++;
    while (p < this.chars.length && isWordChar(this.chars[p])) p++;
    return p;
  }

  /** rl_backward_word */
  backwardWord(from = this.point): number {
    let p = from;
    while (p > 0 && !isWordChar(this.chars[p - 1])) p--;
    while (p > 0 && isWordChar(this.chars[p - 1])) p--;
    return p;
  }

  /** rl_unix_word_rubout's start: back over blanks, then over non-blanks. */
  unixWordStart(): number {
    let p = this.point;
    while (p > 0 && isBlank(this.chars[p - 1])) p--;
    while (p > 0 && !isBlank(this.chars[p - 1])) p--;
    return p;
  }

  /** rl_kill_text: deletes and saves into the kill ring; a kill right after a kill appends (forward) or prepends (backward). */
  kill(from: number, to: number): void {
    const append = this.lastWasKill && this.ring.length > 0;
    const ambiguous = this.killAfterTyping && this.ring.length > 0; // appended, or a new slot: keyboard timing decides
    if (from !== to) {
      const text = this.delete(from, to);
      if (append) {
        const slot = this.ring.at(-1)!;
        slot.text = from < to ? [...slot.text, ...text] : [...text, ...slot.text];
        slot.line = this.lineNo;
        slot.ambiguous ||= ambiguous;
      } else {
        if (this.ring.length === MAX_KILLS) this.ring.shift();
        this.ring.push({ text, line: this.lineNo, ambiguous });
      }
      this.ringAmbiguous ||= ambiguous;
      this.ringIndex = this.ring.length - 1;
      this.point = Math.min(from, to);
    }
    this.lastWasKill = true;
  }

  /** rl_yank */
  yank(): boolean {
    const slot = this.ring[this.ringIndex];
    if (!slot) {
      this.doubt.push('yank with nothing killed on this line (the shell may hold older kills)');
      return false;
    }
    this.checkSlot(slot);
    this.insert(slot.text);
    this.yanked = slot.text.length;
    this.lastWasYank = true;
    return true;
  }

  /** rl_yank_pop: only right after a yank; replaces the yanked text with the previous kill. */
  yankPop(): void {
    if (!this.lastWasYank || this.ring.length === 0) return;
    this.delete(this.point - this.yanked, this.point);
    this.ringIndex = (this.ringIndex - 1 + this.ring.length) % this.ring.length;
    this.yank();
  }

  private checkSlot(slot: { line: number; ambiguous: boolean }): void {
    if (slot.line !== this.lineNo) this.doubt.push('yank of text killed on an earlier line (the shell may have killed other text since)');
    if (slot.ambiguous || (this.ringAmbiguous && slot !== this.ring.at(-1))) {
      this.doubt.push('yank after kills separated by typing (readline joins them depending on keyboard timing)');
    }
  }

  /** rl_transpose_chars: at the end of the line, the two characters before point. */
  transposeChars(): void {
    if (this.point === 0 || this.chars.length < 2) return;
    this.begin();
    if (this.point === this.chars.length) this.point--;
    this.point--;
    const [ch] = this.delete(this.point, this.point + 1);
    this.point = Math.min(this.point + 1, this.chars.length);
    this.insert([ch!]);
    this.end();
  }

  /** rl_transpose_words */
  transposeWords(): void {
    const orig = this.point;
    const w2End = this.forwardWord(orig);
    const w2Beg = this.backwardWord(w2End);
    const w1Beg = this.backwardWord(w2Beg);
    const w1End = this.forwardWord(w1Beg);
    if (w1Beg === w2Beg || w2Beg < w1End) return;
    const word1 = this.chars.slice(w1Beg, w1End);
    const word2 = this.chars.slice(w2Beg, w2End);
    this.begin();
    this.point = w2Beg;
    this.delete(w2Beg, w2End);
    this.insert(word1);
    this.point = w1Beg;
    this.delete(w1Beg, w1End);
    this.insert(word2);
    this.point = w2End;
    this.end();
  }

  /** rl_change_case over the next word: up, down, or capitalise (first letter of each run of word characters). */
  changeCase(op: 'up' | 'down' | 'cap'): void {
    const start = this.point;
    const end = this.forwardWord(start);
    const before = this.chars.slice(start, end);
    let inWord = false;
    const after = before.map((ch) => {
      if (!isWordChar(ch)) {
        inWord = false;
        return ch;
      }
      const up = op === 'up' || (op === 'cap' && !inWord);
      inWord = true;
      return up ? ch.toUpperCase() : ch.toLowerCase();
    });
    if (after.some((ch) => ch.length !== 1)) this.doubt.push('case change of a character whose other case is longer');
    this.begin();
    this.point = start;
    this.delete(start, end);
    this.insert(after);
    this.point = end;
    this.end();
  }

  /** rl_undo_command: undoes the last change (or group); typed characters are undone in runs of up to 20. */
  undo(): void {
    const entry = this.undoList.pop();
    if (!entry) return;
    this.group = [];
    this.applyUndo(entry);
    this.group = undefined;
  }

  private applyUndo(entry: Undo): void {
    if (entry.what === 'group') {
      for (const e of [...entry.entries].reverse()) this.applyUndo(e);
    } else if (entry.what === 'insert') {
      this.chars.splice(entry.start, entry.end - entry.start);
      this.point = entry.start;
    } else {
      this.chars.splice(entry.start, 0, ...entry.text);
      this.point = entry.start + entry.text.length;
    }
  }

  private pushUndo(entry: Undo): void {
    (this.group ?? this.undoList).push(entry);
  }

  private begin(): void {
    this.group = [];
  }

  private end(): void {
    const entries = this.group ?? [];
    this.group = undefined;
    if (entries.length) this.undoList.push({ what: 'group', entries });
  }
}
