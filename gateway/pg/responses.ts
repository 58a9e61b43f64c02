import { readRowDescription, BackendFramer } from './frames.js';
import type { RowMasker } from './masking.js';

/** What the client sent that the server will answer, in order; or an answer the gateway gives itself. */
export type PendingReply =
  | { kind: 'query' | 'parse' | 'bind' | 'describe' | 'execute' | 'close' | 'sync' }
  | { kind: 'inject'; bytes: Buffer };

const TAG = { DataRow: 0x44, RowDescription: 0x54, NoData: 0x6e, CommandComplete: 0x43, EmptyQuery: 0x49,
  PortalSuspended: 0x73, Error: 0x45, Ready: 0x5a, ParseComplete: 0x31, BindComplete: 0x32, CloseComplete: 0x33,
  CopyData: 0x64, Notice: 0x4e } as const;

/**
 * Orders the server's answers and the gateway's own (a blocked or denied
 * statement's error) exactly as the client's requests were sent, and masks
 * result rows on the way. Output is always whole messages, so an answer of the
 * gateway can go between any two of the server's.
 */
export class ResponseStream {
  private readonly framer = new BackendFramer();
  private readonly pending: PendingReply[] = [];

  constructor(private readonly masker: RowMasker | undefined) {}

  expect(kind: Exclude<PendingReply['kind'], 'inject'>): void {
    this.pending.push({ kind });
  }

  /** An answer of the gateway's own; returns it at once if nothing is outstanding before it. */
  inject(bytes: Buffer): Buffer | undefined {
    if (this.pending.length === 0) return bytes;
    this.pending.push({ kind: 'inject', bytes });
    return undefined;
  }

  get idle(): boolean {
    return this.pending.length === 0;
  }

  /** Frames a chunk from the server; returns what goes to the client (server messages and injected answers) and what the recorder should see. */
  push(chunk: Buffer): { toClient: Buffer[]; fromServer: Buffer[] } {
    const toClient: Buffer[] = [];
    const fromServer: Buffer[] = [];
    this.framer.push(chunk, (tag, raw) => {
      let frame = raw;
      if (this.masker) {
        if (tag === TAG.RowDescription) this.masker.describe(readRowDescription(raw));
        else if (tag === TAG.DataRow) frame = this.masker.mask(raw);
        else if (tag === TAG.CopyData) frame = this.masker.maskCopyData(raw);
        else if (tag === TAG.Error || tag === TAG.Notice) frame = this.masker.maskNotice(raw);
      }
      toClient.push(frame);
      fromServer.push(frame);
      this.settle(tag);
      this.drainInjected(toClient);
    });
    return { toClient, fromServer };
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
        if (head !== 'query') {
          // Extended protocol: the server skips everything up to the next Sync.
          while (this.pending.length && this.pending[0]!.kind !== 'sync' && this.pending[0]!.kind !== 'inject') this.pending.shift();
        }
        break;
      case TAG.Ready:
        if (head === 'query' || head === 'sync') this.pending.shift();
        break;
      default:
        break;
    }
  }

  private drainInjected(out: Buffer[]): void {
    while (this.pending[0]?.kind === 'inject') out.push((this.pending.shift() as { bytes: Buffer }).bytes);
  }
}
