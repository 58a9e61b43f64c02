import { isUtf8 } from 'node:buffer';
import type { MaskCounts } from '../policy/types.js';
import type { TargetFiles } from './target-files.js';

/**
 * Masks files read over sftp (and scp, which OpenSSH 9 runs over sftp) with
 * the rules that mask exec output. A client's OPEN for reading is held while
 * the gateway reads the file itself (TargetFiles, at most LIMIT bytes), masks
 * it and decides: text is served masked from that buffer — READ is answered
 * by the gateway (the target's bytes never reach the client), FSTAT's size is
 * the masked size — and the OPEN goes on to the target for its handle. What
 * cannot be masked without corrupting it (not UTF-8 text, or over LIMIT) is
 * refused or served unmasked as `shell.downloads` says; `block` refuses all.
 * Packets are whole (see SftpFramer); requests stay in order.
 */
export type DownloadMode = 'mask' | 'block' | 'allow';
export type DownloadDecision =
  | { path: string; decision: 'masked'; bytes: number; masked: MaskCounts }
  | { path: string; decision: 'unmasked' | 'blocked'; reason: string };

/** The most the gateway holds of one file to mask it. */
export const DOWNLOAD_LIMIT = 16 * 1024 * 1024;

const FXP = { OPEN: 3, CLOSE: 4, READ: 5, FSTAT: 8, STATUS: 101, HANDLE: 102, DATA: 103, ATTRS: 105 } as const;
const FX_EOF = 1;
const FX_PERMISSION_DENIED = 3;
const READ_FLAG = 1;

export class SftpDownloads {
  private queue: Promise<void> = Promise.resolve();
  private readonly opening = new Map<number, Buffer>(); // OPEN request id → masked content
  private readonly served = new Map<string, Buffer>(); // handle (latin1) → masked content
  private readonly fstat = new Set<number>(); // FSTAT request ids on served handles

  constructor(
    private readonly files: TargetFiles,
    private readonly mode: DownloadMode,
    private readonly mask: (text: string) => { text: string; counts: MaskCounts },
    private readonly toServer: (packet: Buffer) => void,
    private readonly toClient: (packet: Buffer) => void,
    private readonly decided: (d: DownloadDecision) => void,
    private readonly limit = DOWNLOAD_LIMIT,
  ) {}

  /** A whole client packet (length included). */
  fromClient(packet: Buffer): void {
    this.queue = this.queue.then(() => this.request(packet)).catch(() => undefined);
  }

  /** A whole server packet: a HANDLE for a masked file is bound to its content, FSTAT sizes rewritten. */
  fromServer(packet: Buffer): void {
    const type = packet[4];
    const id = packet.length >= 9 ? packet.readUInt32BE(5) : -1;
    if (type === FXP.HANDLE && this.opening.has(id)) {
      const handle = readString(packet, 9);
      if (handle !== undefined) this.served.set(handle, this.opening.get(id)!);
      this.opening.delete(id);
    } else if (type === FXP.STATUS) {
      this.opening.delete(id);
    } else if (type === FXP.ATTRS && this.fstat.has(id)) {
      this.fstat.delete(id);
      const content = this.servedFor.get(id);
      this.servedFor.delete(id);
      if (content && packet.length >= 21 && (packet.readUInt32BE(9) & 1) !== 0) packet.writeBigUInt64BE(BigInt(content.length), 13);
    }
    this.toClient(packet);
  }

  private readonly servedFor = new Map<number, Buffer>();

  private async request(packet: Buffer): Promise<void> {
    const type = packet[4];
    const id = packet.length >= 9 ? packet.readUInt32BE(5) : -1;
    const handle = type === FXP.READ || type === FXP.FSTAT || type === FXP.CLOSE ? readString(packet, 9) : undefined;
    const content = handle === undefined ? undefined : this.served.get(handle);
    if (type === FXP.OPEN) {
      const path = readString(packet, 9);
      const flags = path === undefined ? undefined : packet.readUInt32BE(13 + Buffer.byteLength(path, 'latin1'));
      if (path !== undefined && flags !== undefined && (flags & READ_FLAG) !== 0) return this.open(id, Buffer.from(path, 'latin1').toString('utf8'), packet);
    } else if (type === FXP.READ && content && handle !== undefined) {
      const at = 9 + 4 + Buffer.byteLength(handle, 'latin1');
      const offset = Number(packet.readBigUInt64BE(at));
      const length = packet.readUInt32BE(at + 8);
      if (offset >= content.length) return this.toClient(status(id, FX_EOF, 'End of file'));
      return this.toClient(data(id, content.subarray(offset, Math.min(content.length, offset + length))));
    } else if (type === FXP.FSTAT && content) {
      this.fstat.add(id);
      this.servedFor.set(id, content);
    } else if (type === FXP.CLOSE && handle !== undefined) {
      this.served.delete(handle);
    }
    this.toServer(packet);
  }

  /** Reads and masks the file before the OPEN goes on; a refusal answers the OPEN itself. */
  private async open(id: number, path: string, packet: Buffer): Promise<void> {
    const refuse = (reason: string) => {
      this.decided({ path, decision: 'blocked', reason });
      this.toClient(status(id, FX_PERMISSION_DENIED, `hopscope: download refused: ${reason}`));
    };
    if (this.mode === 'block') return refuse('downloads are blocked while masking rules apply (shell.downloads: block)');
    let read: { data: Buffer } | { tooLarge: number };
    try {
      read = await this.files.read(path, this.limit);
    } catch {
      return this.toServer(packet); // the target answers (no such file, permission denied)
    }
    const unmaskable = 'tooLarge' in read
      ? `the file (${read.tooLarge} bytes) is larger than the ${this.limit} bytes the gateway masks`
      : !isUtf8(read.data) || read.data.includes(0) ? 'the file is not text and cannot be masked without corrupting it' : undefined;
    if (unmaskable) {
      if (this.mode !== 'allow') return refuse(`${unmaskable} (shell.downloads: mask)`);
      this.decided({ path, decision: 'unmasked', reason: `${unmaskable} (shell.downloads: allow)` });
      return this.toServer(packet);
    }
    const { text, counts } = maskInBlocks((read as { data: Buffer }).data.toString('utf8'), this.mask);
    const content = Buffer.from(text, 'utf8');
    this.decided({ path, decision: 'masked', bytes: content.length, masked: counts });
    this.opening.set(id, content);
    this.toServer(packet);
  }
}

/** Whole lines, up to this many characters at a time (a longer line in parts, as exec output is masked). */
const MASK_BLOCK = 8192;

/**
 * Masks text a block of whole lines at a time: pattern rules scan each block,
 * and some (the email recognizer) take time growing with the square of an
 * unbroken run's length, so a file is never handed over in one piece.
 */
export function maskInBlocks(text: string, mask: (text: string) => { text: string; counts: MaskCounts }): { text: string; counts: MaskCounts } {
  const out: string[] = [];
  const counts: MaskCounts = {};
  for (let at = 0; at < text.length;) {
    let end = Math.min(text.length, at + MASK_BLOCK);
    const nl = end < text.length ? text.lastIndexOf('\n', end - 1) : -1;
    if (nl >= at) end = nl + 1;
    const part = mask(text.slice(at, end));
    out.push(part.text);
    for (const [rule, n] of Object.entries(part.counts)) counts[rule] = (counts[rule] ?? 0) + n;
    at = end;
  }
  return { text: out.join(''), counts };
}

/** Frames whole `uint32 length | body` packets from a byte stream split anywhere. */
export class SftpFramer {
  private buffered: Buffer[] = [];
  private size = 0;

  constructor(private readonly onPacket: (packet: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.buffered.push(chunk);
    this.size += chunk.length;
    while (this.size >= 4) {
      const head = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered, this.size);
      const length = head.readUInt32BE(0) + 4;
      if (head.length < length) {
        this.buffered = [head];
        return;
      }
      this.onPacket(Buffer.from(head.subarray(0, length)));
      const rest = head.subarray(length);
      this.buffered = rest.length ? [rest] : [];
      this.size = rest.length;
    }
  }
}

function readString(packet: Buffer, at: number): string | undefined {
  if (packet.length < at + 4) return undefined;
  const n = packet.readUInt32BE(at);
  return packet.length < at + 4 + n ? undefined : packet.toString('latin1', at + 4, at + 4 + n);
}

function status(id: number, code: number, message: string): Buffer {
  const msg = Buffer.from(message, 'utf8');
  const body = Buffer.alloc(1 + 4 + 4 + 4 + msg.length + 4);
  body[0] = FXP.STATUS;
  body.writeUInt32BE(id, 1);
  body.writeUInt32BE(code, 5);
  body.writeUInt32BE(msg.length, 9);
  msg.copy(body, 13);
  body.writeUInt32BE(0, 13 + msg.length); // language tag
  return withLength(body);
}

function data(id: number, bytes: Buffer): Buffer {
  const head = Buffer.alloc(1 + 4 + 4);
  head[0] = FXP.DATA;
  head.writeUInt32BE(id, 1);
  head.writeUInt32BE(bytes.length, 5);
  return withLength(Buffer.concat([head, bytes]));
}

function withLength(body: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length, 0);
  return Buffer.concat([len, body]);
}
