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
const REFUSED = /^refused: hopscope: rows arrived for a portal described before the policies were reloaded/;

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
  // Through a trusted function the columns come from no table: the bare-name rule read again masks the row. From a
  // table, the rules by provenance are not known until the session next judges a statement: the rows are refused.
  it.each([
    ['a bare-name rule, through a trusted function', 'vault_portal_f', 'secret_note', true, /^\[\["2","\[masked/],
    ['a bare-name rule', 'vault_portal', 'secret_note', false, REFUSED],
    ['a table column rule', 'vault_portal_t', 'vault_portal_t.secret_note', false, REFUSED],
  ])('%s: its rows read after the reload are masked or refused, never sent, nor recorded', async (_, table, column, viaFunction, want) => {
    await direct(`CREATE TABLE ${table} (id int, secret_note text); INSERT INTO ${table} VALUES (1, '${BEFORE}'), (2, '${AFTER}')`);
    if (viaFunction) await direct(`CREATE FUNCTION ${table}_f() RETURNS TABLE (id int, secret_note text) LANGUAGE sql AS 'SELECT id, secret_note FROM ${table} ORDER BY id'`);
    const sqlPolicy = viaFunction ? { sql: { trustedFunctions: [`${table}_f`] } } : {};
    const r = await startReloadable(db, { masking: [CARD], ...sqlPolicy });
    try {
      const app = `s8-reload-portal-${table}`;
      const live = await r.client(app);
      const reader = new PortalReader(viaFunction ? `SELECT id, secret_note FROM ${table}_f()` : `SELECT id, secret_note FROM ${table} ORDER BY id`);
      void live.query(reader as unknown as pg.QueryConfig);
      expect(await reader.read()).toEqual([['1', BEFORE]]); // no rule yet: the value passes
      expect(await r.reloadWith({ masking: [CARD, { name: 'vault', column }], ...sqlPolicy })).toBe(true);
      const after = await reader.read().then((rows) => JSON.stringify(rows), (err: Error) => `refused: ${err.message}`);
      if (!after.startsWith('refused')) await reader.close();
      await live.end().catch(() => undefined);
      expect(after).toMatch(want);
      expect(after).not.toContain(AFTER);
      const recording = await r.recording(app);
      expect(recording).toContain(BEFORE); // guard: the recording holds the portal's rows
      expect(recording).not.toContain(AFTER);
    } finally {
      await r.gw.stop();
    }
  }, 60_000);
});
