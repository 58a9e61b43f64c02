import { beforeAll, describe, expect, it } from 'vitest';
import { buildSnapshot, type CatalogSnapshot } from './catalog.js';
import { loadSqlParser, OPERATIONS, SqlGuards, type SqlGuardConfig } from './guardrails.js';
import { compileGuardrails } from './rules.js';
import { parseSql } from './sql-policy.js';
import type { SqlVerdict } from './types.js';

const ctx = { identity: 'agent', target: 'db' };
const RULES = [
  { name: 'no-drop', sql: { statements: ['DropStmt', 'TruncateStmt'] }, action: 'block' },
  { name: 'unbounded-write', sql: { statements: ['DeleteStmt', 'UpdateStmt', 'MergeStmt'], withoutWhere: true }, action: 'review' },
];
const guardsOf = (rules: unknown[] = RULES, config: SqlGuardConfig = { trustedFunctions: [] }) => new SqlGuards(compileGuardrails(rules, 't'), config);

const catalog = buildSnapshot(1, {
  relations: [],
  functions: [
    { oid: 1, schema: 'public', name: 'wipe', extension: false },
    { oid: 2, schema: 'pg_catalog', name: 'lower', extension: false },
    { oid: 3, schema: 'public', name: 'upper', extension: false }, // shares a built-in's name: an overload or search_path picks it
    { oid: 4, schema: 'pg_catalog', name: 'upper', extension: false },
    { oid: 5, schema: 'util', name: 'fmt', extension: false },
  ],
  operators: [{ schema: 'public', name: '===', functionSchema: 'public', functionName: 'wipe' }],
});

type Guard = ReturnType<SqlGuards['forSession']>;
function judge(guard: Guard, sql: string, opts: { refreshed?: boolean; prepareAs?: string; catalog?: CatalogSnapshot } = {}): SqlVerdict {
  const parsed = parseSql(sql);
  if (parsed.error !== undefined) throw new Error(`${sql}: ${parsed.error}`);
  return guard.judge(parsed, sql, 'catalog' in opts ? opts.catalog : catalog, opts.refreshed ?? true, opts.prepareAs);
}

beforeAll(() => loadSqlParser());

describe('dynamic SQL the gateway cannot see gets the dynamic default', () => {
  const dynamic = [
    "DO $$BEGIN EXECUTE 'DROP ' || 'TABLE t'; END$$",
    "DO $$DECLARE q text := 'x'; BEGIN EXECUTE q; END$$",
    "DO $$DECLARE r record; BEGIN FOR r IN EXECUTE format('SELECT %s', 1) LOOP END LOOP; END$$",
    "CREATE FUNCTION f() RETURNS SETOF int LANGUAGE plpgsql AS $$BEGIN RETURN QUERY EXECUTE 'SELECT ' || '1'; END$$",
    "DO $$DECLARE c refcursor; BEGIN OPEN c FOR EXECUTE 'SELECT ' || 1; END$$",
    'DO LANGUAGE plpython3u $$plpy.execute("DROP TABLE t")$$',
    "CREATE FUNCTION f() RETURNS void LANGUAGE plperl AS $$spi_exec_query('DELETE FROM t')$$",
    'DO $$BEGIN this is not plpgsql; END$$',
    'SELECT wipe()', 'SELECT public.wipe()', 'SELECT * FROM wipe()', 'CALL wipe()', 'SELECT upper(x) FROM t',
    'SELECT someone.else(1)', 'SELECT 1 === 2', 'EXPLAIN ANALYZE SELECT wipe()',
    "SELECT query_to_xml('DELETE FROM t RETURNING 1', true, true, '')", "SELECT table_to_xml('t', true, true, '')",
    "SELECT * FROM ts_stat('DELETE FROM t RETURNING ''a''::tsvector')", "SELECT cursor_to_xml('c', 1, true, true, '')",
    'EXECUTE never_prepared', 'EXPLAIN ANALYZE EXECUTE never_prepared', 'CREATE TABLE x AS EXECUTE never_prepared',
    'CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION wipe()',
    "DO $$BEGIN PERFORM wipe(); END$$", "CREATE FUNCTION g() RETURNS int LANGUAGE sql AS 'SELECT wipe()'",
  ];
  it.each(dynamic)('review by default when a data-changing rule exists: %s', (sql) => {
    expect(judge(guardsOf().forSession(ctx), sql)).toMatchObject({ action: 'review', rule: 'sql-dynamic', reason: expect.stringMatching(/^SQL the gateway cannot see: /) });
  });

  it.each(dynamic)('allowed when no rule guards data-changing SQL: %s', (sql) => {
    expect(judge(guardsOf([{ name: 'read', sql: { statements: ['SelectStmt'], tables: ['vault.*'] }, action: 'block' }]).forSession(ctx), sql).action).toBe('allow');
  });

  it.each(dynamic.slice(0, 8))('sql.dynamic: block is obeyed: %s', (sql) => {
    expect(judge(guardsOf(RULES, { dynamic: 'block', trustedFunctions: [] }).forSession(ctx), sql)).toMatchObject({ action: 'block', rule: 'sql-dynamic' });
  });

  it.each([
    'SELECT lower(x), count(*), now() FROM t', 'SELECT pg_catalog.upper(x)', "DO $$BEGIN EXECUTE 'SELECT 1'; END$$",
    'CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$; CREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION trg()',
    'SELECT 1 + 2', 'SELECT util.fmt(1)',
  ])('reads what it can: %s', (sql) => {
    const guard = guardsOf(RULES, { trustedFunctions: ['util.*'] }).forSession(ctx);
    expect(judge(guard, sql)).toEqual({ action: 'allow' });
  });

  it('a trigger may run a function created earlier in the session (judged there), not one it did not see created', () => {
    const guard = guardsOf().forSession(ctx);
    const trigger = 'CREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION stamp()';
    expect(judge(guard, trigger)).toMatchObject({ action: 'review', rule: 'sql-dynamic' });
    expect(judge(guard, 'CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.at := now(); RETURN NEW; END$$')).toEqual({ action: 'allow' });
    expect(judge(guard, trigger)).toEqual({ action: 'allow' });
  });

  it('asks for a catalog refresh for a name it does not know, then treats it as user-defined', () => {
    const guard = guardsOf().forSession(ctx);
    expect(judge(guard, 'SELECT brand_new(1)', { refreshed: false })).toEqual({ action: 'refresh' });
    expect(judge(guard, 'SELECT brand_new(1)', { refreshed: true })).toMatchObject({ action: 'review', rule: 'sql-dynamic', reason: expect.stringContaining('brand_new') });
    expect(judge(guard, 'SELECT brand_new(1); DROP TABLE t', { refreshed: false })).toMatchObject({ action: 'block', rule: 'no-drop' });
    expect(judge(guard, 'SELECT lower(x)', { refreshed: false, catalog: undefined })).toEqual({ action: 'allow' });
  });

  it('unset, the default is review exactly when a block/review rule guards data-changing SQL', () => {
    const d = (rules: unknown[]) => guardsOf(rules).dynamicDefault('agent', 'db');
    expect(d([])).toBe('allow');
    expect(d([{ name: 'a', sql: { statements: ['SelectStmt'] }, action: 'block' }])).toBe('allow');
    expect(d([{ name: 'a', sql: { statements: ['DeleteStmt'] }, action: 'allow' }])).toBe('allow');
    expect(d([{ name: 'a', sql: { statements: ['DeleteStmt'] }, action: 'block', identities: ['other'] }])).toBe('allow');
    expect(d([{ name: 'a', sql: { statements: ['AlterTableStmt'] }, action: 'review' }])).toBe('review');
    expect(d([{ name: 'a', sql: { operations: ['rename'] }, action: 'block' }])).toBe('review');
    expect(d([{ name: 'a', sql: { tables: ['vault.*'] }, action: 'block' }])).toBe('review'); // no statement filter: covers DELETE too
    expect(d([{ name: 'a', sql: { statements: ['CopyStmt'], copyProgram: true }, action: 'block' }])).toBe('review');
  });
});

describe('PREPARE / EXECUTE: EXECUTE is judged as its prepared statement', () => {
  it('remembers SQL PREPARE and protocol Parse names, forgets on DEALLOCATE', () => {
    const guard = guardsOf().forSession(ctx);
    expect(judge(guard, 'PREPARE ok AS SELECT 1').action).toBe('allow');
    expect(judge(guard, 'EXECUTE ok')).toEqual({ action: 'allow' });
    expect(judge(guard, 'PREPARE wipe_all AS DELETE FROM t')).toMatchObject({ action: 'review', rule: 'unbounded-write' });
    expect(judge(guard, 'EXECUTE wipe_all')).toMatchObject({ action: 'review', rule: 'unbounded-write', reason: expect.stringContaining('EXECUTE wipe_all runs DeleteStmt') });
    expect(judge(guard, 'CREATE TABLE x AS EXECUTE wipe_all').action).toBe('review');
    expect(judge(guard, 'UPDATE t SET a = 1', { prepareAs: 'proto' }).action).toBe('review');
    expect(judge(guard, 'EXPLAIN ANALYZE EXECUTE proto')).toMatchObject({ action: 'review', rule: 'unbounded-write' });
    expect(judge(guard, 'DEALLOCATE ok')).toEqual({ action: 'allow' });
    expect(judge(guard, 'EXECUTE ok')).toMatchObject({ action: 'review', rule: 'sql-dynamic' });
    expect(judge(guard, 'DEALLOCATE ALL')).toEqual({ action: 'allow' });
    expect(judge(guard, 'EXECUTE wipe_all')).toMatchObject({ action: 'review', rule: 'sql-dynamic' });
  });

  it('within one text, in order; a blocked text changes nothing', () => {
    const guard = guardsOf().forSession(ctx);
    expect(judge(guard, 'PREPARE d AS DELETE FROM t; EXECUTE d; DROP TABLE t').action).toBe('block');
    expect(judge(guard, 'EXECUTE d')).toMatchObject({ rule: 'sql-dynamic' }); // the PREPARE never ran
    expect(judge(guard, 'PREPARE s AS SELECT 1; EXECUTE s')).toEqual({ action: 'allow' });
    expect(judge(guard, 'DEALLOCATE s; EXECUTE s')).toMatchObject({ rule: 'sql-dynamic' });
  });

  it('a name prepared again keeps the more severe judgement (a Close the gateway did not see)', () => {
    const guard = guardsOf().forSession(ctx);
    judge(guard, 'DELETE FROM t', { prepareAs: 'x' });
    judge(guard, 'SELECT 1', { prepareAs: 'x' });
    expect(judge(guard, 'EXECUTE x').action).toBe('review');
  });

  it('judgeSql has no session: EXECUTE gets the dynamic default', () => {
    expect(guardsOf().judgeText(ctx, 'EXECUTE anything')).toMatchObject({ action: 'review', rule: 'sql-dynamic' });
  });
});

describe('destructive DDL is nameable by operation', () => {
  const cases: [string, string][] = [
    ['ALTER TABLE t DROP COLUMN a', 'drop-column'], ['ALTER TABLE IF EXISTS t DROP a', 'drop-column'], ['ALTER TYPE ty DROP ATTRIBUTE a', 'drop-column'],
    ['ALTER TABLE t ALTER COLUMN a TYPE bigint', 'alter-column-type'], ['ALTER TABLE t ALTER a SET DATA TYPE text USING a::text', 'alter-column-type'],
    ['ALTER TABLE t DROP CONSTRAINT c', 'drop-constraint'], ['ALTER DOMAIN d DROP CONSTRAINT c', 'drop-constraint'],
    ['ALTER TABLE t ALTER COLUMN a DROP DEFAULT', 'drop-default'], ['ALTER TABLE t ALTER COLUMN a DROP NOT NULL', 'drop-not-null'],
    ['ALTER TABLE t RENAME TO u', 'rename-table'], ['ALTER TABLE t RENAME COLUMN a TO b', 'rename-column'], ['ALTER TABLE t RENAME a TO b', 'rename'],
    ['ALTER SCHEMA s RENAME TO s2', 'rename'], ['ALTER VIEW v RENAME TO w', 'rename-table'],
    ['ALTER TABLE t SET SCHEMA archive', 'set-schema'], ['ALTER FUNCTION f() SET SCHEMA x', 'set-schema'],
    ['ALTER TABLE p DETACH PARTITION p1', 'detach-partition'], ['ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY', 'detach-partition'],
    ['DROP TABLE t CASCADE', 'cascade'], ['DROP SCHEMA s CASCADE', 'cascade'], ['TRUNCATE t CASCADE', 'cascade'], ['ALTER TABLE t DROP COLUMN a CASCADE', 'cascade'],
    ['DROP OWNED BY r CASCADE', 'cascade'], ['DROP DATABASE d', 'drop'], ['DROP ROLE r', 'drop'], ['DROP INDEX i', 'drop'], ['TRUNCATE t', 'truncate'],
    ['ALTER TABLE t NO INHERIT p', 'drop-inherit'], ['ALTER TABLE t SET UNLOGGED', 'set-unlogged'], ['ALTER TABLE t DISABLE TRIGGER ALL', 'disable-trigger'],
    ['ALTER EVENT TRIGGER e DISABLE', 'disable-trigger'], ['ALTER TABLE t DISABLE RULE r', 'disable-rule'],
    ['ALTER TABLE t DISABLE ROW LEVEL SECURITY', 'disable-row-security'], ['ALTER TABLE t NO FORCE ROW LEVEL SECURITY', 'disable-row-security'],
    ['ALTER TABLE t OWNER TO r', 'change-owner'], ['ALTER FUNCTION f() OWNER TO r', 'change-owner'],
    ['CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS $$SELECT 1$$', 'or-replace'], ['CREATE OR REPLACE VIEW v AS SELECT 1', 'or-replace'],
    ['ALTER TABLE t ALTER COLUMN a DROP IDENTITY', 'drop-identity'],
    ['DO $$BEGIN ALTER TABLE t DROP COLUMN a; END$$', 'drop-column'], ["DO $$BEGIN EXECUTE 'ALTER TABLE t RENAME TO u'; END$$", 'rename-table'],
    ['CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ALTER TABLE t ALTER COLUMN a TYPE text$$', 'alter-column-type'],
  ];
  it.each(cases)('%s is %s', (sql, op) => {
    const guard = guardsOf([{ name: `op-${op}`, sql: { operations: [op] }, action: 'block' }]).forSession(ctx);
    expect(judge(guard, sql)).toMatchObject({ action: 'block', rule: `op-${op}`, reason: expect.stringContaining(op) });
  });

  it('every operation is covered by a case', () => {
    expect(Object.keys(OPERATIONS).filter((op) => !cases.some(([, o]) => o === op))).toEqual([]);
  });

  it.each(['ALTER TABLE t ADD COLUMN b int', 'ALTER TABLE t ALTER COLUMN a SET DEFAULT 1', 'CREATE VIEW v AS SELECT 1', 'ALTER TABLE t ENABLE TRIGGER ALL'])(
    'leaves additive DDL alone: %s', (sql) => {
      const guard = guardsOf([{ name: 'ddl', sql: { operations: Object.keys(OPERATIONS) }, action: 'block' }]).forSession(ctx);
      expect(judge(guard, sql)).toEqual({ action: 'allow' });
    });
});

describe('built-in: the client encoding and string syntax cannot change under the gateway', () => {
  const refused: [string, string][] = [
    ["SET client_encoding TO 'LATIN1'", 'client-encoding'], ["SET client_encoding = 'EUC_JP'", 'client-encoding'],
    ["SET SESSION client_encoding TO 'SJIS'", 'client-encoding'], ["SET LOCAL client_encoding TO 'BIG5'", 'client-encoding'],
    ["SET NAMES 'GBK'", 'client-encoding'], ['SET client_encoding TO DEFAULT', 'client-encoding'], ['RESET client_encoding', 'client-encoding'],
    ["SELECT set_config('client_encoding', 'SJIS', false)", 'client-encoding'], ["SELECT pg_catalog.set_config('CLIENT_ENCODING', 'SJIS', true)", 'client-encoding'],
    ["SELECT set_config('client_' || 'encoding', 'SJIS', false)", 'client-encoding'], ['SELECT set_config(name, setting, false) FROM pg_settings', 'client-encoding'],
    ["DO $$BEGIN SET client_encoding = 'LATIN1'; END$$", 'client-encoding'], ["DO $$BEGIN PERFORM set_config('client_encoding', 'SJIS', false); END$$", 'client-encoding'],
    ["DO $$BEGIN EXECUTE 'SET client_encoding = ''SJIS'''; END$$", 'client-encoding'],
    ["CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$SET client_encoding = 'SJIS'$$", 'client-encoding'],
    ["CREATE FUNCTION f() RETURNS int LANGUAGE sql SET client_encoding = 'SJIS' AS 'SELECT 1'", 'client-encoding'],
    ["SELECT 1; SET client_encoding = 'SJIS'; SELECT 2", 'client-encoding'], ["PREPARE p AS SELECT set_config('client_encoding', 'SJIS', false)", 'client-encoding'],
    ['SET standard_conforming_strings = off', 'standard-conforming-strings'], ["SELECT set_config('standard_conforming_strings', 'off', false)", 'standard-conforming-strings'],
    ['RESET standard_conforming_strings', 'standard-conforming-strings'],
    [`SET U&"client\\005fencoding" TO 'SJIS'`, 'client-encoding'], ["DO E'BEGIN SET client\\u005fencoding = ''SJIS''; END'", 'client-encoding'],
    [`SELECT U&"set\\005fconfig"('client_encoding', 'SJIS', false)`, 'client-encoding'], ['set NaMeS \'SJIS\'', 'client-encoding'],
    // pg_dump's form with the WHERE naming the encoding, or not fixing the row to one setting:
    ["SELECT set_config(name, 'SJIS', false) FROM pg_settings WHERE name = 'client_encoding'", 'client-encoding'],
    ["SELECT set_config(name, 'SJIS', false) FROM pg_settings WHERE name = 'x' OR true", 'client-encoding'],
    ["SELECT set_config(name, 'SJIS', false) FROM pg_settings, pg_class WHERE name = 'x'", 'client-encoding'],
    ["SELECT set_config(s.name, 'SJIS', false) FROM pg_settings s WHERE s.name = 'x'", 'client-encoding'],
    ["SELECT 1 FROM pg_settings WHERE name = 'x' AND (SELECT set_config(name, 'SJIS', false)) IS NOT NULL", 'client-encoding'],
    // UPDATE pg_settings runs set_config through the view's rule (found by the red team: it turned the setting off under a pipelined text).
    ["UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'", 'standard-conforming-strings'],
    ["UPDATE pg_catalog.pg_settings SET setting = 'SJIS' WHERE name = 'client_encoding'", 'client-encoding'],
    ["update PG_SETTINGS set setting = 'off' where NAME = 'standard_conforming_strings'", 'standard-conforming-strings'],
    ["UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_' || 'conforming_strings'", 'standard-conforming-strings'],
    ["UPDATE pg_settings SET setting = 'off' WHERE name LIKE 'standard%'", 'standard-conforming-strings'],
    ["UPDATE pg_settings s SET setting = 'off' WHERE s.name = 'x' OR true", 'standard-conforming-strings'],
    ["WITH x AS (UPDATE pg_settings SET setting = 'SJIS' WHERE name = 'client_encoding' RETURNING 1) SELECT * FROM x", 'client-encoding'],
    ["DO $$BEGIN UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'; END$$", 'standard-conforming-strings'],
    ["CREATE RULE r AS ON INSERT TO t DO ALSO UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'", 'standard-conforming-strings'],
  ];
  it('allows UPDATE pg_settings of another setting named in its WHERE', () => {
    expect(judge(guardsOf([]).forSession(ctx), "UPDATE pg_settings SET setting = '5s' WHERE name = 'statement_timeout'")).toMatchObject({ action: 'allow' });
  });
  it("allows pg_dump's set_config(name, …) FROM pg_settings WHERE name = '<setting>' (the row is fixed to one setting)", () => {
    expect(judge(guardsOf([]).forSession(ctx),
      "SELECT set_config(name, 'view, foreign-table', false) FROM pg_settings WHERE name = 'restrict_nonsystem_relation_kind'")).toMatchObject({ action: 'allow' });
  });
  it.each(refused)('%s → %s, with no rules configured', (sql, rule) => {
    expect(judge(guardsOf([]).forSession(ctx), sql)).toMatchObject({ action: 'block', rule });
    expect(guardsOf([]).judgeText(ctx, sql)).toMatchObject({ action: 'block', rule });
    expect(guardsOf([]).forSession(ctx).quiet(sql)).toBe(false); // the parse-free shortcut never skips one
  });

  it('skips the parse only with no rule in scope and unseen SQL allowed', () => {
    expect(guardsOf([]).forSession(ctx).quiet('SELECT abalance FROM pgbench_accounts WHERE aid = 1')).toBe(true);
    expect(guardsOf().forSession(ctx).quiet('SELECT 1')).toBe(false);
    expect(guardsOf([], { dynamic: 'review', trustedFunctions: [] }).forSession(ctx).quiet('SELECT 1')).toBe(false);
  });

  it.each(["SET application_name = 'x'", 'SHOW client_encoding', "SELECT current_setting('client_encoding')", 'SET standard_conforming_strings = on',
    "SELECT set_config('application_name', 'x', false)", 'RESET ALL'])('allows %s', (sql) => {
    expect(judge(guardsOf([]).forSession(ctx), sql)).toEqual({ action: 'allow' });
  });
});
