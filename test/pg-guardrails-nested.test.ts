/**
 * Guardrails judge what PostgreSQL will run, against real PostgreSQL through the
 * gateway: destructive statements wrapped anywhere, dynamic SQL, constant-true
 * WHERE clauses, destructive DDL and client-encoding changes. Each case checks
 * the client got the refusal naming the rule, the recording has the
 * policy.block or approval.requested event with that rule, and PostgreSQL never
 * received the text (its statement log) and kept its data and schema.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType, type RecordingEvent } from '../common/recording/index.js';
import { eventually, readEvents, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startPostgres, type PgServer } from './helpers/postgres.js';

let db: PgServer;
let gw: TestGateway;
let bare: TestGateway; // no rules at all: the built-in encoding rule still holds

const identities = [
  { name: 'agent', kind: 'machine', targets: ['db'] },
  { name: 'alice', kind: 'human', targets: ['db'], approver: true },
];
const policies = {
  identities,
  guardrails: [
    { name: 'no-drop', sql: { statements: ['DropStmt', 'TruncateStmt'] }, action: 'block' },
    { name: 'destructive-ddl', sql: { operations: ['drop-column', 'alter-column-type', 'rename', 'set-schema', 'detach-partition', 'cascade'] }, action: 'block' },
    { name: 'unbounded-write', sql: { statements: ['DeleteStmt', 'UpdateStmt', 'MergeStmt'], withoutWhere: true }, action: 'review' },
  ],
  approvals: { timeout: '60s' },
};

const SCHEMA = `CREATE TABLE victims (id int PRIMARY KEY, email text, stale bool);
  INSERT INTO victims SELECT g, 'v' || g || '@example.com', g % 2 = 0 FROM generate_series(1, 5) g;
  CREATE TABLE other (uid int); INSERT INTO other VALUES (1), (2);
  CREATE TABLE parted (id int) PARTITION BY RANGE (id); CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100);
  CREATE SCHEMA archive;
  CREATE FUNCTION purge() RETURNS void LANGUAGE sql AS 'DELETE FROM victims';
  CREATE FUNCTION purge_rows() RETURNS SETOF int LANGUAGE sql AS 'DELETE FROM victims RETURNING id';
  CREATE PROCEDURE purge_proc() LANGUAGE sql AS 'DELETE FROM victims';`;

beforeAll(async () => {
  db = await startPostgres({ logStatements: true });
  const admin = new pg.Client(db.app);
  await admin.connect();
  await admin.query(SCHEMA);
  await admin.end();
  gw = await startTestGateway(db, policies);
  bare = await startTestGateway(db, { identities });
});
afterAll(async () => {
  await gw?.stop();
  await bare?.stop();
  await db?.stop();
});

let sessions = 0;

/** Runs one simple Query through the gateway; denies any approval it asks for. Returns the client's error and the session's events. */
async function attempt(sql: string, via = gw): Promise<{ error: string | undefined; events: RecordingEvent[] }> {
  const app = `nested-${++sessions}`;
  const client = new pg.Client({ ...via.conn(), application_name: app });
  await client.connect();
  let settled = false;
  const result = client.query(sql).then(() => undefined, (err: Error) => err.message).finally(() => { settled = true; });
  while (!settled) {
    const pending = await fetch(`${via.gateway.admin.url}/approvals`, { headers: { authorization: `Bearer ${via.token('alice')}` } })
      .then((r) => r.json() as Promise<{ id: string }[]>);
    for (const p of pending) {
      await fetch(`${via.gateway.admin.url}/approvals/${p.id}/deny`, {
        method: 'POST', headers: { authorization: `Bearer ${via.token('alice')}`, 'content-type': 'application/json' }, body: '{"reason":"test"}',
      });
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const error = await result;
  await client.end();
  const events = await eventually(async () => {
    for (const f of await via.sessionFiles()) {
      const ev = await readEvents(f);
      if ((ev[0]?.data.params as Record<string, string> | undefined)?.application_name === app && ev.at(-1)?.type === EventType.Seal) return ev;
    }
    return undefined;
  });
  return { error, events };
}

/** The refusal reached the client, the recording names the rule, PostgreSQL never got the text. */
async function expectRefused(sql: string, rule: string, via = gw): Promise<void> {
  const { error, events } = await attempt(sql, via);
  expect(error, sql).toMatch(new RegExp(`rule ${rule}`));
  const recorded = events.filter((e) => e.type === EventType.PolicyBlock || e.type === EventType.ApprovalRequested).map((e) => e.data.rule);
  expect(recorded, sql).toContain(rule);
  expect((await db.loggedStatements()).some((s) => s.includes(sql)), `${sql} reached PostgreSQL`).toBe(false);
}

async function state(): Promise<string> {
  const admin = new pg.Client(db.app);
  await admin.connect();
  const rows = await admin.query(`SELECT (SELECT count(*) FROM victims WHERE email LIKE '%@example.com')::text AS n,
    (SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'victims') AS cols,
    (SELECT string_agg(n.nspname || '.' || c.relname, ',' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relname IN ('victims', 'other', 'parted', 'parted_1', 'v2', 'copy_t')) AS rels,
    (SELECT count(*) FROM pg_inherits)::text AS partitions, (SELECT count(*) FROM pg_rules WHERE tablename = 'other')::text AS rules,
    (SELECT count(*) FROM pg_proc WHERE proname LIKE 'wipe%')::text AS wipes`);
  await admin.end();
  return JSON.stringify(rows.rows[0]);
}

let before: string;
beforeAll(async () => { before = await state(); });

describe('destructive statements wrapped anywhere are judged as if top level', () => {
  it.each([
    ['WITH d AS (DELETE FROM victims RETURNING 1) SELECT count(*) FROM d', 'unbounded-write'],
    ['EXPLAIN ANALYZE DELETE FROM victims', 'unbounded-write'],
    ['EXPLAIN (ANALYZE, FORMAT JSON) UPDATE victims SET email = NULL', 'unbounded-write'],
    ['PREPARE wipe_p AS DELETE FROM victims', 'unbounded-write'],
    ['CREATE RULE wipe_r AS ON INSERT TO other DO ALSO DELETE FROM victims', 'unbounded-write'],
    ['MERGE INTO victims v USING other o ON true WHEN MATCHED THEN DELETE', 'unbounded-write'],
    ['CREATE TABLE copy_t AS WITH d AS (DELETE FROM victims RETURNING *) SELECT * FROM d', 'unbounded-write'],
    ['COPY (DELETE FROM victims RETURNING id) TO STDOUT', 'unbounded-write'],
    ['CREATE FUNCTION wipe_f() RETURNS void LANGUAGE sql AS $$TRUNCATE victims$$', 'no-drop'],
    ['CREATE FUNCTION wipe_a() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM victims; END', 'unbounded-write'],
    ['CREATE FUNCTION wipe_pl() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN DELETE FROM victims; RETURN NEW; END$$', 'unbounded-write'],
    ['DO $$BEGIN DROP TABLE victims; END$$', 'no-drop'],
    ["DO $$BEGIN EXECUTE 'TRUNCATE victims'; END$$", 'no-drop'],
    ['SELECT 1; DO $$BEGIN IF true THEN DELETE FROM victims; END IF; END$$', 'unbounded-write'],
  ])('%s → %s', async (sql, rule) => {
    await expectRefused(sql, rule);
  });

  it('EXECUTE of a name prepared by a protocol Parse is judged as that statement', async () => {
    const client = new pg.Client({ ...gw.conn(), application_name: 'nested-parse' });
    await client.connect();
    const held = client.query({ name: 'wipe_proto', text: 'DELETE FROM victims' });
    const pending = await eventually(async () => (await fetch(`${gw.gateway.admin.url}/approvals`, {
      headers: { authorization: `Bearer ${gw.token('alice')}` } }).then((r) => r.json() as Promise<{ id: string; rule: string }[]>))[0]);
    expect(pending.rule).toBe('unbounded-write');
    await fetch(`${gw.gateway.admin.url}/approvals/${pending.id}/deny`, { method: 'POST', headers: { authorization: `Bearer ${gw.token('alice')}` }, body: '{}' });
    await expect(held).rejects.toThrow(/rule unbounded-write/);
    await client.end();
  });
});

describe('dynamic SQL the gateway cannot see is held for review (the default under data-changing rules)', () => {
  it.each([
    "DO $$BEGIN EXECUTE 'DELETE FROM ' || 'victims'; END$$",
    "DO $$DECLARE t text := 'victims'; BEGIN EXECUTE format('DELETE FROM %I', t); END$$",
    'SELECT purge()',
    'SELECT * FROM purge_rows()',
    'CALL purge_proc()',
    "SELECT query_to_xml('DELETE FROM victims RETURNING 1', true, true, '')",
    'EXECUTE never_prepared',
  ])('%s → sql-dynamic', async (sql) => {
    await expectRefused(sql, 'sql-dynamic');
  });
});

describe('a WHERE that does not restrict rows counts as none', () => {
  it.each([
    'DELETE FROM victims WHERE true', 'DELETE FROM victims WHERE 1 = 1', "UPDATE victims SET email = 'x' WHERE 'a' = 'a'",
    'DELETE FROM victims WHERE id = id', 'UPDATE victims SET stale = true WHERE email IS NOT NULL OR true',
    'DELETE FROM victims WHERE NOT false', 'DELETE FROM victims WHERE EXISTS (SELECT 1)', "DELETE FROM victims WHERE email LIKE '%'",
  ])('%s → unbounded-write', async (sql) => {
    await expectRefused(sql, 'unbounded-write');
  });

  it('a restricting WHERE runs', async () => {
    expect((await attempt('DELETE FROM victims WHERE id = 999')).error).toBeUndefined();
  });
});

describe('destructive DDL is refused by operation', () => {
  it.each([
    ['ALTER TABLE victims DROP COLUMN stale', 'destructive-ddl'],
    ['ALTER TABLE victims ALTER COLUMN email TYPE int USING 0', 'destructive-ddl'],
    ['ALTER TABLE victims RENAME TO v2', 'destructive-ddl'],
    ['ALTER TABLE victims RENAME COLUMN email TO e', 'destructive-ddl'],
    ['ALTER TABLE victims SET SCHEMA archive', 'destructive-ddl'],
    ['ALTER TABLE parted DETACH PARTITION parted_1', 'destructive-ddl'],
    ['DO $$BEGIN ALTER TABLE victims DROP COLUMN email; END$$', 'destructive-ddl'],
  ])('%s → %s', async (sql, rule) => {
    await expectRefused(sql, rule);
  });
});

describe('the client encoding cannot change under the gateway (built-in rule, with or without configured rules)', () => {
  it.each([
    "SET client_encoding TO 'LATIN1'", "SET NAMES 'SJIS'", 'RESET client_encoding', "SET SESSION client_encoding = 'EUC_JP'",
    "SELECT set_config('client_encoding', 'SJIS', false)", "DO $$BEGIN SET client_encoding = 'LATIN1'; END$$",
  ])('%s → client-encoding', async (sql) => {
    await expectRefused(sql, 'client-encoding');
    await expectRefused(sql, 'client-encoding', bare);
  });

  it('SET standard_conforming_strings = off → standard-conforming-strings', async () => {
    await expectRefused('SET standard_conforming_strings = off', 'standard-conforming-strings', bare);
  });

  it('the session still decodes in UTF8 afterwards', async () => {
    const client = new pg.Client(bare.conn());
    await client.connect();
    await expect(client.query("SET client_encoding TO 'LATIN1'")).rejects.toThrow(/client-encoding/);
    expect((await client.query('SHOW client_encoding')).rows).toEqual([{ client_encoding: 'UTF8' }]);
    await client.end();
  });
});

describe('PostgreSQL kept its data and schema', () => {
  it('rows, columns, relations, partitions, rules and functions are as seeded', async () => {
    expect(await state()).toBe(before);
    expect(JSON.parse(before)).toMatchObject({ n: '5', cols: 'id:integer,email:text,stale:boolean', partitions: '1', rules: '0', wipes: '0' });
  });
});
