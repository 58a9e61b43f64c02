/**
 * Follows an SFTP (v3) conversation for the recording without holding it up:
 * packets are framed from the relayed chunks (split anywhere), only their first
 * bytes are kept (paths, handles), payloads are counted and skipped, so memory
 * stays bounded whatever is transferred. Client requests name paths; server
 * HANDLE replies bind a handle to its path; READ/DATA and WRITE are summed per
 * handle and reported when it is closed.
 */
export interface SftpOp {
  op: string;
  path: string;
  /** rename/symlink: the second path. */
  to?: string;
  /** close: bytes read from and written to the file through the handle. */
  read?: number;
  written?: number;
}

const HEAD_LIMIT = 8192; // bytes of each packet kept for parsing; the rest is counted only

/** Frames `uint32 length | body` packets; calls back with up to HEAD_LIMIT bytes of each body and its full length. */
export class PacketFramer {
  private header = Buffer.alloc(0);
  private head: Buffer[] = [];
  private headLen = 0;
  private remaining = -1; // body bytes still to come; -1 while reading the length
  private total = 0;

  constructor(private readonly onPacket: (head: Buffer, length: number) => void) {}

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining < 0) {
        const take = Math.min(4 - this.header.length, chunk.length - at);
        this.header = Buffer.concat([this.header, chunk.subarray(at, at + take)]);
        at += take;
        if (this.header.length === 4) {
          this.total = this.remaining = this.header.readUInt32BE(0);
          this.header = Buffer.alloc(0);
          if (this.remaining === 0) this.emit();
        }
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - at);
      const keep = Math.min(take, HEAD_LIMIT - this.headLen);
      if (keep > 0) {
        this.head.push(Buffer.from(chunk.subarray(at, at + keep)));
        this.headLen += keep;
      }
      at += take;
      this.remaining -= take;
      if (this.remaining === 0) this.emit();
    }
  }

  private emit(): void {
    const head = Buffer.concat(this.head);
    this.head = [];
    this.headLen = 0;
    this.remaining = -1;
    this.onPacket(head, this.total);
  }
}

const REQUESTS: Record<number, string> = {
  3: 'open', 4: 'close', 7: 'lstat', 9: 'setstat', 11: 'opendir', 13: 'remove', 14: 'mkdir', 15: 'rmdir',
  16: 'realpath', 17: 'stat', 18: 'rename', 19: 'readlink', 20: 'symlink',
};
const QUIET = new Set(['close', 'lstat', 'stat', 'realpath']); // too frequent to be worth an event of their own

/** Tracks one SFTP channel; `onOp` receives the operations worth recording. */
export class SftpTracker {
  readonly fromClient: PacketFramer;
  readonly fromServer: PacketFramer;
  private readonly pendingOpen = new Map<number, string>(); // request id → path
  private readonly openFlags = new Map<number, number>(); // OPEN request id → pflags
  private readonly pendingClose = new Map<number, string>(); // CLOSE request id → path of a file opened for writing
  private readonly pendingRead = new Map<number, string>(); // request id → handle
  private readonly handles = new Map<string, { path: string; read: number; written: number; dir: boolean; writes: boolean }>();

  /** `onWritten`: a file opened for writing was closed and the target said OK (an upload, to hash). */
  constructor(private readonly onOp: (op: SftpOp) => void, private readonly onWritten?: (path: string) => void) {
    this.fromClient = new PacketFramer((head, length) => this.request(head, length));
    this.fromServer = new PacketFramer((head, length) => this.reply(head, length));
  }

  private request(head: Buffer, length: number): void {
    const r = new Reader(head);
    const type = r.byte();
    if (type === undefined || type === 1) return; // INIT
    const id = r.u32();
    if (id === undefined) return;
    if (type === 5) { // READ handle offset len
      const handle = r.bytes();
      if (handle !== undefined) this.pendingRead.set(id, handle);
      return;
    }
    if (type === 6) { // WRITE handle offset data
      const handle = r.bytes();
      const file = handle === undefined ? undefined : this.handles.get(handle);
      if (file && handle !== undefined) file.written += Math.max(0, length - (1 + 4 + 4 + Buffer.byteLength(handle, 'latin1') + 8 + 4));
      return;
    }
    if (type === 4) { // CLOSE handle
      const handle = r.bytes();
      const file = handle === undefined ? undefined : this.handles.get(handle);
      if (!file || handle === undefined) return;
      this.handles.delete(handle);
      if (file.writes) this.pendingClose.set(id, file.path);
      if (!file.dir) this.onOp({ op: 'close', path: file.path, read: file.read, written: file.written });
      return;
    }
    const op = REQUESTS[type];
    if (!op) return;
    const path = r.string() ?? '';
    if (type === 3 || type === 11) this.pendingOpen.set(id, type === 11 ? `\0${path}` : path);
    if (QUIET.has(op)) return;
    if (type === 18 || type === 20) this.onOp({ op, path, to: r.string() ?? '' });
    else if (type === 3) {
      const pflags = r.u32();
      if (pflags !== undefined) this.openFlags.set(id, pflags);
      this.onOp({ op, path, ...openMode(pflags) });
    }
    else this.onOp({ op, path });
  }

  private reply(head: Buffer, length: number): void {
    const r = new Reader(head);
    const type = r.byte();
    const id = r.u32();
    if (type === undefined || id === undefined) return;
    const opened = this.pendingOpen.get(id);
    this.pendingOpen.delete(id);
    const reading = this.pendingRead.get(id);
    this.pendingRead.delete(id);
    const flags = this.openFlags.get(id) ?? 0;
    this.openFlags.delete(id);
    const closing = this.pendingClose.get(id);
    this.pendingClose.delete(id);
    if (type === 101 && closing !== undefined && r.u32() === 0) this.onWritten?.(closing);
    if (type === 102 && opened !== undefined) { // HANDLE
      const handle = r.bytes();
      const dir = opened.startsWith('\0');
      // WRITE, APPEND, CREAT or TRUNC: the file may be new or changed.
      if (handle !== undefined) this.handles.set(handle, { path: dir ? opened.slice(1) : opened, read: 0, written: 0, dir, writes: (flags & 0x1e) !== 0 });
    } else if (type === 103 && reading !== undefined) { // DATA
      const file = this.handles.get(reading);
      if (file) file.read += Math.max(0, length - 9);
    }
  }
}

function openMode(pflags: number | undefined): { mode?: string } {
  if (pflags === undefined) return {};
  const mode = [(pflags & 1) && 'read', (pflags & 2) && 'write', (pflags & 4) && 'append', (pflags & 8) && 'create', (pflags & 16) && 'truncate']
    .filter(Boolean).join(',');
  return { mode } as { mode?: string };
}

/** Bounds-checked reads over a packet head; undefined past its end. Strings as latin1 keep handles byte-exact. */
class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  byte(): number | undefined {
    return this.at < this.buf.length ? this.buf[this.at++] : undefined;
  }
  u32(): number | undefined {
    if (this.at + 4 > this.buf.length) return undefined;
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  bytes(): string | undefined {
    const n = this.u32();
    if (n === undefined || this.at + n > this.buf.length) return undefined;
    const s = this.buf.toString('latin1', this.at, this.at + n);
    this.at += n;
    return s;
  }
  string(): string | undefined {
    const raw = this.bytes();
    return raw === undefined ? undefined : Buffer.from(raw, 'latin1').toString('utf8');
  }
}
