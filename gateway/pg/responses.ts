import { BackendFramer } from './frames.js';
import type { RowMasker } from './masking.js';
import type { MessageMasker } from './message-masking.js';
import type { Portal } from './statements.js';

/** The maskers of a session with masking rules. */
export interface Maskers { rows: RowMasker; messages: MessageMasker }

/** What the client sent that the server will answer, in order. */
export type PendingReply =
  | { kind: 'query' | 'parse' | 'bind' | 'close' | 'sync' }
  /** `portal`: a Describe of that portal (its answer gives the portal's columns); `swallow`: the gateway's own, unseen by the client. */
  | { kind: 'describe'; portal?: Portal; swallow?: boolean }
  /** `portal`: whose rows these are (known when masking). */
  | { kind: 'execute'; portal?: Portal }
  /** A statement the gateway refused and made the server fail in its place: the server's error is replaced by `bytes`. */
  | { kind: 'refuse'; bytes: Buffer; simple: boolean };

/** Answers without payload are shared: expecting one allocates nothing. */
const REPLY = {
  query: { kind: 'query' }, parse: { kind: 'parse' }, bind: { kind: 'bind' }, describe: { kind: 'describe' },
  execute: { kind: 'execute' }, close: { kind: 'close' }, sync: { kind: 'sync' },
} as const satisfies Record<string, PendingReply>;

const TAG = { DataRow: 0x44, RowDescription: 0x54, NoData: 0x6e, CommandComplete: 0x43, EmptyQuery: 0x49,
  PortalSuspended: 0x73, Error: 0x45, Ready: 0x5a, ParseComplete: 0x31, BindComplete: 0x32, CloseComplete: 0x33,
  CopyData: 0x64, Notice: 0x4e, ParameterStatus: 0x53, Notification: 0x41, CopyOut: 0x48, CopyBoth: 0x57 } as const;

/** What the server may send at any time, unasked: notices, parameter changes, notifications. */
const ASYNC_TAGS = new Set<number>([TAG.Notice, 0x53 /* ParameterStatus */, 0x41 /* NotificationResponse */]);

/**
 * Follows the server's answers in the order of the client's requests, puts the
 * gateway's refusal in place of the error a refused statement's stand-in gets,
 * and masks result rows on the way. Output is always whole messages.
 */
export class ResponseStream {
  private readonly framer = new BackendFramer();
  private readonly pending: PendingReply[] = [];
  /** The Execute whose rows the row masker was last set up for. */
  private rowsFor: PendingReply | undefined;

  constructor(private readonly maskers: Maskers | undefined) {}

  expect(kind: keyof typeof REPLY): void {
    this.pending.push(REPLY[kind]);
  }

  /** A Describe of a portal (or, without one, of a statement); `swallow`: the gateway injected it, its answer is not the client's. */
  expectDescribe(portal: Portal | undefined, swallow: boolean): void {
    this.pending.push({ kind: 'describe', portal, swallow });
  }

  expectExecute(portal: Portal): void {
    this.pending.push({ kind: 'execute', portal });
  }

  /**
   * The server was sent a message that must fail (it aborts the batch's
   * transaction as the refused statement would have); the client sees `error`
   * in place of the server's error. Anything but an error is a broken promise.
   * `simple`: the stand-in is a Query, whose ReadyForQuery the caller expects next.
   */
  expectRefusal(error: Buffer, simple = false): void {
    this.pending.push({ kind: 'refuse', bytes: error, simple });
  }

  get idle(): boolean {
    return this.pending.length === 0;
  }

  /**
   * Frames a chunk from the server; `onFrame` sees each message as the client
   * will (masked), except a refused statement's server error. Returns what goes
   * to the client, in order, with runs of untouched messages left as one view of
   * the chunk (no copy).
   */
  push(chunk: Buffer, onFrame: (tag: number, frame: Buffer) => void): Buffer[] {
    const out: Buffer[] = [];
    // A run of untouched messages, contiguous in memory: [runStart, runEnd) of runBase.
    let runBase: ArrayBufferLike | undefined;
    let runStart = 0;
    let runEnd = 0;
    const framer = this.framer;
    framer.load(chunk);
    for (let raw = framer.next(); raw !== undefined; raw = framer.next()) {
      const tag = raw[0]!;
      const head = this.pending[0];
      let frame = this.maskers ? this.mask(tag, raw, head, this.maskers) : raw;
      if (head?.kind === 'describe' && head.swallow && (tag === TAG.RowDescription || tag === TAG.NoData)) {
        // The gateway's own Describe: the recorder learns the columns, the client sees nothing of it.
        onFrame(tag, frame);
        if (runBase && runEnd > runStart) out.push(viewOf(chunk, runBase, runStart, runEnd));
        runBase = undefined;
        this.settle(tag);
        continue;
      }
      let refused = false;
      if (head?.kind === 'refuse') {
        if (tag === TAG.Error) {
          frame = head.bytes;
          refused = true;
        } else if (tag === TAG.ParseComplete || (head.simple && !ASYNC_TAGS.has(tag))) {
          throw new Error('the target accepted a statement the gateway refused');
        }
      }
      if (!refused) onFrame(tag, frame);
      if (frame === raw && runBase === raw.buffer && raw.byteOffset === runEnd) {
        runEnd += raw.length;
      } else {
        if (runBase && runEnd > runStart) out.push(viewOf(chunk, runBase, runStart, runEnd));
        runBase = undefined;
        if (frame === raw) {
          runBase = raw.buffer;
          runStart = raw.byteOffset;
          runEnd = raw.byteOffset + raw.length;
        } else {
          out.push(frame);
        }
      }
      this.settle(tag);
    }
    if (runBase && runEnd > runStart) out.push(viewOf(chunk, runBase, runStart, runEnd));
    return out;
  }

  /** One server message through the maskers; keeps each portal's columns as its Describe is answered. */
  private mask(tag: number, raw: Buffer, head: PendingReply | undefined, { rows, messages }: Maskers): Buffer {
    switch (tag) {
      case TAG.RowDescription: {
        const described = rows.columnsOf(raw);
        if (head?.kind !== 'describe') rows.use(described); // a simple query's result
        else if (head.portal) head.portal.columns = described; // a statement's description has no final formats: not kept
        return raw;
      }
      case TAG.NoData:
        if (head?.kind === 'describe' && head.portal) head.portal.columns = null;
        return raw;
      case TAG.DataRow:
        if (head?.kind === 'execute' && head !== this.rowsFor) {
          const columns = head.portal?.columns;
          // Never masked with another result's columns: the gateway described every portal it executes.
          if (!columns) throw new Error('rows arrived for a portal whose row description the gateway has not seen');
          rows.use(columns);
          this.rowsFor = head;
        }
        return rows.mask(raw);
      case TAG.CopyOut: case TAG.CopyBoth:
        messages.copyStarted(raw);
        return raw;
      case TAG.CopyData: return messages.maskCopyData(raw);
      case TAG.Error: case TAG.Notice: return messages.maskNotice(raw);
      case TAG.Notification: return messages.maskNotification(raw);
      case TAG.ParameterStatus: return messages.maskParameterStatus(raw);
      default: return raw;
    }
  }

  private settle(tag: number): void {
    const head = this.pending[0]?.kind;
    switch (tag) {
      case TAG.ParseComplete: if (head === 'parse') this.pending.shift(); break;
      case TAG.BindComplete: if (head === 'bind') this.pending.shift(); break;
      case TAG.CloseComplete: if (head === 'close') this.pending.shift(); break;
      case TAG.NoData: case TAG.RowDescription: if (head === 'describe') this.pending.shift(); break;
      case TAG.CommandComplete: case TAG.EmptyQuery: case TAG.PortalSuspended:
        if (head === 'execute') this.pending.shift();
        break;
      case TAG.Error:
        if (head === 'refuse' && (this.pending[0] as { simple: boolean }).simple) {
          this.pending.shift(); // a simple Query's stand-in: its ReadyForQuery follows
        } else if (head !== 'query') {
          // Extended protocol: the server skips everything up to the next Sync,
          // a refused statement's stand-in too (the batch has already failed).
          while (this.pending.length && this.pending[0]!.kind !== 'sync') this.pending.shift();
        }
        break;
      case TAG.Ready:
        // A refusal still waiting here was skipped by a server already failing the batch: nothing ran.
        while (this.pending[0]?.kind === 'refuse') this.pending.shift();
        if (this.pending[0]?.kind === 'query' || this.pending[0]?.kind === 'sync') this.pending.shift();
        break;
      default:
        break;
    }
  }
}

/** A view of [start, end) of `base`: the chunk itself when that is all of it (as a whole chunk of whole messages mostly is). */
function viewOf(chunk: Buffer, base: ArrayBufferLike, start: number, end: number): Buffer {
  if (chunk.buffer === base && chunk.byteOffset === start && chunk.byteOffset + chunk.length === end) return chunk;
  return Buffer.from(base, start, end - start);
}
