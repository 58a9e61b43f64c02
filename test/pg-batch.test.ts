import { connect, type Socket } from 'node:net';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import { Parser } from 'pg-protocol/dist/parser.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EventType } from '../common/recording/index.js';
import { eventually, readEvents, startTestGateway, type TestGateway } from './helpers/gateway.js';
import type { PgConn } from './helpers/postgres.js';
import { startPostgres, type PgServer } from './helpers/postgres.js';

/**
 * Extended-protocol batches (Parse/Bind/Execute … Sync sent together) with a
 * statement the guardrails refuse: PostgreSQL's own semantics are that an error
 * aborts the batch's implicit transaction, so the statements before it in the
 * batch roll back, and inside an explicit transaction the transaction fails.
 */
let db: PgServer;
let gw: TestGateway;

const policies = {
  guardrails: [
    { name: 'no-drop', sql: { statements: ['DropStmt', 'TruncateStmt'] }, action: 'block' },
    { name: 'no-unbounded-delete', sql: { statements: ['DeleteStmt'], withoutWhere: true }, action: 'block' },
  ],
};

beforeAll(async () => {
  db = await startPostgres();
  await direct('CREATE TABLE batch_rows (tag text)');
  gw = await startTestGateway(db, policies);
});
beforeEach(async () => {
  await direct('DELETE FROM batch_rows');
});
afterAll(async () => {
  await gw?.stop();
  await db?.stop();
});

async function direct(sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client(db.app);
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

async function tags(): Promise<string[]> {
  return (await direct('SELECT tag FROM batch_rows ORDER BY tag')).rows.map((r: { tag: string }) => r.tag);
}

/** A bare protocol client: sends exactly the messages it is given, and reads the answers. */
class RawClient {
  private readonly received: BackendMessage[] = [];
  private wake: (() => void) | undefined;

  private constructor(private readonly socket: Socket) {
    const parser = new Parser();
    socket.on('data', (chunk: Buffer) => parser.parse(chunk, (msg) => {
      this.received.push(msg);
      this.wake?.();
    }));
  }

  static async connect(conn: PgConn): Promise<RawClient> {
    const socket = connect({ host: conn.host, port: conn.port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new RawClient(socket);
    socket.write(serialize.startup({ user: conn.user, database: conn.database }));
    await client.until((m) => m.name === 'authenticationCleartextPassword');
    socket.write(serialize.password(conn.password));
    await client.readyForQuery();
    return client;
  }

  send(...messages: Buffer[]): void {
    this.socket.write(Buffer.concat(messages));
  }

  /** Waits for a message matching `pred`; returns every message up to and including it (and consumes them). */
  async until(pred: (m: BackendMessage) => boolean, timeoutMs = 10_000): Promise<BackendMessage[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.received.findIndex(pred);
      if (at >= 0) return this.received.splice(0, at + 1);
      if (Date.now() > deadline) throw new Error(`timed out; received ${this.received.map((m) => m.name).join(', ')}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  }

  /** Messages up to the next ReadyForQuery, and its status byte. */
  async readyForQuery(): Promise<{ names: string[]; status: string; errors: string[] }> {
    const msgs = await this.until((m) => m.name === 'readyForQuery');
    return {
      names: msgs.map((m) => m.name),
      status: (msgs.at(-1) as unknown as { status: string }).status,
      errors: msgs.filter((m) => m.name === 'error').map((m) => (m as unknown as { message: string }).message),
    };
  }

  async end(): Promise<void> {
    this.socket.end(serialize.end());
    await new Promise((resolve) => this.socket.once('close', resolve));
  }
}

/** Parse (unnamed) + Bind + Execute of one statement, no Sync. */
const statement = (text: string): Buffer[] => [serialize.parse({ text }), serialize.bind({}), serialize.execute({})];
const insert = (tag: string) => statement(`INSERT INTO batch_rows VALUES ('${tag}')`);

describe('a refused statement in an extended-protocol batch', () => {
  it('rolls back the statements before it in the same batch (implicit transaction)', async () => {
    const client = await RawClient.connect(gw.conn());
    client.send(...insert('implicit-1'), ...statement('DROP TABLE batch_rows'), ...insert('implicit-2'), serialize.sync());
    const answer = await client.readyForQuery();
    expect(answer.names).toEqual(['parseComplete', 'bindComplete', 'commandComplete', 'error', 'readyForQuery']);
    expect(answer.errors).toEqual([expect.stringMatching(/^hopscope: blocked by rule no-drop/)]);
    expect(answer.status).toBe('I');
    // The session goes on as PostgreSQL's would.
    client.send(...insert('implicit-after'), serialize.sync());
    expect((await client.readyForQuery()).errors).toEqual([]);
    await client.end();
    expect(await tags()).toEqual(['implicit-after']);
    expect((await direct('SELECT count(*)::int AS n FROM batch_rows')).rows[0].n).toBe(1); // the table is still there
  });

  it('fails an explicit transaction begun earlier: its ReadyForQuery says E and COMMIT rolls back', async () => {
    const client = await RawClient.connect(gw.conn());
    client.send(serialize.query('BEGIN'));
    expect((await client.readyForQuery()).status).toBe('T');
    client.send(...insert('explicit-1'), serialize.sync());
    expect((await client.readyForQuery()).status).toBe('T');
    client.send(...insert('explicit-2'), ...statement('DELETE FROM batch_rows'), serialize.sync());
    const refused = await client.readyForQuery();
    expect(refused.errors).toEqual([expect.stringMatching(/blocked by rule no-unbounded-delete/)]);
    expect(refused.status).toBe('E');
    client.send(...insert('explicit-3'), serialize.sync());
    expect((await client.readyForQuery()).errors).toEqual([expect.stringMatching(/current transaction is aborted/)]);
    await expectCommitRollsBack(client);
    await client.end();
    expect(await tags()).toEqual([]);
  });

  it('aborts only its own segment of a pipeline with several Syncs', async () => {
    const client = await RawClient.connect(gw.conn());
    client.send(
      ...insert('pipe-1'), serialize.sync(),
      ...insert('pipe-2'), ...statement('TRUNCATE batch_rows'), serialize.sync(),
      ...insert('pipe-3'), serialize.sync(),
    );
    const first = await client.readyForQuery();
    const second = await client.readyForQuery();
    const third = await client.readyForQuery();
    expect([first.errors.length, second.errors.length, third.errors.length]).toEqual([0, 1, 0]);
    expect([first.status, second.status, third.status]).toEqual(['I', 'I', 'I']);
    await client.end();
    expect(await tags()).toEqual(['pipe-1', 'pipe-3']);
  });

  it('rolls back what a client already saw complete after a Flush, when a later Parse of the batch is refused', async () => {
    const client = await RawClient.connect(gw.conn('agent'));
    client.send(...insert('flushed'), serialize.flush());
    await client.until((m) => m.name === 'commandComplete'); // executed, not yet committed
    client.send(serialize.parse({ text: 'DROP TABLE batch_rows' }), serialize.flush());
    const refused = await client.until((m) => m.name === 'error');
    expect((refused.at(-1) as unknown as { message: string }).message).toMatch(/blocked by rule no-drop/);
    client.send(serialize.sync());
    expect((await client.readyForQuery()).status).toBe('I');
    await client.end();
    expect(await tags()).toEqual([]);
  });

  it('answers as PostgreSQL when the batch already failed on the server before the refused statement', async () => {
    const client = await RawClient.connect(gw.conn());
    client.send(...insert('failed-1'), ...statement('SELECT 1/0'), ...statement('DROP TABLE batch_rows'), serialize.sync());
    const answer = await client.readyForQuery();
    expect(answer.errors).toEqual(['division by zero']); // the server skipped the rest, the refused statement's stand-in too
    expect(answer.status).toBe('I');
    client.send(...insert('failed-after'), serialize.sync());
    expect((await client.readyForQuery()).errors).toEqual([]);
    await client.end();
    expect(await tags()).toEqual(['failed-after']);
  });

  it('fails an explicit transaction on a refused simple Query too, as PostgreSQL fails it on an error', async () => {
    const client = await RawClient.connect(gw.conn());
    client.send(serialize.query('BEGIN'), serialize.query("INSERT INTO batch_rows VALUES ('simple-1')"), serialize.query('DROP TABLE batch_rows'));
    expect((await client.readyForQuery()).status).toBe('T');
    expect((await client.readyForQuery()).status).toBe('T');
    const refused = await client.readyForQuery();
    expect(refused.names).toEqual(['error', 'readyForQuery']);
    expect(refused.errors).toEqual([expect.stringMatching(/^hopscope: blocked by rule no-drop/)]);
    expect(refused.status).toBe('E');
    await expectCommitRollsBack(client);
    await client.end();
    expect(await tags()).toEqual([]);
  });

  it('records the refused statement with its rule and reason', async () => {
    const client = await RawClient.connect(gw.conn());
    client.send(serialize.parse({ text: 'DROP TABLE batch_rows /* recorded */' }), serialize.sync());
    await client.readyForQuery();
    await client.end();
    const block = await eventually(async () => {
      for (const f of await gw.sessionFiles()) {
        const events = await readEvents(f);
        const parse = events.find((e) => e.type === EventType.PgParse && String(e.data.sql).includes('/* recorded */'));
        if (parse && events.at(-1)?.type === EventType.Seal) return events.find((e) => e.type === EventType.PolicyBlock && e.data.statement === parse.seq);
      }
      return undefined;
    });
    expect(block.data).toMatchObject({ rule: 'no-drop', reason: 'DropStmt', action: 'block' });
  });
});

/** A COMMIT in a failed transaction block answers ROLLBACK and leaves the session idle. */
async function expectCommitRollsBack(client: RawClient): Promise<void> {
  client.send(serialize.query('COMMIT'));
  const commit = await client.until((m) => m.name === 'commandComplete');
  expect((commit.at(-1) as unknown as { text: string }).text).toBe('ROLLBACK');
  expect((await client.readyForQuery()).status).toBe('I');
}
