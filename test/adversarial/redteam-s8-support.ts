// Red team (session 8) helpers: a raw PostgreSQL wire client that can write its
// bytes in any cut (one byte per write, one segment for many messages), stop
// reading while it sends, and leave mid-message; and the evidence readers
// (recording text of every session file, decoded backend messages).
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import pg from 'pg';
import { eventually, type TestGateway } from '../helpers/gateway.js';
import type { PgServer } from '../helpers/postgres.js';
import { fe, type BeMessage } from './pg/wire-client.js';

export { fe, type BeMessage };

/** A frame of `type` with `body` and the length field `length` (the true one unless given: a lying length). */
export function rawFrame(type: string, body: Buffer, length = body.length + 4): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(length, 1);
  return Buffer.concat([head, body]);
}

export class RawPg {
  readonly received: Buffer[] = [];
  readonly messages: BeMessage[] = [];
  closed = false;
  private pending = Buffer.alloc(0);

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.received.push(d);
      this.pending = Buffer.concat([this.pending, d]);
      while (this.pending.length >= 5) {
        const len = this.pending.readInt32BE(1);
        if (this.pending.length < len + 1) break;
        this.messages.push({ type: String.fromCharCode(this.pending[0]!), body: Buffer.from(this.pending.subarray(5, len + 1)) });
        this.pending = this.pending.subarray(len + 1);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => { this.closed = true; });
  }

  /** Connected and authenticated through the gateway (ReadyForQuery seen), as `application_name` = `app`. */
  static async open(gw: TestGateway, app: string, params: Record<string, string> = {}, withPassword?: Buffer, ready = true): Promise<RawPg> {
    const { host, port, password } = gw.conn();
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(port, host, () => resolve(s));
      s.once('error', reject);
    });
    const c = new RawPg(socket);
    socket.write(fe.startup({ user: 'agent', database: 'db', application_name: app, ...params }));
    await eventually(() => c.messages.some((m) => m.type === 'R' || m.type === 'E') || undefined, 15_000);
    // `withPassword`: messages written in the same write as the password, before the gateway has admitted the session.
    await new Promise<void>((resolve) => socket.write(withPassword ? Buffer.concat([fe.password(password), withPassword]) : fe.password(password), () => resolve()));
    if (ready) await c.readies(1);
    return c;
  }

  /** Like open, but `afterPassword` goes in its own write right after the password's, while the gateway admits the session. */
  static async openThen(gw: TestGateway, app: string, afterPassword: Buffer): Promise<RawPg> {
    const c = await RawPg.open(gw, app, {}, Buffer.alloc(0), false);
    await c.write(afterPassword);
    await c.readies(1);
    return c;
  }

  readyCount(): number {
    return this.messages.filter((m) => m.type === 'Z').length;
  }

  /** Waits for `n` ReadyForQuery in all (or the connection's end). */
  async readies(n: number, timeoutMs = 60_000): Promise<void> {
    await eventually(() => (this.readyCount() >= n || this.closed ? true : undefined), timeoutMs);
  }

  /** Writes `bytes` one byte per write, each after the previous one left the socket (so most reach the gateway alone). */
  async writeBytewise(bytes: Buffer): Promise<void> {
    for (let i = 0; i < bytes.length; i++) {
      await new Promise<void>((resolve) => this.socket.write(bytes.subarray(i, i + 1), () => resolve()));
      await new Promise((r) => setImmediate(r));
    }
  }

  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve) => this.socket.write(bytes, () => resolve()));
  }

  bytes(): Buffer {
    return Buffer.concat(this.received);
  }

  /** Error messages (M fields) received so far. */
  errors(): string[] {
    return this.messages.filter((m) => m.type === 'E').map((m) => {
      const fields = m.body.toString('utf8').split('\0');
      return fields.find((f) => f.startsWith('M'))?.slice(1) ?? '';
    });
  }

  async end(): Promise<void> {
    if (this.closed) return;
    this.socket.write(fe.terminate());
    this.socket.end();
    await eventually(() => this.closed || undefined, 10_000).catch(() => this.socket.destroy());
  }
}

/** The raw text of every session recording file of the gateway whose start names `app`, once sealed. */
export async function recordingText(gw: TestGateway, app: string): Promise<string> {
  return eventually(async () => {
    const texts: string[] = [];
    for (const f of await gw.sessionFiles()) {
      const text = await readFile(f, 'utf8');
      if (!text.includes(`"application_name":"${app}"`)) continue;
      if (!/"type":"seal"/.test(text)) return undefined;
      texts.push(text);
    }
    return texts.length ? texts.join('\n') : undefined;
  }, 20_000);
}

/** The SQL texts of the pg.query events of a recording text, in order. */
export function recordedSql(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('"type":"pg.query"')) continue;
    const sql = (JSON.parse(line) as { data?: { sql?: string } }).data?.sql;
    if (sql !== undefined) out.push(sql);
  }
  return out;
}

/** What PostgreSQL holds and ran, read directly (not through the gateway). */
export class TargetProbe {
  constructor(private readonly db: PgServer) {}

  async rows<T>(sql: string): Promise<T[]> {
    const c = new pg.Client(this.db.app);
    await c.connect();
    try {
      return (await c.query(sql)).rows as T[];
    } finally {
      await c.end();
    }
  }

  /** A fresh victim table: a DROP of it that ran shows in its absence. */
  async victim(name: string): Promise<string> {
    await this.rows(`CREATE TABLE ${name} (id int)`);
    return name;
  }

  async tableExists(name: string): Promise<boolean> {
    return (await this.rows<{ e: boolean }>(`SELECT to_regclass('${name}') IS NOT NULL AS e`))[0]!.e;
  }

  async marks(): Promise<string[]> {
    return (await this.rows<{ label: string }>('SELECT label FROM marks')).map((r) => r.label);
  }

  /** The statements of PostgreSQL's log (log_statement=all) that match. */
  async logged(re: RegExp): Promise<string[]> {
    return (await this.db.loggedStatements()).filter((s) => re.test(s));
  }
}
