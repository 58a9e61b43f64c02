import { beforeAll, describe, expect, it } from 'vitest';
import { buildSnapshot } from './catalog.js';
import { loadSqlParser, SqlGuards, type SqlGuardConfig } from './guardrails.js';
import { factsOf } from './guardrails/index.js';
import { compileGuardrails } from './rules.js';
import { parseSql } from './sql-policy.js';
import type { SqlVerdict } from './types.js';

const ctx = { identity: 'agent', target: 'db' };

const RULES = [
  { name: 'no-drop', sql: { statements: ['DropStmt', 'TruncateStmt'] }, action: 'block' },
  { name: 'destructive-ddl', sql: { operations: ['drop-column', 'alter-column-type', 'rename', 'set-schema', 'detach-partition', 'cascade'] }, action: 'block' },
  { name: 'unbounded-write', sql: { statements: ['DeleteStmt', 'UpdateStmt', 'MergeStmt'], withoutWhere: true }, action: 'review' },
];

function guardsOf(rules: unknown[] = RULES, config: SqlGuardConfig = { trustedFunctions: [] }): SqlGuards {
  return new SqlGuards(compileGuardrails(rules, 't'), config);
}

const catalog = buildSnapshot(1, {
  relations: [],
  functions: [
    { oid: 1, schema: 'public', name: 'wipe', extension: false },
    { oid: 2, schema: 'pg_catalog', name: 'lower', extension: false },
    { oid: 3, schema: 'public', name: 'lower', extension: false }, // an overload of a built-in's name
    { oid: 4, schema: 'util', name: 'safe_fmt', extension: false },
  ],
  operators: [{ schema: 'public', name: '===', functionSchema: 'public', functionName: 'wipe' }],
});

type Guard = ReturnType<SqlGuards['forSession']>;
function judge(guard: Guard, sql: string, opts: { refreshed?: boolean; prepareAs?: string; catalog?: boolean } = {}): SqlVerdict {
  const parsed = parseSql(sql);
  if (parsed.error !== undefined) throw new Error(`${sql}: ${parsed.error}`);
  return guard.judge(parsed, sql, opts.catalog === false ? undefined : catalog, opts.refreshed ?? true, opts.prepareAs);
}
const verdictOf = (sql: string, guards = guardsOf()) => judge(guards.forSession(ctx), sql);

beforeAll(() => loadSqlParser());

/** Destructive statements, the rule each must meet, and whether it is DML (can sit in a CTE, RULE, EXPLAIN, PREPARE). */
const DESTRUCTIVE: [string, string, boolean][] = [
  ['DELETE FROM t', 'unbounded-write', true],
  ['UPDATE t SET a = 1', 'unbounded-write', true],
  ['DELETE FROM t WHERE 1 = 1', 'unbounded-write', true],
  ['UPDATE t SET a = 1 WHERE true OR id = 3', 'unbounded-write', true],
  ['DROP TABLE t', 'no-drop', false],
  ['TRUNCATE t', 'no-drop', false],
  ['ALTER TABLE t DROP COLUMN email', 'destructive-ddl', false],
  ['ALTER TABLE t ALTER COLUMN id TYPE text', 'destructive-ddl', false],
  ['ALTER TABLE t RENAME TO t_old', 'destructive-ddl', false],
];

const q = (s: string) => s.replace(/'/g, "''");
/** Wrappers that run (or store to run) a statement; `dml`: only DML fits there. */
const WRAPPERS: [string, (s: string) => string, boolean][] = [
  ['top level', (s) => s, false],
  ['a second statement', (s) => `SELECT 1; ${s}`, false],
  ['a data-modifying CTE', (s) => `WITH d AS (${s} RETURNING 1) SELECT * FROM d`, true],
  ['a CTE two levels deep', (s) => `WITH a AS (SELECT 1), b AS (SELECT * FROM (WITH d AS (${s} RETURNING 1) SELECT 1) x) SELECT 1`, true],
  ['EXPLAIN ANALYZE', (s) => `EXPLAIN ANALYZE ${s}`, true],
  ['EXPLAIN (ANALYZE, FORMAT JSON)', (s) => `EXPLAIN (ANALYZE, FORMAT JSON) ${s}`, true],
  ['PREPARE', (s) => `PREPARE p AS ${s}`, true],
  ['CREATE RULE', (s) => `CREATE RULE r AS ON INSERT TO u DO ALSO ${s}`, true],
  ['COPY (query)', (s) => `COPY (${s} RETURNING 1) TO STDOUT`, true],
  ['CREATE TABLE AS', (s) => `CREATE TABLE x AS WITH d AS (${s} RETURNING 1) SELECT * FROM d`, true],
  ['DECLARE CURSOR', (s) => `DECLARE c CURSOR FOR WITH d AS (${s} RETURNING 1) SELECT * FROM d`, true],
  ['a SQL function (dollar-quoted)', (s) => `CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $b$${s}$b$`, false],
  ['a SQL function (quoted)', (s) => `CREATE OR REPLACE FUNCTION f() RETURNS void AS '${q(s)}' LANGUAGE sql`, false],
  ['a SQL function (BEGIN ATOMIC)', (s) => `CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC ${s}; END`, true],
  ['a SQL procedure', (s) => `CREATE PROCEDURE pr() LANGUAGE sql AS $$ ${s} $$`, false],
  ['a PL/pgSQL function', (s) => `CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $b$BEGIN ${s}; END$b$`, false],
  ['a PL/pgSQL trigger function', (s) => `CREATE FUNCTION tf() RETURNS trigger LANGUAGE plpgsql AS $b$BEGIN ${s}; RETURN NEW; END$b$`, false],
  ['a PL/pgSQL IF branch', (s) => `CREATE FUNCTION f(n int) RETURNS void LANGUAGE plpgsql AS $b$BEGIN IF n > 0 THEN ${s}; END IF; END$b$`, false],
  ['a DO block', (s) => `DO $b$BEGIN ${s}; END$b$`, false],
  ['a DO block with LANGUAGE', (s) => `DO LANGUAGE plpgsql $b$ DECLARE n int; BEGIN ${s}; END $b$`, false],
  ['EXECUTE of a constant string in DO', (s) => `DO $b$BEGIN EXECUTE '${q(s)}'; END$b$`, false],
  ['a SQL function created in a DO block', (s) => `DO $o$BEGIN CREATE FUNCTION g() RETURNS void LANGUAGE sql AS $i$${s}$i$; END$o$`, false],
  ['a PL/pgSQL loop in a DO block', (s) => `DO $b$DECLARE r record; BEGIN FOR r IN SELECT 1 LOOP ${s}; END LOOP; END$b$`, false],
  ['a PL/pgSQL exception handler', (s) => `DO $b$BEGIN PERFORM 1; EXCEPTION WHEN others THEN ${s}; END$b$`, false],
  ['non-ASCII text before it', (s) => `SELECT 'héllo ✓'; DO $b$BEGIN ${s}; END$b$`, false],
];

describe('every statement nested anywhere is judged as if top level (wrappers × destructive statements)', () => {
  const cases = WRAPPERS.flatMap(([wrapper, wrap, dmlOnly]) => DESTRUCTIVE
    .filter(([, , dml]) => dml || !dmlOnly)
    .map(([stmt, rule]) => [wrapper, stmt, wrap(stmt), rule] as const));

  it.each(cases)('%s: %s', (_wrapper, _stmt, sql, rule) => {
    const verdict = verdictOf(sql);
    expect(verdict).toMatchObject({ rule, action: rule === 'unbounded-write' ? 'review' : 'block' });
  });

  it('generates enough variants', () => {
    expect(cases.length).toBeGreaterThan(150);
  });

  it.each([
    'DELETE FROM t WHERE id = 1',
    'WITH d AS (DELETE FROM t WHERE id = $1 RETURNING 1) SELECT * FROM d',
    'EXPLAIN ANALYZE UPDATE t SET a = 1 WHERE id = 2',
    'DO $$BEGIN DELETE FROM t WHERE id = 3; END$$',
    'CREATE FUNCTION f(n int) RETURNS void LANGUAGE sql AS $$DELETE FROM t WHERE id = n$$',
    "SELECT 'DROP TABLE t; DELETE FROM t'",
    'COPY t TO STDOUT',
    'ALTER TABLE t ADD COLUMN note text',
  ])('allows the bounded or harmless: %s', (sql) => {
    expect(verdictOf(sql)).toEqual({ action: 'allow' });
  });

  it('names where the statement sat', () => {
    expect(verdictOf('EXPLAIN ANALYZE DELETE FROM t')).toMatchObject({ reason: 'DeleteStmt without a WHERE that restricts rows, inside EXPLAIN' });
    expect(verdictOf('DO $$BEGIN DROP TABLE t; END$$')).toMatchObject({ reason: 'DropStmt, inside DO block' });
  });
});

describe('MERGE: each WHEN action counts as its INSERT/UPDATE/DELETE, bounded by ON and its condition', () => {
  it.each([
    ['MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE', 'review'],
    ['MERGE INTO t USING s ON 1 = 1 WHEN MATCHED THEN UPDATE SET a = 1', 'review'],
    ['MERGE INTO t USING t AS s ON t.id = s.id WHEN MATCHED THEN DELETE', 'review'], // the same table: every row matches itself
    ['MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED BY SOURCE THEN DELETE', 'review'], // ON does not bound these rows
    ['MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE', 'allow'],
    ['MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED BY SOURCE AND t.stale THEN DELETE', 'allow'],
    ['MERGE INTO t USING s ON true WHEN MATCHED AND t.id = 3 THEN DELETE', 'allow'],
    ['MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (1)', 'allow'],
    ['WITH m AS (SELECT 1) MERGE INTO t USING s ON true WHEN MATCHED THEN UPDATE SET a = 2', 'review'],
    ['DO $$BEGIN MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE; END$$', 'review'],
  ])('%s → %s', (sql, action) => {
    expect(verdictOf(sql).action).toBe(action);
  });

  it('a rule naming DeleteStmt meets a MERGE … THEN DELETE', () => {
    const guards = guardsOf([{ name: 'no-delete', sql: { statements: ['DeleteStmt'] }, action: 'block' }]);
    expect(verdictOf('MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE', guards)).toMatchObject({ action: 'block', rule: 'no-delete' });
  });
});

describe('the facts of a text are derived once', () => {
  it('a repeated text is a cache hit', () => {
    const sql = 'DELETE FROM t WHERE id = $1';
    const parsed = parseSql(sql);
    expect(factsOf(sql, parsed.stmts!)).toBe(factsOf(sql, parsed.stmts!));
  });
});
