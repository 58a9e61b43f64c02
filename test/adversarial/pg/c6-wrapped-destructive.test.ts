// Class 6: destructive or unbounded statements wrapped so that the top-level
// statement looks harmless: DO blocks, SQL and plpgsql functions and procedures,
// data-modifying CTEs, EXPLAIN ANALYZE, PREPARE/EXECUTE (SQL and protocol-level
// named statements), MERGE, CREATE RULE, triggers, CREATE TABLE AS, COPY of a
// DELETE … RETURNING, query_to_xml of a DELETE, constant-true WHERE clauses,
// ALTER TABLE … DROP COLUMN / RENAME / TYPE, DROP … CASCADE. Each case attacks its
// own victim table (id, name, note; 5 rows); the guardrails are examples/gateway.yml's,
// and a review nobody approves times out (denied) within a second.
import { afterAll, beforeAll } from 'vitest';
import { fe, Harness, startAdversarialPg, type AdversarialPg } from './support.js';

let env: AdversarialPg;
beforeAll(async () => { env = await startAdversarialPg(); });
afterAll(async () => { await env?.stop(); });
const h = new Harness('c6-wrapped-destructive', () => env);

/** `{v}` is the victim table, `{f}` a name unique to the case. */
const SCRIPTS: [string, string][] = [
  ['DO block with DROP TABLE', 'DO $$ BEGIN DROP TABLE {v}; END $$;'],
  ['DO block with EXECUTE of a built string', "DO $$ BEGIN EXECUTE 'DR' || 'OP TABLE ' || '{v}'; END $$;"],
  ['DO block with DELETE without WHERE', 'DO $$ BEGIN DELETE FROM {v}; END $$;'],
  ['DO block in another language spelling', "DO LANGUAGE plpgsql 'BEGIN TRUNCATE {v}; END';"],
  ['SQL function with DELETE, then called', 'CREATE FUNCTION {f}() RETURNS void LANGUAGE sql AS $$DELETE FROM {v}$$;\nSELECT {f}();'],
  ['SQL function with a BEGIN ATOMIC body', 'CREATE FUNCTION {f}() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM {v}; END;\nSELECT {f}();'],
  ['plpgsql function with dynamic DROP', "CREATE FUNCTION {f}() RETURNS void LANGUAGE plpgsql AS $$BEGIN EXECUTE format('DROP TABLE %I', '{v}'); END $$;\nSELECT {f}();"],
  ['procedure with TRUNCATE, then CALL', 'CREATE PROCEDURE {f}() LANGUAGE sql AS $$TRUNCATE {v}$$;\nCALL {f}();'],
  ['function called from a WHERE clause', "CREATE FUNCTION {f}() RETURNS boolean LANGUAGE plpgsql AS $$BEGIN DELETE FROM {v}; RETURN true; END $$;\nSELECT 1 FROM orders WHERE {f}() LIMIT 1;"],
  ['data-modifying CTE with DELETE', 'WITH d AS (DELETE FROM {v} RETURNING *) SELECT count(*) FROM d;'],
  ['data-modifying CTE with UPDATE', "WITH u AS (UPDATE {v} SET name = 'x' RETURNING 1) SELECT count(*) FROM u;"],
  ['data-modifying CTE nested in a CTE', 'WITH a AS (SELECT 1), d AS (DELETE FROM {v} RETURNING id) SELECT * FROM a, d;'],
  ['EXPLAIN ANALYZE DELETE', 'EXPLAIN ANALYZE DELETE FROM {v};'],
  ['EXPLAIN (ANALYZE, FORMAT JSON) UPDATE', "EXPLAIN (ANALYZE, FORMAT JSON) UPDATE {v} SET name = 'x';"],
  ['PREPARE of a DELETE, then EXECUTE', 'PREPARE {f} AS DELETE FROM {v};\nEXECUTE {f};'],
  ['PREPARE of a parameterised UPDATE without WHERE', "PREPARE {f}(text) AS UPDATE {v} SET name = $1;\nEXECUTE {f}('x');"],
  ['MERGE … ON true THEN UPDATE', "MERGE INTO {v} t USING (SELECT 1) s ON true WHEN MATCHED THEN UPDATE SET name = 'x';"],
  ['CREATE RULE that deletes on insert', 'CREATE TABLE {f} (x int);\nCREATE RULE {f}_r AS ON INSERT TO {f} DO ALSO DELETE FROM {v};\nINSERT INTO {f} VALUES (1);'],
  ['CREATE TRIGGER that truncates', "CREATE TABLE {f} (x int);\nCREATE FUNCTION {f}_t() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN TRUNCATE {v}; RETURN NEW; END $$;\nCREATE TRIGGER {f}_tr AFTER INSERT ON {f} FOR EACH ROW EXECUTE FUNCTION {f}_t();\nINSERT INTO {f} VALUES (1);"],
  ['CREATE TABLE AS over a data-modifying function', 'CREATE FUNCTION {f}() RETURNS int LANGUAGE sql AS $$DELETE FROM {v} RETURNING 1$$;\nCREATE TABLE {f}_t AS SELECT {f}();'],
  ['CREATE TABLE AS EXECUTE of a prepared DELETE', 'PREPARE {f} AS DELETE FROM {v} RETURNING *;\nCREATE TABLE {f}_t AS EXECUTE {f};'],
  ['COPY (DELETE … RETURNING) TO STDOUT', 'COPY (DELETE FROM {v} RETURNING *) TO STDOUT;'],
  ['query_to_xml of a DELETE', "SELECT query_to_xml('DELETE FROM {v} RETURNING id', true, false, '');"],
  ['DELETE … WHERE true', 'DELETE FROM {v} WHERE true;'],
  ['DELETE … WHERE 1=1', 'DELETE FROM {v} WHERE 1=1;'],
  ['UPDATE … WHERE NOT false', "UPDATE {v} SET name = 'x' WHERE NOT false;"],
  ["UPDATE … WHERE 'a' = 'a' OR id = 1", "UPDATE {v} SET name = 'x' WHERE 'a' = 'a' OR id = 1;"],
  ['DELETE … WHERE (SELECT true)', 'DELETE FROM {v} WHERE (SELECT true);'],
  ['DELETE … WHERE true AND true inside a transaction', 'BEGIN;\nDELETE FROM {v} WHERE true AND true;\nCOMMIT;'],
  ['DELETE … USING without WHERE', 'DELETE FROM {v} USING orders;'],
  // A join against the target's own rows matches every row: the source reads the target's table or row.
  ['MERGE … USING a subquery of the same table ON t.id = s.id THEN DELETE', 'MERGE INTO {v} t USING (SELECT id FROM {v}) s ON t.id = s.id WHEN MATCHED THEN DELETE;'],
  ['DELETE … USING a subquery of the same table', 'DELETE FROM {v} USING (SELECT id FROM {v}) s WHERE {v}.id = s.id;'],
  ['UPDATE … FROM a WITH query of the same table', "WITH s AS (SELECT id FROM {v}) UPDATE {v} SET name = 'x' FROM s WHERE {v}.id = s.id;"],
  ['DELETE … USING a WITH query over a WITH query of the same table', 'WITH a AS (SELECT id FROM {v}), b AS (SELECT id FROM a) DELETE FROM {v} USING b WHERE {v}.id = b.id;'],
  ['DELETE … USING LATERAL (SELECT t.id)', 'DELETE FROM {v} t USING LATERAL (SELECT t.id) s WHERE t.id = s.id;'],
  ['MERGE … USING a WITH query of the same table THEN UPDATE', "WITH s AS (SELECT * FROM public.{v}) MERGE INTO {v} t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET name = 'x';"],
  ['ALTER TABLE … DROP COLUMN', 'ALTER TABLE {v} DROP COLUMN note;'],
  ['ALTER TABLE … RENAME', 'ALTER TABLE {v} RENAME TO {f}_old;'],
  ['ALTER TABLE … ALTER COLUMN TYPE … USING (data destroyed)', "ALTER TABLE {v} ALTER COLUMN name TYPE int USING 0;"],
  ['ALTER TABLE … RENAME COLUMN', 'ALTER TABLE {v} RENAME COLUMN name TO gone;'],
  ['DROP … CASCADE through a view', 'CREATE VIEW {f} AS SELECT * FROM {v};\nDROP TABLE {v} CASCADE;'],
  ['DROP SCHEMA public CASCADE', 'DROP SCHEMA public CASCADE;'],
  ['multi-statement string ending in TRUNCATE', 'SELECT 1; TRUNCATE {v};'],
];

/** Bounded in form, unbounded in effect: a join or self-comparison is a predicate, as DELETE … USING … WHERE t.id = s.id is. */
const BEYOND: [string, string][] = [
  ['DELETE … WHERE id = id (true for every row, not constant)', 'DELETE FROM {v} WHERE id = id;'],
];
for (const [name, script] of BEYOND) {
  h.case(name, async (c) => {
    await c.psql(script.replaceAll('{v}', c.victims[0]!), { stdin: true });
  }, { victims: 1, beyond: 'a predicate that is not constant counts as a WHERE; only constant-true predicates are claimed' });
}

for (const [name, script] of SCRIPTS) {
  h.case(name, async (c) => {
    const f = `f_${c.id.replace('-', '_')}`;
    await c.psql(script.replaceAll('{v}', c.victims[0]!).replaceAll('{f}', f), { stdin: !script.startsWith('SELECT 1;') });
  }, { victims: 1 });
}

h.case('protocol-level named statement DELETE, then SQL EXECUTE of that name', async (c) => {
  const w = await c.wire();
  await w.roundTrip(fe.parse('wipe', `DELETE FROM ${c.victims[0]}`), fe.sync());
  await w.roundTrip(fe.query('EXECUTE wipe'));
}, { victims: 1 });
h.case('protocol-level named statement, Parse and Execute in separate syncs', async (c) => {
  const w = await c.wire();
  await w.roundTrip(fe.parse('wipe', `UPDATE ${c.victims[0]} SET name = 'x'`), fe.describe('S', 'wipe'), fe.sync());
  await w.roundTrip(fe.bind('', 'wipe'), fe.execute(''), fe.sync());
}, { victims: 1 });
h.case('SQL PREPARE, then protocol-level Bind/Execute of the same name', async (c) => {
  const w = await c.wire();
  await w.roundTrip(fe.query(`PREPARE wipe AS DELETE FROM ${c.victims[0]}`));
  await w.roundTrip(fe.bind('', 'wipe'), fe.execute(''), fe.sync());
}, { victims: 1 });
h.case('pipelined: a harmless Parse, then the same name re-parsed destructive, in one write', async (c) => {
  const w = await c.wire();
  await w.roundTrip(fe.parse('', 'SELECT 1'), fe.bind('', ''), fe.execute(''), fe.sync(),
    fe.parse('', `DELETE FROM ${c.victims[0]}`), fe.bind('', ''), fe.execute(''), fe.sync());
}, { victims: 1 });
h.case('the customers and orders tables are intact', async (c) => {
  const d = await env.direct();
  try {
    const r = (await d.query('SELECT (SELECT count(*) FROM customers)::int AS c, (SELECT count(*) FROM orders)::int AS o')).rows[0] as { c: number; o: number };
    c.expect(r.c === 5 && r.o === 12, `customers ${r.c} rows, orders ${r.o} rows`);
  } finally {
    await d.end();
  }
});
