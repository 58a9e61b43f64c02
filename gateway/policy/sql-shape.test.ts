import { beforeAll, describe, expect, it } from 'vitest';
import { buildSnapshot, type CatalogRelation, type TargetCatalog } from './catalog.js';
import { loadSqlParser, SqlGuards } from './guardrails.js';
import { Provenance } from './provenance/session.js';
import { compileGuardrails, compileMasking } from './rules.js';
import { shapeOf } from './sql-shape.js';
import { SqlSession } from './sql-policy.js';

beforeAll(() => loadSqlParser());

describe('the shape of a text: its plain numbers cut out', () => {
  it('cuts plain decimals outside strings, identifiers and comments', () => {
    const s = shapeOf(`SELECT 'a1', "b2", c3, 4, 5.5 FROM t /* 6 /* 7 */ */ WHERE x = 8 -- 9\n AND y = $1`)!;
    expect(s.key).toBe(`SELECT 'a1', "b2", c3, \u0001, \u0001 FROM t /* 6 /* 7 */ */ WHERE x = \u0001 -- 9\n AND y = $1`);
    expect(s.holes.map((h) => h.end - h.start)).toEqual([1, 3, 1]);
    expect(shapeOf("SELECT 'it''s 1'")!.key).toBe("SELECT 'it''s 1'");
  });

  it('gives up where the scanner cannot be sure how PostgreSQL lexes the text', () => {
    for (const sql of [
      "SELECT E'\\x41'", 'SELECT $$1$$', 'SELECT $a$1$a$', "SELECT 'é', 1", 'SELECT 1e5', 'SELECT 0x1F', 'SELECT 1_000', 'SELECT .5',
      'SELECT 1..2', "SELECT 'open", 'SELECT "open', 'SELECT /* open', 'SELECT 1\u0001', "SELECT 1 -- é", "SELECT 1 /* \\ */", 'SELECT 5abc', 'SELECT $1abc',
    ]) expect(shapeOf(sql), sql).toBeUndefined();
  });
});

const cols = (...names: string[]) => names.map((name, i) => ({ attnum: i + 1, name, type: 'text' }));
const rel = (oid: number, name: string, columns: string[]): CatalogRelation =>
  ({ oid, schema: 'public', name, kind: 'r', temp: false, columns: cols(...columns), parents: [] });
const catalog: TargetCatalog = {
  snapshot: buildSnapshot(1, {
    relations: [rel(10, 'customers', ['id', 'name', 'email']), rel(11, 't', ['id', 'x', 'ok']), rel(12, 'orders', ['id', 'total'])],
    functions: [{ oid: 1, schema: 'pg_catalog', name: 'substr', extension: false }, { oid: 2, schema: 'public', name: 'wipe', extension: false }],
  }),
  refresh: () => Promise.resolve(),
};
const guards = new SqlGuards(compileGuardrails([
  { name: 'no-drop', sql: { statements: ['DropStmt', 'TruncateStmt'] }, action: 'block' },
  { name: 'unbounded-write', sql: { statements: ['DeleteStmt', 'UpdateStmt'], withoutWhere: true }, action: 'review' },
], 't'), { trustedFunctions: [] });
const provenance = new Provenance(compileMasking([{ name: 'email', column: 'public.customers.email' }], 't'), []);
const ctx = { identity: 'agent', target: 'db', sessionId: 's', tokenId: 'tok' } as unknown as ConstructorParameters<typeof SqlSession>[0];
const session = () => new SqlSession(ctx, catalog, guards.forSession(ctx), provenance.forSession('agent', 'db'));

/** `{n}` is a number: each text is tried with two sets of numbers. */
const SHARED = [
  'SELECT email FROM customers WHERE id = {n}',
  'SELECT name, email FROM customers c WHERE c.id IN ({n}, {n}) AND {n} < id',
  'DELETE FROM t WHERE id = {n}',
  'DELETE FROM t WHERE id = -{n}',
  'UPDATE t SET x = x + -{n} WHERE id = {n}',
  "UPDATE customers SET name = 'n' WHERE id = {n}",
  'INSERT INTO orders (id, total) VALUES ({n}, {n}.5), ({n}, {n})',
  "/* 5 */ SELECT total FROM orders WHERE id = {n} -- 7\n",
  'SELECT email FROM customers WHERE id = $1 AND id > {n}',
];
/** The value may matter here, so these are judged on their own every time. */
const OWN = [
  'DELETE FROM t WHERE id = {n} OR {n} = {n}',
  'UPDATE t SET x = {n} WHERE ok OR {n} = {n}',
  'SELECT email FROM customers ORDER BY {n}',
  'SELECT (array[email])[{n}] FROM customers',
  'SELECT substr(email, {n}, {n}) FROM customers',
  'SELECT * FROM t LIMIT {n}',
  'SELECT {n}',
  'SELECT email::varchar({n}) FROM customers',
  'SELECT wipe({n})',
  'DELETE FROM t WHERE id = {n}; DROP TABLE t',
  'PREPARE p AS DELETE FROM t WHERE id = {n}',
  'DO $$BEGIN DELETE FROM t WHERE id = {n}; END$$',
  "SELECT set_config('x', '{n}', false) FROM t WHERE id = {n}",
  "UPDATE customers SET name = 'n{n}' WHERE id = {n}", // a number inside a string is part of the shape
];

const fill = (template: string, numbers: number[]) => { let i = 0; return template.replace(/\{n\}/g, () => String(numbers[i++ % numbers.length])); };

describe('verdicts shared by shape', () => {
  it('a text judged after another of its shape gets the verdict (and rewrite) a fresh session gives it', () => {
    for (const template of [...SHARED, ...OWN]) {
      const first = fill(template, [1, 2, 3, 4]);
      const second = fill(template, [1000, 0, 77, 123456789012]);
      const warm = session();
      warm.judge(first);
      const cached = warm.judge(second);
      const fresh = session().judge(second);
      expect(cached, template).toEqual(fresh);
      expect(warm.shapeHits, template).toBe(SHARED.includes(template) ? 1 : 0);
    }
  });

  it('the rewrite carries the second text’s numbers, every other byte as planned', () => {
    const warm = session();
    warm.judge('SELECT email FROM customers WHERE id = 1');
    const verdict = warm.judge('SELECT email FROM customers WHERE id = 98765');
    expect(warm.shapeHits).toBe(1);
    expect(verdict).toMatchObject({ action: 'allow', forward: expect.stringMatching(/^SELECT email FROM \(SELECT .*'\[masked:email\]'.* FROM customers\) AS "customers" WHERE id = 98765$/) });
  });

  it('a review is shared too, and a constant-true predicate never borrows a restricting one’s verdict', () => {
    const warm = session();
    expect(warm.judge('DELETE FROM t WHERE id = 1').action).toBe('allow');
    expect(warm.judge('DELETE FROM t WHERE 1 = 1')).toMatchObject({ action: 'review', rule: 'unbounded-write' });
    expect(warm.judge('UPDATE t SET x = 1 WHERE ok OR 1 = 1')).toMatchObject({ action: 'review', rule: 'unbounded-write' });
    expect(warm.judge('UPDATE t SET x = 2 WHERE ok OR 2 = 2')).toMatchObject({ action: 'review', rule: 'unbounded-write' });
    expect(warm.judge('UPDATE t SET x = x + 1 WHERE id > 5 OR id < 5')).toEqual({ action: 'allow' });
    expect(warm.judge('UPDATE t SET x = x + 7 WHERE id > 9 OR id < 9')).toEqual({ action: 'allow' });
    expect(warm.shapeHits).toBe(1);
  });

  it('a new catalog version is judged again', () => {
    let snapshot = catalog.snapshot;
    const moving: TargetCatalog = { get snapshot() { return snapshot; }, refresh: () => Promise.resolve() };
    const s = new SqlSession(ctx, moving, guards.forSession(ctx), provenance.forSession('agent', 'db'));
    s.judge('SELECT email FROM customers WHERE id = 1');
    snapshot = buildSnapshot(2, { relations: [rel(10, 'customers', ['id', 'name', 'email', 'extra'])] });
    expect(s.judge('SELECT email FROM customers WHERE id = 2')).toMatchObject({ forward: expect.stringContaining('"extra"') });
    expect(s.shapeHits).toBe(0);
  });
});
