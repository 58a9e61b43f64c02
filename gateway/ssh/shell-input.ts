import { continuation, joinContinuations } from './continuation.js';
import { LineEditor } from './line-editor.js';

/**
 * What a person types into an interactive shell on a pty, turned into the
 * commands bash will run: the line editor rebuilds each accepted line,
 * physical lines that continue one command (backslash, open quote or
 * substitution, here-document) are joined and judged once complete, and what
 * the gateway cannot be sure of is marked uncertain with the reason:
 * - history expansion (`!!`, `!$`, `^a^b`) and `fc`/`r`, which run history;
 * - every line after the line editor was reconfigured (`set -o vi`, `bind`,
 *   INPUTRC, a nested shell reading its own inputrc);
 * - lines typed while a full-screen program has the terminal (the alternate
 *   screen is on: vim, less, top), which are not shell lines at all but may
 *   still run commands (`:!cmd`, `!cmd`);
 * - keys typed after C-c before the target wrote anything: the terminal
 *   discards input queued when it raises SIGINT, so bash may not see them.
 * A program that reads lines without the alternate screen (cat, read, python)
 * cannot be told apart from the shell: its lines are judged as shell commands,
 * as before, which can refuse harmless text but never lets a command pass unjudged.
 */
export type ShellStep =
  /** An Enter that does not end a command (bash reads on): judged for a block only, so a continuation mistake costs a refusal. */
  | { kind: 'partial'; command: string; judged: string }
  /** A complete command bash runs at this key; `judged`: as bash's lexer reads it (backslash-newlines removed). */
  | { kind: 'command'; command: string; judged: string; lines: number; uncertain: boolean; reasons: string[];
    /** Why every later line is uncertain once this command runs (it may reconfigure the line editor or start another shell). */
    reconfigures?: string };

const ALT_SCREEN = /\x1b\[\?(?:1049|1047|47)([hl])/g;
const HISTORY_EXPANSION = /![^\s=(]|^\s*\^/m;
const HISTORY_RERUN = /(?:^|[;&|(`]|\$\()\s*(?:fc|r)(?:\s|$)/m;
/** Lines after which readline's bindings may differ, or another interactive shell (dash, zsh, ...) reads the keys with its own editor. */
const RECONFIGURES = /\bset\s+[-+]o\s+(?:vi|emacs)\b|\bbind\b|\bINPUTRC\b|\.inputrc\b|(?:^|[;&|(]\s*|\bexec\s+)(?:\S*\/)?(?:da|z|k|c|tc|fi)?sh(?:\s+-[ils]+)*\s*(?:$|[;&|)])/m;

export class ShellInput {
  readonly editor = new LineEditor();
  private pending: string[] = [];
  private pendingReasons: string[] = [];
  private fullScreen = false;
  private interrupted = false;
  private sticky: string | undefined;
  private outputTail = '';

  /** Feeds client bytes; calls `on` for each step with the byte index just after the key that caused it. */
  feed(chunk: Buffer, on: (step: ShellStep, end: number) => void): void {
    if (this.interrupted && chunk.length > 0) this.editor.doubt('typed right after C-c (the terminal may discard it)');
    this.editor.feed(chunk, (event, end) => {
      if (event.kind === 'abandon') {
        this.pending = [];
        this.interrupted = true;
        this.editor.doubt('typed right after C-c (the terminal may discard it)');
        return;
      }
      if (event.kind === 'eof') {
        // bash runs a command whose here-document ends at end of input; anything else pending is judged too.
        if (this.pending.length > 0) on(this.complete(this.pending.join('\n'), [], this.pending.length), end);
        this.pending = [];
        return;
      }
      const { line, reasons } = event.typed;
      if (this.fullScreen) return on(this.complete(line, [...reasons, 'typed while a full-screen program had the terminal'], 1), end);
      const command = [...this.pending, line].join('\n');
      if (continuation(command) !== undefined) {
        this.pending.push(line);
        this.pendingReasons.push(...reasons);
        return on({ kind: 'partial', command, judged: joinContinuations(command) }, end);
      }
      const lines = this.pending.length + 1;
      const all = [...this.pendingReasons, ...reasons];
      this.pending = [];
      this.pendingReasons = [];
      on(this.complete(command, all, lines), end);
    });
  }

  /** The gateway sent C-c itself (a refused command of several lines). */
  interruptSent(): void {
    this.pending = [];
    this.pendingReasons = [];
    this.interrupted = true;
  }

  /** Output from the target (raw): shows the alternate screen going on and off, and that a C-c has been handled. */
  output(chunk: Buffer): void {
    this.interrupted = false;
    const text = this.outputTail + chunk.toString('latin1');
    this.outputTail = text.slice(-8);
    if (!text.includes('\x1b[?')) return; // no private mode sequence at all (most output, every echoed key)
    let last: string | undefined;
    for (const m of text.matchAll(ALT_SCREEN)) last = m[1];
    if (last === undefined) return;
    const was = this.fullScreen;
    this.fullScreen = last === 'h';
    if (was && !this.fullScreen) {
      // Back at the shell's prompt: what was typed into the program is gone.
      const typedSince = this.editor.pending.line !== '';
      this.editor.reset();
      this.pending = [];
      this.pendingReasons = [];
      if (typedSince) this.editor.doubt('typed while a full-screen program had the terminal');
    }
  }

  private complete(command: string, reasons: string[], lines: number): ShellStep {
    const all = new Set(reasons);
    if (this.sticky) all.add(this.sticky);
    if (HISTORY_EXPANSION.test(command)) all.add('history expansion (! or ^)');
    if (HISTORY_RERUN.test(command)) all.add('fc or r re-runs history');
    const reconfigures = RECONFIGURES.test(command) ? `the line editor may have been reconfigured (${firstLine(command)})` : undefined;
    return { kind: 'command', command, judged: joinContinuations(command), lines, uncertain: all.size > 0, reasons: [...all],
      ...(reconfigures ? { reconfigures } : {}) };
  }

  /**
   * A command that was let through: if it may reconfigure the line editor or start
   * another shell, every later line is uncertain. A refused one never ran, so it
   * changes nothing (the steps are made before they are judged; the caller says which ran).
   */
  ran(step: ShellStep): void {
    if (step.kind === 'command' && step.reconfigures) this.sticky ??= step.reconfigures;
  }

  /** Reasons a step must be marked uncertain that were learnt after it was made (an earlier command of the same chunk ran). */
  lateReasons(): string | undefined {
    return this.sticky;
  }
}

function firstLine(command: string): string {
  const line = command.split('\n')[0]!;
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}
