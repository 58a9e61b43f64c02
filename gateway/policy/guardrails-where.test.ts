import { beforeAll, describe, expect, it } from 'vitest';
import { loadSqlParser, SqlGuards } from './guardrails.js';
import { compileGuardrails } from './rules.js';

const ctx = { identity: 'agent', target: 'db' };
const guards = new SqlGuards(compileGuardrails([
  { name: 'unbounded-write', sql: { statements: ['DeleteStmt', 'UpdateStmt', 'MergeStmt'], withoutWhere: true }, action: 'review' },
], 't'), { trustedFunctions: [] });
const judge = (sql: string) => guards.judgeText(ctx, sql);

beforeAll(() => loadSqlParser());

/** Predicates that hold for every row (or say nothing about the target row): no predicate that restricts rows. */
const UNRESTRICTED = [
  'true', '1=1', "'a'='a'", 'NOT false', 'id = 1 OR true', 'true OR id = 1', 'id = id', 't.id = t.id', 'id >= id',
  'col IS NOT NULL OR true', '(1=1)::bool', "'t'::boolean", 'CAST(1 = 1 AS boolean)', '((true))', 'NOT (NOT true)',
  'EXISTS (SELECT 1)', 'EXISTS (SELECT 1 FROM other)', 'NOT EXISTS (SELECT 1 WHERE false)', 'id IS NOT NULL',
  'NOT (id IS NULL)', 'id IS DISTINCT FROM NULL', "email LIKE '%'", "email ILIKE '%%'", 'NOT (id = 1 AND false)',
  '$1', '$1 = $1', 'now() > now() - interval \'1 day\'', 'random() < 2', 'id IN (id, 1)', 'id = ANY(ARRAY[id])',
  'id = id + 0', 'coalesce(id, 0) = coalesce(id, 0)', '(id = 1) IS NOT FALSE OR true', 'id = 1 OR id <> 1 OR true',
  'CASE WHEN id = 1 THEN true ELSE true END', 'coalesce(id = 1, true) OR true', 'true AND true', "'x' IN ('x', 'y')",
  'id IN (SELECT id FROM t)', 'EXISTS (SELECT 1 FROM t t2 WHERE t2.id = 5)', 'id IN (SELECT uid FROM orders)',
];

/** Predicates that restrict rows by the definition in guardrails/where.ts. */
const RESTRICTED = [
  'id = 1', 'id = $1', 't.id = 1', '1 = id', 'id IN (1, 2)', 'id BETWEEN 1 AND 5', "email LIKE 'a%'", 'id IS NULL',
  'NOT (id IS NOT NULL)', 'id = 1 AND true', 'true AND id = 1', 'id = 1 OR id = 2', 'NOT (id = 1)', 'id <> 1',
  'stale', 'NOT stale', 'stale IS TRUE', "lower(email) = 'a@b.c'", "created < now() - interval '30 days'",
  'EXISTS (SELECT 1 FROM orders o WHERE o.uid = t.id)', 'id IN (SELECT o.uid FROM orders o)', 'id = ANY($1)',
  '(id, email) = (1, $2)', 'id IS NOT DISTINCT FROM NULL', 'NOT (id = 1 OR true) OR id = 2',
];

describe('withoutWhere: constant-true predicates count as none', () => {
  const statements = [
    (w: string) => `DELETE FROM t WHERE ${w}`,
    (w: string) => `UPDATE t SET a = 1 WHERE ${w}`,
    (w: string) => `WITH d AS (DELETE FROM t WHERE ${w} RETURNING 1) SELECT * FROM d`,
    (w: string) => `DO $$BEGIN UPDATE t SET a = 2 WHERE ${w}; END$$`,
  ];
  const unrestricted = UNRESTRICTED.flatMap((w) => statements.map((s) => [w, s(w)] as const));
  it.each(unrestricted)('%s does not restrict: %s', (_w, sql) => {
    expect(judge(sql)).toMatchObject({ action: 'review', rule: 'unbounded-write' });
  });

  const restricted = RESTRICTED.flatMap((w) => statements.map((s) => [w, s(w)] as const));
  it.each(restricted)('%s restricts: %s', (_w, sql) => {
    expect(judge(sql)).toEqual({ action: 'allow' });
  });

  it.each([
    ['DELETE FROM t USING u WHERE u.x = 1', 'review'], // says nothing about t's row
    ['DELETE FROM t USING u WHERE t.uid = u.id', 'allow'],
    ['DELETE FROM t USING t AS s WHERE t.id = s.id', 'review'], // the same table: every row matches itself
    // A source that reads the target's table or row lists every row of it, however it is wrapped.
    ['DELETE FROM t USING (SELECT id FROM t) s WHERE t.id = s.id', 'review'],
    ['DELETE FROM t USING (SELECT id FROM u JOIN public.t ON true) s WHERE t.id = s.id', 'review'],
    ['UPDATE t SET a = 1 FROM (SELECT id FROM t) s WHERE t.id = s.id', 'review'],
    ['WITH s AS (SELECT id FROM t) DELETE FROM t USING s WHERE t.id = s.id', 'review'],
    ['WITH a AS (SELECT id FROM t), b AS (SELECT id FROM a) DELETE FROM t USING b WHERE t.id = b.id', 'review'],
    ['WITH RECURSIVE s(id) AS (SELECT id FROM t UNION SELECT id FROM s) DELETE FROM t USING s WHERE t.id = s.id', 'review'],
    ['WITH s AS (SELECT id FROM t), d AS (DELETE FROM t USING s WHERE t.id = s.id RETURNING 1) SELECT * FROM d', 'review'],
    ['DELETE FROM t USING LATERAL (SELECT t.id) s WHERE t.id = s.id', 'review'],
    ['DELETE FROM t USING u JOIN (SELECT id FROM t) x ON true WHERE t.id = x.id', 'review'],
    ['DELETE FROM t WHERE EXISTS (SELECT 1 FROM (SELECT id FROM t) s WHERE s.id = t.id)', 'review'],
    ['MERGE INTO t USING (SELECT id FROM t) s ON t.id = s.id WHEN MATCHED THEN DELETE', 'review'],
    ['WITH s AS (SELECT id FROM t) MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE', 'review'],
    // Sources over other tables, or constants, still bound the target by a join.
    ['DELETE FROM t USING (SELECT uid FROM orders WHERE paid) s WHERE t.id = s.uid', 'allow'],
    ['WITH s AS (SELECT uid FROM orders) DELETE FROM t USING s WHERE t.id = s.uid', 'allow'],
    ['DELETE FROM t USING (VALUES (1), (2)) v(id) WHERE t.id = v.id', 'allow'],
    ['MERGE INTO t USING (SELECT uid AS id FROM orders) s ON t.id = s.id WHEN MATCHED THEN DELETE', 'allow'],
    ['DELETE FROM t USING u WHERE x = 1', 'review'], // x may be u's
    ['UPDATE t SET a = 1 FROM u WHERE t.id = u.tid', 'allow'],
    ['UPDATE t SET a = 1 WHERE CURRENT OF c', 'allow'],
    ['DELETE FROM t AS x WHERE x.id = 4', 'allow'],
    ['CREATE FUNCTION f(n int) RETURNS void LANGUAGE sql AS $$DELETE FROM t WHERE id = n$$', 'allow'],
    ['CREATE FUNCTION f(n int) RETURNS void LANGUAGE sql AS $$DELETE FROM t WHERE id = f.n$$', 'allow'],
    ['CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN DELETE FROM t WHERE id = OLD.id; RETURN OLD; END$$', 'allow'],
    ['CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN DELETE FROM t WHERE OLD.id = OLD.id; RETURN OLD; END$$', 'review'],
    ['DO $$DECLARE k int := 3; BEGIN DELETE FROM t WHERE id = k; END$$', 'allow'],
  ])('%s → %s', (sql, action) => {
    expect(judge(sql).action).toBe(action);
  });

  it('counts its cases', () => {
    expect(unrestricted.length + restricted.length).toBeGreaterThan(250);
  });
});
