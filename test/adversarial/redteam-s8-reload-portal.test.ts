// Red team (session 8), hole E's other cache: a portal's columns are kept (Portal.columns) from the Describe
// the server answered, so a portal described and partly read before a SIGHUP reload that adds a column rule,
// and read on after it, must have its columns' rules read again: the gateway masks its later rows by the rules
// in force. The statement was judged before the reload, so no rewrite of the new rules applies to it: the row
// masker is all there is.
import { EventEmitter } from 'node:events';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { startReloadable } from './redteam-s8-reload.js';

const BEFORE = 'read-before-reload-QXJZ';
const AFTER = 'read-after-reload-QXJZ';
const CARD = { name: 'card', builtin: 'credit-card' }; // masking in force from the session's start

/** Minimal message types of node-postgres' Connection this reader uses (its extended-protocol calls). */
interface Wire {
  parse(q: { text: string }): void;
  bind(b: Record<string, never>): void;
  describe(d: { type: 'P'; name: string }): void;
  execute(e: { portal: string; rows: number }): void;
  flush(): void;
  sync(): void;
}

/**
 * Reads the unnamed portal of `sql` a row at a time without a Sync between (as a cursor does): the portal stays
 * open at the server, described once, between reads. A pg Submittable, so the client hands it the server's answers.
 */
class PortalReader extends EventEmitter {
  private wire: Wire | undefined;
  private batch: unknown[][] = [];
  private done: ((rows: unknown[][]) => void) | undefined;
  private failed: ((err: Error) => void) | undefined;
  private readonly ended = new Promise<void>((resolve) => this.once('ended', resolve));

  constructor(private readonly sql: string) {
    super();
  }

  submit(wire: Wire): void {
    this.wire = wire;
    wire.parse({ text: this.sql });
    wire.bind({});
    wire.describe({ type: 'P', name: '' });
  }

  /** The next row of the portal. */
  read(): Promise<unknown[][]> {
    return new Promise((resolve, reject) => {
      this.done = resolve;
      this.failed = reject;
      this.wire!.execute({ portal: '', rows: 1 });
      this.wire!.flush();
    });
  }

  async close(): Promise<void> {
    this.wire!.sync();
    await this.ended;
  }

  handleRowDescription(): void {}
  handleDataRow(msg: { fields: unknown[] }): void { this.batch.push(msg.fields); }
  handlePortalSuspended(): void { this.settle(); }
  handleCommandComplete(): void { this.settle(); }
  handleEmptyQuery(): void {}
  handleError(err: Error): void { this.failed?.(err); }
  handleReadyForQuery(): void { this.emit('ended'); }

  private settle(): void {
    const rows = this.batch;
    this.batch = [];
    this.done?.(rows);
  }
}

let db: PgServer;
beforeAll(async () => {
  db = await startPostgres();
}, 120_000);
afterAll(async () => {
  await db?.stop();
});

async function direct(sql: string): Promise<void> {
  const c = new pg.Client(db.app);
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

describe('a portal open across a reload (SIGHUP) that adds a column rule', () => {
  it('its rows read after the reload are masked by the rules in force, to the client and in the recording', async () => {
    await direct(`CREATE TABLE vault_portal (id int, secret_note text); INSERT INTO vault_portal VALUES (1, '${BEFORE}'), (2, '${AFTER}')`);
    const r = await startReloadable(db, { masking: [CARD] });
    try {
      const app = 's8-reload-portal';
      const live = await r.client(app);
      const reader = new PortalReader('SELECT id, secret_note FROM vault_portal ORDER BY id');
      void live.query(reader as unknown as pg.QueryConfig);
      expect(await reader.read()).toEqual([['1', BEFORE]]); // no rule yet: the value passes
      expect(await r.reloadWith({ masking: [CARD, { name: 'vault', column: 'secret_note' }] })).toBe(true);
      const after = await reader.read();
      await reader.close();
      await live.end();
      expect(after).toHaveLength(1);
      expect(after[0]![0]).toBe('2'); // the row itself came: masked, not refused
      expect(JSON.stringify(after)).not.toContain(AFTER);
      const recording = await r.recording(app);
      expect(recording).toContain(BEFORE); // guard: the recording holds the portal's rows
      expect(recording).not.toContain(AFTER);
    } finally {
      await r.gw.stop();
    }
  }, 60_000);
});
