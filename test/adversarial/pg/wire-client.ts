// A PostgreSQL client built from raw frontend messages, for what libraries never
// send: Parse/Bind/Execute without Describe, a Describe of another statement,
// binary result formats, pipelines of many Syncs in one write, startup
// parameters such as client_encoding, SQL bytes in any encoding. Every byte the
// gateway sends back is kept, for the leak checks.
import { connect, type Socket } from 'node:net';

const cstr = (s: string | Buffer) => Buffer.concat([typeof s === 'string' ? Buffer.from(s) : s, Buffer.from([0])]);
const int16 = (n: number) => Buffer.from([(n >> 8) & 255, n & 255]);
const int32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };

function frame(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(type), int32(body.length + 4), body]);
}

/** Frontend messages; SQL may be a Buffer already encoded in the session's client encoding. */
export const fe = {
  startup(params: Record<string, string>): Buffer {
    const body = Buffer.concat([int32(196608), ...Object.entries(params).flatMap(([k, v]) => [cstr(k), cstr(v)]), Buffer.from([0])]);
    return Buffer.concat([int32(body.length + 4), body]);
  },
  password: (p: string) => frame('p', cstr(p)),
  query: (sql: string | Buffer) => frame('Q', cstr(sql)),
  parse: (name: string, sql: string | Buffer, types: number[] = []) => frame('P', Buffer.concat([cstr(name), cstr(sql), int16(types.length), ...types.map(int32)])),
  /** Text parameters; `resultFormat` 0 text, 1 binary (one code for all columns). */
  bind(portal: string, statement: string, params: (string | null)[] = [], resultFormat = 0): Buffer {
    const values = params.map((p) => (p === null ? int32(-1) : Buffer.concat([int32(Buffer.byteLength(p)), Buffer.from(p)])));
    return frame('B', Buffer.concat([cstr(portal), cstr(statement), int16(0), int16(params.length), ...values, int16(1), int16(resultFormat)]));
  },
  describe: (kind: 'S' | 'P', name: string) => frame('D', Buffer.concat([Buffer.from(kind), cstr(name)])),
  execute: (portal: string, maxRows = 0) => frame('E', Buffer.concat([cstr(portal), int32(maxRows)])),
  close: (kind: 'S' | 'P', name: string) => frame('C', Buffer.concat([Buffer.from(kind), cstr(name)])),
  sync: () => frame('S', Buffer.alloc(0)),
  flush: () => frame('H', Buffer.alloc(0)),
  terminate: () => frame('X', Buffer.alloc(0)),
};

export interface BeMessage { type: string; body: Buffer }

/** Fields of an ErrorResponse or NoticeResponse, by code letter. */
export function noticeFields(m: BeMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < m.body.length && m.body[i] !== 0;) {
    const code = String.fromCharCode(m.body[i]!);
    const end = m.body.indexOf(0, i + 1);
    out[code] = m.body.subarray(i + 1, end).toString('utf8');
    i = end + 1;
  }
  return out;
}

/** RowDescription columns: name, table OID, attribute number, type OID, format. */
export function rowDescription(m: BeMessage): { name: string; tableOid: number; attnum: number; typeOid: number; format: number }[] {
  const n = m.body.readInt16BE(0);
  const cols = [];
  let at = 2;
  for (let i = 0; i < n; i++) {
    const end = m.body.indexOf(0, at);
    const name = m.body.subarray(at, end).toString('utf8');
    at = end + 1;
    cols.push({ name, tableOid: m.body.readUInt32BE(at), attnum: m.body.readInt16BE(at + 4), typeOid: m.body.readUInt32BE(at + 6), format: m.body.readInt16BE(at + 16) });
    at += 18;
  }
  return cols;
}

/** DataRow values (null for SQL NULL). */
export function dataRow(m: BeMessage): (Buffer | null)[] {
  const n = m.body.readInt16BE(0);
  const out: (Buffer | null)[] = [];
  let at = 2;
  for (let i = 0; i < n; i++) {
    const len = m.body.readInt32BE(at);
    at += 4;
    out.push(len < 0 ? null : m.body.subarray(at, at + len));
    if (len > 0) at += len;
  }
  return out;
}

export class WireClient {
  /** Every byte received, in order. */
  readonly received: Buffer[] = [];
  readonly messages: BeMessage[] = [];
  /** BackendKeyData: the process id and secret the client was told. */
  backendKey: { pid: number; secret: Buffer } | undefined;
  readonly parameters = new Map<string, string>();
  closed = false;
  private pending = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.received.push(d);
      this.pending = Buffer.concat([this.pending, d]);
      while (this.pending.length >= 5) {
        const len = this.pending.readInt32BE(1);
        if (this.pending.length < len + 1) break;
        const m = { type: String.fromCharCode(this.pending[0]!), body: this.pending.subarray(5, len + 1) };
        this.pending = this.pending.subarray(len + 1);
        this.messages.push(m);
        if (m.type === 'K') this.backendKey = { pid: m.body.readInt32BE(0), secret: Buffer.from(m.body.subarray(4)) };
        if (m.type === 'S') {
          const [k, v] = m.body.toString('latin1').split('\0');
          this.parameters.set(k!, v!);
        }
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => { this.closed = true; this.wake(); });
  }

  /** Opens a socket without sending anything. */
  static open(host: string, port: number): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, host, () => resolve(new WireClient(s)));
      s.once('error', reject);
    });
  }

  /** Startup with `params` (user, database, application_name, client_encoding, options …) and the token as password. */
  static async connect(host: string, port: number, params: Record<string, string>, password: string): Promise<WireClient> {
    const c = await WireClient.open(host, port);
    c.send(fe.startup(params));
    await c.until((m) => m.type === 'R' || m.type === 'E');
    const auth = c.messages.find((m) => m.type === 'R');
    if (auth && auth.body.readInt32BE(0) === 3) c.send(fe.password(password));
    await c.readyCount(1);
    return c;
  }

  send(...msgs: Buffer[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(msgs));
  }

  /** All bytes received so far, as one buffer (the client's view, for leak checks). */
  bytes(): Buffer {
    return Buffer.concat(this.received);
  }

  /** Resolves once `pred` holds for some message received from index `from` on, or the connection closed. */
  async until(pred: (m: BeMessage) => boolean, from = 0, timeoutMs = 20_000): Promise<BeMessage | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.messages.slice(from).find(pred);
      if (hit || this.closed) return hit;
      if (Date.now() > deadline) throw new Error(`no answer from the gateway within ${timeoutMs} ms; got ${this.messages.slice(from).map((m) => m.type).join('')}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  /** Waits until `n` ReadyForQuery messages arrived in total (or the connection closed); returns the messages since `from`. */
  async readyCount(n: number, from = 0, timeoutMs = 30_000): Promise<BeMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.filter((m) => m.type === 'Z').length < n && !this.closed) {
      if (Date.now() > deadline) throw new Error(`expected ${n} ReadyForQuery within ${timeoutMs} ms; got ${this.messages.map((m) => m.type).join('')}`);
      await this.until((m) => m.type === 'Z', this.messages.length, Math.max(1, deadline - Date.now())).catch(() => undefined);
    }
    return this.messages.slice(from);
  }

  /** Sends messages ending in one Sync and returns the answers up to its ReadyForQuery. */
  async roundTrip(...msgs: Buffer[]): Promise<BeMessage[]> {
    const from = this.messages.length;
    const before = this.messages.filter((m) => m.type === 'Z').length;
    const syncs = msgs.filter((m) => m[0] === 0x53 /* S */ || m[0] === 0x51 /* Q */).length;
    this.send(...msgs);
    return this.readyCount(before + syncs, from);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.send(fe.terminate());
    this.socket.end();
    await this.until(() => false, 0, 10_000).catch(() => this.socket.destroy());
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** Text of a batch of answers for reports: message types with error texts. */
export function summarize(msgs: BeMessage[]): string {
  return msgs.map((m) => (m.type === 'E' || m.type === 'N' ? `${m.type}(${noticeFields(m).M ?? ''})` : m.type)).join(' ');
}
