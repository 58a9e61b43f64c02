import { TerminalEmulator, terminalBytes } from '../replay/emulator.js';
import type { Batch } from './batch.js';

/**
 * Terminal keyframes, made where a batch is written (the write thread, or inline)
 * rather than where the recording is read: emulating the terminal is about a
 * fifth of reading, verifying and deriving a shell session, and the write
 * thread has the time. The indexer (derive.ts) stages, in recording order, what
 * the terminal saw (`Batch.terminal`, TERMINAL_WIDTH values an op: session, seq,
 * t, op, a, b) and where a keyframe is due; this replays them on a headless
 * terminal and adds the keyframe rows to the batch before it is written.
 *
 * - `open`  a = cols, b = rows (null: the default size)
 * - `data`  a = the recorded data text, b = its encoding (utf8 | base64)
 * - `resize` a = cols, b = rows
 * - `keyframe` at seq, t: the screen after everything before it
 * - `end`   the session's terminal is no longer needed
 */
export const TERMINAL_WIDTH = 6;

export type TerminalOp = 'open' | 'data' | 'resize' | 'keyframe' | 'end';

/** One file's terminal, on the writing side. */
export class KeyframeMaker {
  private emulator: TerminalEmulator | undefined;

  /** Applies the batch's terminal ops and appends its keyframe rows (b.keyframes). */
  async apply(b: Batch): Promise<void> {
    const ops = b.terminal;
    for (let i = 0; i < ops.length; i += TERMINAL_WIDTH) {
      const op = ops[i + 3] as TerminalOp;
      const x = ops[i + 4]!;
      const y = ops[i + 5]!;
      if (op === 'open') {
        this.emulator?.dispose();
        this.emulator = new TerminalEmulator((x as number | null) ?? undefined, (y as number | null) ?? undefined);
      } else if (!this.emulator) {
        continue;
      } else if (op === 'data') {
        this.emulator.write(terminalBytes({ data: x, encoding: y }));
      } else if (op === 'resize') {
        this.emulator.resize(x as number, y as number);
      } else if (op === 'keyframe') {
        await this.emulator.flush();
        b.keyframes.push(ops[i]!, ops[i + 1]!, ops[i + 2]!, this.emulator.cols, this.emulator.rows, this.emulator.serialize());
      } else if (op === 'end') {
        this.dispose();
      }
    }
  }

  dispose(): void {
    this.emulator?.dispose();
    this.emulator = undefined;
  }
}
