import xtermHeadless from '@xterm/headless';
import serializeAddon from '@xterm/addon-serialize';

// Both packages are CommonJS: their classes come from the default export.
const { Terminal } = xtermHeadless;
const { SerializeAddon } = serializeAddon;
type HeadlessTerminal = InstanceType<typeof Terminal>;

export const DEFAULT_COLS = 80;
export const DEFAULT_ROWS = 24;

export interface ScreenState {
  cols: number;
  rows: number;
  /** The visible lines, right-trimmed. */
  lines: string[];
  cursor: { x: number; y: number };
  /** Escape sequences that rebuild this screen on a fresh terminal of the same size (@xterm/addon-serialize). */
  serialized: string;
}

type Op = { kind: 'data'; bytes: Uint8Array } | { kind: 'resize'; cols: number; rows: number };

/**
 * A headless terminal fed in recording order. Writes are queued and applied by
 * `flush` (xterm parses asynchronously), with a resize applied only after the
 * data before it, as the client's terminal saw them.
 */
export class TerminalEmulator {
  private readonly term: HeadlessTerminal;
  private readonly serializer = new SerializeAddon();
  private queue: Op[] = [];
  private queuedBytes = 0;

  constructor(cols = DEFAULT_COLS, rows = DEFAULT_ROWS) {
    // No scrollback: a keyframe is the screen, and parsing is faster without history.
    this.term = new Terminal({ cols: clamp(cols, DEFAULT_COLS), rows: clamp(rows, DEFAULT_ROWS), scrollback: 0, allowProposedApi: true });
    this.term.loadAddon(this.serializer);
  }

  get cols(): number {
    return this.term.cols;
  }

  get rows(): number {
    return this.term.rows;
  }

  /** Bytes queued since the last flush. */
  get pendingBytes(): number {
    return this.queuedBytes;
  }

  write(bytes: Uint8Array): void {
    this.queue.push({ kind: 'data', bytes });
    this.queuedBytes += bytes.length;
  }

  resize(cols: number, rows: number): void {
    this.queue.push({ kind: 'resize', cols: clamp(cols, this.term.cols), rows: clamp(rows, this.term.rows) });
  }

  /** Applies everything queued, in order. */
  async flush(): Promise<void> {
    const ops = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    let chunks: Uint8Array[] = [];
    for (const op of ops) {
      if (op.kind === 'data') {
        chunks.push(op.bytes);
        continue;
      }
      await this.writeAll(chunks);
      chunks = [];
      if (op.cols !== this.term.cols || op.rows !== this.term.rows) this.term.resize(op.cols, op.rows);
    }
    await this.writeAll(chunks);
  }

  /** The screen after a flush. */
  screen(): ScreenState {
    const buf = this.term.buffer.active;
    const lines: string[] = [];
    for (let y = 0; y < this.term.rows; y++) lines.push(buf.getLine(buf.viewportY + y)?.translateToString(true) ?? '');
    return { cols: this.term.cols, rows: this.term.rows, lines, cursor: { x: buf.cursorX, y: buf.cursorY }, serialized: this.serialize() };
  }

  serialize(): string {
    return this.serializer.serialize({ scrollback: 0 });
  }

  dispose(): void {
    this.term.dispose();
  }

  private writeAll(chunks: Uint8Array[]): Promise<void> {
    if (chunks.length === 0) return Promise.resolve();
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    return new Promise((resolve) => this.term.write(data, resolve));
  }
}

function clamp(n: number, fallback: number): number {
  return Number.isInteger(n) && n > 0 ? Math.min(n, 1000) : fallback;
}

/** Terminal bytes of an `ssh.output` / `ssh.input` event: `data` is base64 unless `encoding` is 'utf8'. */
export function terminalBytes(data: Record<string, unknown>): Buffer {
  const raw = data.data;
  if (typeof raw !== 'string') return Buffer.alloc(0);
  return data.encoding === 'utf8' ? Buffer.from(raw, 'utf8') : Buffer.from(raw, 'base64');
}

/** Terminal text without escape sequences and carriage returns, for a plain listing (hop rows, `show`, exports). */
export function plain(text: string): string {
  return text
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '')
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '')
    .replace(/\x1b[@-_]/g, '')
    .replace(/\r(?!\n)/g, '')
    .replace(/\r/g, '')
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
}
