import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EventType } from '../../common/recording/index.js';
import { eventually, readEvents, startTestGateway, type TestGateway } from '../../test/helpers/gateway.js';
import { startPostgres, type PgServer } from '../../test/helpers/postgres.js';

// The session reads its client through client-reader.ts, which keeps reading a paused client (a statement held for
// approval pauses it) so that a client leaving meanwhile ends the session; a socket that simply stopped reading would
// not notice, and the held statement would wait for the approver and run for a client that is gone.

let db: PgServer;
let gw: TestGateway;

beforeAll(async () => {
  db = await startPostgres({ logStatements: true });
  const admin = new pg.Client(db.app);
  await admin.connect();
  await admin.query('CREATE TABLE scratch (id int); INSERT INTO scratch SELECT generate_series(1, 7)');
  await admin.end();
  gw = await startTestGateway(db, {
    identities: [{ name: 'agent', kind: 'machine', targets: ['db'] }, { name: 'alice', kind: 'human', targets: ['db'], approver: true }],
    guardrails: [{ name: 'unbounded-write', sql: { statements: ['DeleteStmt'], withoutWhere: true }, action: 'review' }],
    approvals: { timeout: '300s' }, // far beyond the test's waits: only the client leaving can end this hold
  });
});
afterAll(async () => {
  await gw?.stop();
  await db?.stop();
});

it('ends the session when a client leaves while its statement is held, and the statement never runs', async () => {
  const client = new pg.Client({ ...gw.conn('agent'), application_name: 'leaves-while-held' });
  await client.connect();
  client.on('error', () => undefined);
  const held = client.query('DELETE FROM scratch').catch(() => undefined);
  const file = await eventually(async () => {
    for (const f of await gw.sessionFiles()) {
      const events = await readEvents(f);
      if ((events[0]?.data.params as Record<string, string>)?.application_name === 'leaves-while-held'
        && events.some((e) => e.type === EventType.ApprovalRequested)) return f;
    }
    return undefined;
  }, 30_000);
  (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
  await held;
  const events = await eventually(async () => {
    const all = await readEvents(file);
    return all.at(-1)?.type === EventType.Seal ? all : undefined;
  }, 30_000);
  const end = events.find((e) => e.type === EventType.SessionEnd);
  expect(end?.data.cause).toBe('client-quit');
  expect((await db.loggedStatements()).some((s) => s.includes('DELETE FROM scratch'))).toBe(false);
});
