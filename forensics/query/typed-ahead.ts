/**
 * Output of a shell whose lines were typed ahead, paired with the line that produced it.
 *
 * An agent often writes several lines at once (`cmd1\ncmd2\nexit\n`). The recording then holds the three
 * typed lines first and all the output after them, so pairing output with "the last command typed" gives
 * everything to `exit`. The shell reads typed-ahead lines one at a time and echoes each as it reads it
 * (readline redraws the line after its prompt), so the output stream itself says where each line's output
 * starts: at the echo of that line. Until the echo of the next waiting line shows up, output belongs to the
 * line before it.
 *
 * A line counts as typed ahead when it is sent while the line before it has had no output yet (typed
 * normally, a line's own echo and the previous line's output come before it). The echo is matched as the
 * line's text ending a line of output right after a prompt (not at the start of a line nor after other text,
 * where a command's own output would print it); a text that never shows up leaves the rest with the line
 * still waiting, as before. A heuristic, as any reading of a terminal is: the terminal player shows the bytes.
 */
export class TypedAhead<Row> {
  /** Lines still owed output, oldest first: the first receives output until the second's echo. */
  private waiting: { row: Row; text: string; heard: boolean }[] = [];
  /** The end of the output already given to the first waiting line, to find an echo split across chunks. */
  private tail = '';

  /** A row opened: a typed line joins the queue if the line before it has heard nothing yet; anything else ends it. */
  opened(row: Row, typedLine: string | undefined): void {
    const last = this.waiting.at(-1);
    if (typedLine === undefined) this.waiting = [];
    else if (last && !last.heard) this.waiting.push({ row, text: typedLine, heard: false });
    else this.waiting = [{ row, text: typedLine, heard: false }];
    if (this.waiting.length <= 1) this.tail = '';
  }

  /** A typed line the gateway did not pass on (blocked, denied, timed out): the shell never echoes it, so nothing waits for it. */
  notRun(row: Row): void {
    const i = this.waiting.findIndex((w) => w.row === row);
    if (i > 0) this.waiting.splice(i, 1);
  }

  /** Whether the last row opened is a typed line: its output (and its typed-ahead successors') goes through `route`. */
  get routing(): boolean {
    return this.waiting.length > 0;
  }

  /** Splits one chunk of plain output text among the waiting lines, in order. */
  route(text: string): { row: Row; text: string }[] {
    const out: { row: Row; text: string }[] = [];
    let rest = text;
    while (this.waiting.length > 1 && rest.length > 0) {
      const next = this.waiting[1]!;
      const at = echoAt(this.tail, rest, next.text);
      if (at < 0) break;
      if (at > 0) out.push({ row: this.waiting[0]!.row, text: rest.slice(0, at) });
      this.waiting[0]!.heard = true;
      this.waiting.shift();
      this.tail = '';
      rest = rest.slice(at);
    }
    if (rest.length > 0 && this.waiting.length > 0) {
      this.waiting[0]!.heard = true;
      out.push({ row: this.waiting[0]!.row, text: rest });
      this.tail = (this.tail + rest).slice(-512);
    }
    return out;
  }
}

/** How a shell prompt ends (`$ `, `# `, `> `, `% `, `]$ `, `: `): what stands before a line's echo on its output line. */
const PROMPT_END = /[$#>%\]:]\s*$/;

/**
 * Where in `chunk` the echo of `line` starts: the line's text followed by a newline, after a prompt on the
 * same output line. An echo that began in the previous chunk splits at the chunk's start.
 */
function echoAt(tail: string, chunk: string, line: string): number {
  if (line.trim() === '') return -1;
  // A long line's echo wraps at the terminal's width, where readline redraws a character: only its start is matched.
  const echo = line.length <= ECHO_PREFIX ? `${line}\n` : line.slice(0, ECHO_PREFIX);
  const text = tail + chunk;
  for (let i = text.indexOf(echo); i >= 0; i = text.indexOf(echo, i + 1)) {
    const prompt = text.slice(text.lastIndexOf('\n', i - 1) + 1, i);
    if (PROMPT_END.test(prompt) && i + echo.length > tail.length) return Math.max(0, i - tail.length);
  }
  return -1;
}

/** Characters of a long line's echo that are matched (a prompt of up to 50 columns leaves more before an 80-column wrap). */
const ECHO_PREFIX = 28;
