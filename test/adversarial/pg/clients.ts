// Real clients through the gateway with everything they receive kept: psql (the
// real binary; stdout and stderr are what it shows), node-postgres on a socket
// whose every received byte is captured (rows, errors, notices, notifications,
// ParameterStatus), and the raw wire client.
import { Socket } from 'node:net';
import pg from 'pg';
import type { TestGateway } from '../../helpers/gateway.js';
import { libpqEnv, run, type Env, type RunResult } from '../../helpers/processes.js';
import { WireClient } from './wire-client.js';

export interface PsqlOptions {
  env?: Env;
  /** Extra psql arguments before `-c`. */
  args?: string[];
  /** Run the SQL from stdin (`-f -`) instead of `-c`: bytes in any encoding. */
  stdin?: boolean;
  timeoutMs?: number;
}

/** psql -X -A (unaligned), `ON_ERROR_STOP` off, so every statement of a script runs and shows its answer. */
export function psql(gw: TestGateway, appName: string, sql: string | Buffer, opts: PsqlOptions = {}): Promise<RunResult> {
  const env = { ...libpqEnv(gw.conn()), PGAPPNAME: appName, PGCONNECT_TIMEOUT: '20', ...opts.env };
  const args = ['-X', '-A', ...(opts.args ?? [])];
  if (opts.stdin || Buffer.isBuffer(sql)) return run('psql', [...args, '-f', '-'], { env, input: sql, timeoutMs: opts.timeoutMs ?? 30_000 });
  return run('psql', [...args, '-c', sql], { env, timeoutMs: opts.timeoutMs ?? 30_000 });
}

export interface QueryOutcome { rows?: unknown[]; fields?: string[]; error?: Error & Record<string, unknown> }

/** A node-postgres client whose socket keeps every byte the gateway sent it. */
export class CapturedPg {
  readonly received: Buffer[] = [];
  readonly notices: unknown[] = [];
  readonly notifications: pg.Notification[] = [];
  readonly errors: Error[] = [];
  readonly client: pg.Client;
  /** The socket node-postgres writes to and reads from. */
  socket: Socket | undefined;

  constructor(gw: TestGateway, appName: string, extra: Partial<pg.ClientConfig> = {}) {
    const received = this.received;
    const setSocket = (s: Socket) => { this.socket = s; };
    this.client = new pg.Client({
      ...gw.conn(), application_name: appName, ...extra,
      stream: () => {
        const s = new Socket();
        setSocket(s);
        s.on('data', (d: Buffer) => received.push(d));
        return s;
      },
    });
    this.client.on('notice', (n) => this.notices.push(n));
    this.client.on('notification', (n) => this.notifications.push(n));
    this.client.on('error', (e) => this.errors.push(e));
  }

  async connect(): Promise<void> {
    await this.client.connect();
  }

  /** Runs a query and returns its rows or its error, never throwing. */
  async q(query: string | pg.QueryConfig, values?: unknown[]): Promise<QueryOutcome> {
    try {
      const res = typeof query === 'string' ? await this.client.query(query, values) : await this.client.query(query);
      return { rows: res.rows, fields: res.fields?.map((f) => f.name) };
    } catch (error) {
      return { error: error as Error & Record<string, unknown> };
    }
  }

  bytes(): Buffer {
    return Buffer.concat(this.received);
  }

  async end(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

export async function wire(gw: TestGateway, appName: string, params: Record<string, string> = {}): Promise<WireClient> {
  const conn = gw.conn();
  return WireClient.connect(conn.host, conn.port, { user: conn.user, database: conn.database, application_name: appName, ...params }, conn.password);
}
