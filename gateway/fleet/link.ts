import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { Logger } from '../log.js';
import { migrate } from './schema.js';

/** The channels gateways notify each other on; the payload is a row id (never a secret). */
export const CHANNELS = ['hopscope_revocation', 'hopscope_approval', 'hopscope_key'] as const;
export type Channel = (typeof CHANNELS)[number];

/**
 * `up`: the control plane answers and this gateway has caught up with it (it may admit);
 * `down`: it does not answer (new sessions are refused unless the config allows local-only admission);
 * `catching-up`: it answers again and the gateway is re-reading what it missed (still not admitting).
 */
export type LinkState = 'up' | 'down' | 'catching-up';

export interface LinkEvents {
  /** A notification from a peer (or this gateway) on one of CHANNELS. */
  notify: [channel: Channel, payload: string];
  /** The connection came back: the member re-reads and re-publishes, then calls `caughtUp()`. */
  reconnected: [];
  state: [LinkState];
}

/**
 * The connection to the control-plane database: a small pool for queries and
 * one dedicated connection that LISTENs. Losing the listening connection (or a
 * query failing on a broken connection) puts the link `down` and starts a
 * reconnect loop; nothing here throws at a caller that is not waiting on a query.
 */
export class ControlPlaneLink extends EventEmitter<LinkEvents> {
  private pool: pg.Pool;
  private listener: pg.Client | undefined;
  private current: LinkState = 'down';
  private reconnecting: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly connectionString: string, private readonly logger: Logger, private readonly retryMs = 500) {
    super();
    this.pool = this.newPool();
  }

  get state(): LinkState {
    return this.current;
  }

  /** Connects, applies the schema's migrations and LISTENs; throws when the control plane cannot be reached now. */
  async open(): Promise<number[]> {
    const client = await this.pool.connect();
    let applied: number[];
    try {
      applied = await migrate(client);
    } finally {
      client.release();
    }
    await this.listen();
    return applied;
  }

  /** A query on the pool; a failure of the connection itself also puts the link down. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, values);
    } catch (err) {
      if (isConnectionError(err)) this.lost(err as Error);
      throw err;
    }
  }

  /** Runs `body` in one transaction on one connection. */
  async transaction<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      this.lost(err as Error);
      throw err;
    }
    try {
      await client.query('BEGIN');
      const out = await body(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (isConnectionError(err)) this.lost(err as Error);
      throw err;
    } finally {
      client.release();
    }
  }

  notify(channel: Channel, payload: string): Promise<unknown> {
    return this.query('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  /** The member has re-read what it missed after a reconnect: admission may resume. */
  caughtUp(): void {
    if (this.current === 'catching-up') this.setState('up');
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnecting);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }

  private newPool(): pg.Pool {
    const pool = new pg.Pool({
      connectionString: this.connectionString, max: 4, connectionTimeoutMillis: 2000, query_timeout: 5000, keepAlive: true,
      idleTimeoutMillis: 30_000, application_name: 'hopscope-gateway',
    });
    // An idle pooled connection that breaks is not an error anyone waits on: the link notices it.
    pool.on('error', (err) => this.lost(err));
    return pool;
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.connectionString, connectionTimeoutMillis: 2000, keepAlive: true, keepAliveInitialDelayMillis: 5000,
      application_name: 'hopscope-gateway-listen',
    });
    client.on('error', (err) => this.lost(err));
    client.on('end', () => {
      if (this.listener === client) this.lost(new Error('the listening connection ended'));
    });
    client.on('notification', (n) => {
      if ((CHANNELS as readonly string[]).includes(n.channel)) this.emit('notify', n.channel as Channel, n.payload ?? '');
    });
    await client.connect();
    for (const channel of CHANNELS) await client.query(`LISTEN ${channel}`);
    this.listener = client;
  }

  private setState(state: LinkState): void {
    if (state === this.current) return;
    this.current = state;
    this.emit('state', state);
  }

  /** Marks the link down (once) and retries until the control plane answers again. */
  private lost(err: Error): void {
    if (this.closed || this.current === 'down' && this.reconnecting) return;
    this.logger.error({ detail: err.message }, 'control plane unreachable: existing sessions continue, new sessions are refused');
    this.setState('down');
    const old = this.listener;
    this.listener = undefined;
    old?.removeAllListeners('end');
    void old?.end().catch(() => undefined);
    const retry = () => {
      this.reconnecting = setTimeout(() => {
        void this.listen().then(() => {
          this.reconnecting = undefined;
          this.logger.info('control plane reachable again: catching up before admitting');
          this.setState('catching-up');
          this.emit('reconnected');
        }, () => {
          if (!this.closed) retry();
        });
      }, this.retryMs);
      this.reconnecting.unref();
    };
    retry();
  }

  /** Called by the member once its first read after open() succeeded. */
  markUp(): void {
    this.setState('up');
  }
}

/** Errors of the connection itself (refused, reset, timed out, server shutting down), not of a statement. */
function isConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e.code && /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|57P01|57P02|57P03|08\w{3})$/.test(e.code)) return true;
  return /Connection terminated|connection timeout|timeout exceeded|Query read timeout|Client has encountered a connection error|not queryable/i.test(e.message ?? '');
}
