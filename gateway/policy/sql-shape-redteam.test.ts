// Red-team of the verdicts kept by shape (sql-shape.ts, SqlSession.judge): for each attack, a session
// judges text A, then text B of the same shape; B's verdict (and rewrite) must be what a fresh session
// gives B. The texts are made to hit lexing corners, the places where a number's value may matter, and
// session state a kept verdict could outlive.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSnapshot, type CatalogRelation, type CatalogSnapshot, type TargetCatalog } from './catalog.js';
import { loadSqlParser, SqlGuards } from './guardrails.js';
import { Provenance } from './provenance/session.js';
import { compileGuardrails, compileMasking } from './rules.js';
import { shapeOf } from './sql-shape.js';
import { SqlSession } from './sql-policy.js';
import type { SqlVerdict } from './types.js';

beforeAll(() => loadSqlParser());

const cols = (...names: string[]) => names.map((name, i) => ({ attnum: i + 1, name, type: 'text' }));
const rel = (oid: number, name: string, columns: string[], schema = 'public'): CatalogRelation =>
  ({ oid, schema, name, kind: 'r', temp: false, columns: cols(...columns), parents: [] });
const snapshotV = (version: number): CatalogSnapshot => buildSnapshot(version, {
  relations: [rel(10, 'customers', ['id', 'name', 'email']), rel(11, 't', ['id', 'x', 'ok']), rel(12, 'orders', ['id', 'total']),
    rel(13, 'pg_settings', ['name', 'setting'], 'pg_catalog')],
  functions: [{ oid: 1, schema: 'pg_catalog', name: 'substr', extension: false }, { oid: 2, schema: 'public', name: 'wipe', extension: false }],
  operators: [{ schema: 'public', name: '===', functionSchema: 'public', functionName: 'wipe' }],
});
const catalog: TargetCatalog = { snapshot: snapshotV(1), refresh: () => Promise.resolve() };
const rules = compileGuardrails([
  { name: 'no-drop', sql: { statements: ['DropStmt', 'TruncateStmt'] }, action: 'block' },
  { name: 'unbounded-write', sql: { statements: ['DeleteStmt', 'UpdateStmt'], withoutWhere: true }, action: 'review' },
  { name: 'no-wipe', sql: { functions: ['pg_terminate_backend', 'lo_unlink', 'pg_sleep'] }, action: 'block' },
], 't');
const guards = new SqlGuards(rules, { trustedFunctions: [] });
const provenance = new Provenance(compileMasking([{ name: 'email', column: 'public.customers.email' }], 't'), []);
const ctx = { identity: 'agent', target: 'db', sessionId: 's', tokenId: 'tok' } as unknown as ConstructorParameters<typeof SqlSession>[0];

type Make = (cat?: TargetCatalog) => SqlSession;
const SESSIONS: Record<string, Make> = {
  'guard+masking': (cat = catalog) => new SqlSession(ctx, cat, guards.forSession(ctx), provenance.forSession('agent', 'db')),
  'guard only': (cat = catalog) => new SqlSession(ctx, cat, guards.forSession(ctx), undefined),
  'masking only': (cat = catalog) => new SqlSession(ctx, cat, undefined, provenance.forSession('agent', 'db')),
};

/** Judges like the proxy: a refresh answer is judged again with refreshed (the catalog here is complete). */
const judge = (s: SqlSession, sql: string, opts: { prepareAs?: string } = {}): SqlVerdict => {
  const v = s.judge(sql, opts);
  return v.action === 'refresh' ? s.judge(sql, { ...opts, refreshed: true }) : v;
};

/** The numbers tried in each hole: ival/fval, zero, int4/int8 edges, leading zeros, long decimals. */
const NUMBERS = ['0', '1', '2', '1.0', '1.5', '007', '2147483647', '2147483648', '9223372036854775808', '99999999999999999999999999', '0.000'];
const fill = (template: string, numbers: readonly string[]) => { let i = 0; return template.replace(/\{n\}/g, () => numbers[i++ % numbers.length]!); };
/** Pairs of number lists, each list applied to all holes of a template in turn: each number then the next, and mixed lists. */
const PAIRS: [string[], string[]][] = [
  ...NUMBERS.map((n, i): [string[], string[]] => [[n], [NUMBERS[(i + 1) % NUMBERS.length]!]]),
  [['1', '2', '3'], ['99999999999999999999999999', '007', '0.000']], [['2147483648', '0'], ['1', '1.5']],
];

interface Finding { session: string; a: string; b: string; cached: SqlVerdict; fresh: SqlVerdict }

/** What the texts served by shape were given, by action (and whether rewritten): reported, to show the search reached each kind. */
const served: Record<string, number> = {};
afterAll(() => console.log('served by shape', served));

/** Judges A then B in one session and B in a fresh one; returns the differences and how many B were served by shape. */
function warmVsFresh(texts: readonly [string, string][], sessions = Object.keys(SESSIONS)): { findings: Finding[]; hits: number; tried: number } {
  const findings: Finding[] = [];
  let hits = 0;
  let tried = 0;
  for (const name of sessions) {
    const make = SESSIONS[name]!;
    for (const [a, b] of texts) {
      const sa = shapeOf(a);
      const sb = shapeOf(b);
      if (!sa || !sb || sa.key !== sb.key || a === b) continue;
      tried++;
      const warm = make();
      judge(warm, a);
      const before = warm.shapeHits;
      const cached = judge(warm, b);
      hits += warm.shapeHits - before;
      if (warm.shapeHits > before) served[`${cached.action}${'forward' in cached && cached.forward !== undefined ? '+rewrite' : ''}`] = (served[`${cached.action}${'forward' in cached && cached.forward !== undefined ? '+rewrite' : ''}`] ?? 0) + 1;
      const fresh = judge(make(), b);
      if (JSON.stringify(cached) !== JSON.stringify(fresh)) findings.push({ session: name, a, b, cached, fresh });
    }
  }
  return { findings, hits, tried };
}

const pairsOf = (templates: readonly string[]): [string, string][] =>
  templates.flatMap((t) => PAIRS.map(([x, y]) => [fill(t, x), fill(t, y)] as [string, string]));

/** Lexing corners: comments, nested comments, operators holding -- or /*, quotes, identifiers with digits or $, parameters. */
const LEXING = [
  'DELETE FROM t WHERE id ={n}-- c\n', 'DELETE FROM t WHERE id =-- c {n}\n {n} = id', 'DELETE FROM t WHERE id <>-{n}', 'DELETE FROM t WHERE id<-{n}',
  'DELETE FROM t WHERE id =/* {n} */{n}', 'DELETE FROM t WHERE id = {n}/* a /* b */ {n} */', 'DELETE FROM t /*/ {n} */ WHERE id = {n}',
  'DELETE FROM t /* a */* {n} */ WHERE id = {n}', 'DELETE FROM t WHERE id = {n} /* **/', 'DELETE FROM t WHERE id = {n} /*/* */ */',
  'DELETE FROM t WHERE id *-- x\n{n} > {n}', 'DELETE FROM t WHERE id +/* x */{n} > x', 'DELETE FROM t WHERE x = \'{n}\' AND id = {n}',
  'DELETE FROM t WHERE "id" = {n}', 'DELETE FROM t WHERE "i""d{n}" = {n}', 'DELETE FROM t WHERE id = {n} AND x$1 = {n}', 'DELETE FROM t WHERE t1 = {n}',
  'DELETE FROM t WHERE id = $1 AND id > {n}', 'DELETE FROM t WHERE id = -{n}', 'DELETE FROM t WHERE id = - {n}', 'DELETE FROM t WHERE id = -\n{n}',
  'DELETE FROM t WHERE id = -/**/{n}', 'DELETE FROM t WHERE id = - -{n}', 'DELETE FROM t WHERE id = -({n})', 'DELETE FROM t WHERE id=+{n}',
  'DELETE FROM t WHERE id = {n}\t', 'DELETE FROM t WHERE id IN ({n},{n})', 'DELETE FROM t WHERE id = {n};', 'DELETE FROM t WHERE id = {n}; DELETE FROM t',
  'DELETE FROM t WHERE id = {n}; SELECT email FROM customers WHERE id = {n}', "DELETE FROM t WHERE x = B'{n}' AND id = {n}", "DELETE FROM t WHERE x = X'{n}' AND id = {n}",
  "DELETE FROM t WHERE x = N'{n}' AND id = {n}", "DELETE FROM t WHERE x = 'a'\n'{n}' AND id = {n}", 'DELETE FROM t WHERE id = {n} -- \'',
  'SELECT email FROM customers WHERE id = {n}/*', 'SELECT email FROM customers WHERE id = {n} */', "SELECT email FROM customers WHERE id = {n} OR name = '*/'",
  'SELECT email FROM customers WHERE id = {n} AND name ~~ \'--\'', 'SELECT email FROM customers WHERE id::int = {n}', 'SELECT email FROM customers WHERE id = {n}::int',
];

/** Places where a value may matter: every one must either be judged on its own or not matter. */
const VALUES = [
  'DELETE FROM t WHERE id = {n} OR {n} = {n}', 'DELETE FROM t WHERE id = id + {n}', 'DELETE FROM t WHERE id + {n} = id', 'DELETE FROM t WHERE (id = {n}) IS NOT FALSE',
  'DELETE FROM t WHERE ok OR id > {n} OR id <= {n}', 'DELETE FROM t WHERE NOT (id <> {n})', 'DELETE FROM t WHERE id BETWEEN {n} AND {n}', 'DELETE FROM t WHERE id = ANY(ARRAY[{n}])',
  'DELETE FROM t WHERE x LIKE {n}', 'DELETE FROM t WHERE CASE WHEN id = {n} THEN true END', 'DELETE FROM t WHERE id IN (SELECT {n})', 'DELETE FROM t WHERE ok = ({n} = id)',
  'UPDATE t SET x = {n}', 'UPDATE t SET x = {n} WHERE id = {n}', 'UPDATE t SET x = x || {n} WHERE id IN ({n})', 'UPDATE t SET (x, ok) = ({n}, {n}) WHERE id = {n}',
  'UPDATE pg_settings SET setting = {n} WHERE name = \'statement_timeout\'', "SELECT name FROM pg_settings WHERE name = 'x' AND setting = {n}",
  'UPDATE t SET x = {n} WHERE id = {n} RETURNING id + {n}', 'INSERT INTO orders VALUES ({n}, {n}) ON CONFLICT (id) DO UPDATE SET total = {n}', 'INSERT INTO orders SELECT id, {n} FROM t',
  'INSERT INTO orders VALUES ({n}, {n}) RETURNING total > {n}', 'WITH d AS (DELETE FROM t WHERE id = {n} RETURNING *) SELECT * FROM d WHERE id > {n}',
  'SELECT email FROM customers LIMIT {n}', 'SELECT email FROM customers OFFSET {n}', 'SELECT email FROM customers ORDER BY {n}', 'SELECT id, email FROM customers GROUP BY {n}, {n}',
  'SELECT email FROM customers FETCH FIRST {n} ROWS ONLY', 'SELECT substr(email, id - {n}) FROM customers', 'SELECT substr(email, {n}) FROM customers WHERE id = {n}',
  'SELECT (array[email])[id + {n}] FROM customers', 'SELECT email FROM customers WHERE id === {n}', 'SELECT id === {n} FROM t', 'SELECT wipe(id + {n}) FROM t',
  'SELECT pg_terminate_backend(id + {n}) FROM t', 'SELECT pg_sleep(id * {n}) FROM t', 'SELECT lo_unlink(id + {n}) FROM t', 'SELECT email FROM customers TABLESAMPLE SYSTEM ({n}) WHERE id = {n}',
  'SELECT email FROM customers c WHERE c.id = {n} AND c.id IN ({n}, {n})', 'SELECT * FROM customers WHERE id = {n}', 'SELECT c.* FROM customers c WHERE id > {n}',
  'SELECT email FROM ONLY customers WHERE id = {n}', 'SELECT email FROM ONLY (customers) WHERE id = {n}', 'SELECT email FROM customers* WHERE id = {n}', 'SELECT email FROM public.customers WHERE id={n}',
  'COPY (SELECT email FROM customers WHERE id = {n}) TO STDOUT', 'COPY customers TO STDOUT', 'SELECT email FROM customers WHERE id = {n} FOR UPDATE', 'TABLE customers',
  'DELETE FROM customers WHERE email = {n}', 'DELETE FROM customers WHERE id = {n} RETURNING email', 'UPDATE customers SET name = name WHERE id = {n} RETURNING email || {n}',
  'SELECT email FROM customers WHERE id = {n} UNION SELECT email FROM customers WHERE id > {n}', 'SELECT email FROM (SELECT * FROM customers WHERE id = {n}) s WHERE id < {n}',
  'MERGE INTO t USING orders o ON t.id = o.id + {n} WHEN MATCHED THEN DELETE', 'MERGE INTO t USING orders o ON t.id = o.id WHEN MATCHED AND t.id > {n} THEN UPDATE SET x = {n}',
  'DROP TABLE t', 'TRUNCATE t', 'SET statement_timeout = {n}', 'SET LOCAL work_mem = {n}', 'SELECT email FROM customers WHERE id = {n}::numeric(10, {n})',
  'LOCK TABLE t; DELETE FROM t WHERE id = {n}', 'CREATE TABLE n1 AS SELECT email FROM customers WHERE id = {n}', 'CREATE TEMP TABLE n2 AS SELECT * FROM t WHERE id = {n}',
  'CREATE VIEW v1 AS SELECT email FROM customers WHERE id = {n}', 'CREATE FUNCTION f1() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT id FROM t WHERE id = {n}; END',
  'CREATE TABLE n3 (a int CHECK (a > {n}))', 'CREATE INDEX ON t (id) WHERE id > {n}', 'ALTER TABLE t ADD CHECK (id > {n})', 'CREATE RULE r1 AS ON INSERT TO orders DO ALSO DELETE FROM t WHERE id > {n}',
  'CREATE TRIGGER tr BEFORE DELETE ON t FOR EACH ROW WHEN (OLD.id > {n}) EXECUTE FUNCTION wipe()', 'PREPARE p AS DELETE FROM t WHERE id = {n}', 'EXECUTE p({n})',
  'DECLARE c CURSOR FOR SELECT email FROM customers WHERE id = {n}', 'FETCH {n} FROM c', 'EXPLAIN ANALYZE DELETE FROM t WHERE id = {n}', 'EXPLAIN DELETE FROM t WHERE x = x AND id > {n}',
  "DO 'BEGIN DELETE FROM t WHERE id = 1; END'", 'CALL wipe(id + {n})', 'SELECT * FROM wipe() WHERE id = {n}', 'SELECT t.wipe FROM t WHERE id = {n}',
  'SELECT id FROM t WHERE id = {n} AND ok', 'DELETE FROM t WHERE id */* c */ {n} > x', 'DELETE FROM t WHERE id = {n} -- c\r OR true\n',
  'UPDATE t SET x = (SELECT email FROM customers WHERE id = {n})', 'UPDATE t SET x = c.email FROM customers c WHERE c.id = t.id + {n}',
  'DELETE FROM t USING customers c WHERE c.id = {n}', 'UPDATE t SET x = (SELECT name FROM customers WHERE id = {n}) WHERE x = x',
  'SELECT id FROM t WHERE id = {n} AND ok', 'VALUES ({n}), ({n})', 'SELECT ROW(id, {n}) = ROW(id, {n}) FROM t', 'DELETE FROM t WHERE ROW(id, x) = ROW({n}, x)',
  "SELECT email FROM customers WHERE id = {n} AND name = 'names'", 'SELECT email FROM customers WHERE id = {n} AND id IN (SELECT id FROM t WHERE id < {n})',
];

describe('red team: a shared verdict is the verdict a fresh session gives', () => {
  it('lexing corners', () => {
    const r = warmVsFresh(pairsOf(LEXING));
    console.log('lexing', r.tried, r.hits);
    expect(r.findings).toEqual([]);
    expect(r.tried).toBeGreaterThan(300);
    expect(r.hits).toBeGreaterThan(100);
  });

  it('places where a number’s value may matter', () => {
    const r = warmVsFresh(pairsOf(VALUES));
    console.log('values', r.tried, r.hits);
    expect(r.findings).toEqual([]);
    expect(r.tried).toBeGreaterThan(1000);
  });

  it('generated: every SQL text of the policy and adversarial tests, its numbers changed', () => {
    const texts = corpus();
    const templates = texts.map((t) => t.replace(/(?<![\w$.])\d+(\.\d+)?(?![\w$.])/g, '{n}')).filter((t) => t.includes('{n}'));
    const r = warmVsFresh(pairsOf([...new Set(templates)]));
    console.log('generated', texts.length, new Set(templates).size, r.tried, r.hits);
    expect(r.findings).toEqual([]);
    expect(r.tried).toBeGreaterThan(100);
  });

  it('generated: numbers put in every position of the corpus texts (beside each name, for each string and boolean)', () => {
    const templates = new Set<string>();
    for (const text of corpus()) {
      const base = text.replace(/(?<![\w$.])\d+(\.\d+)?(?![\w$.])/g, '{n}');
      const spots = [...base.matchAll(/'(?:[^']|'')*'|\b(?:true|false|null)\b|(?<![\w$."'])[a-z_][a-z0-9_]*(?![\w$"'(])/gi)];
      for (const m of spots) {
        const at = m.index;
        const word = m[0];
        const put = word.startsWith("'") || /^(true|false|null)$/i.test(word) ? ['{n}'] : [`${word} + {n}`, `{n} ${word}`, `${word}[{n}]`];
        for (const p of put) templates.add(base.slice(0, at) + p + base.slice(at + word.length));
      }
      for (const tail of [' LIMIT {n}', ' OFFSET {n}', ' WHERE id = {n}', ' AND id > {n}', '; DELETE FROM t WHERE id = {n}']) templates.add(base + tail);
    }
    const few: [string[], string[]][] = [[['1'], ['2147483648']]];
    const pairs = [...templates].flatMap((t) => few.map(([x, y]) => [fill(t, x), fill(t, y)] as [string, string]));
    const r = warmVsFresh(pairs);
    console.log('positions', templates.size, r.tried, r.hits);
    expect(r.findings).toEqual([]);
    expect(r.hits).toBeGreaterThan(1000);
  });
});

/** SQL-looking string literals of the policy and adversarial PostgreSQL tests. */
function corpus(): string[] {
  const dirs = ['gateway/policy', 'gateway/policy/provenance', 'test/adversarial/pg'];
  const out = new Set<string>();
  for (const dir of dirs) {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const src = readFileSync(join(dir, file), 'utf8');
      for (const m of src.matchAll(/(['`])((?:SELECT|INSERT|UPDATE|DELETE|WITH|MERGE|COPY|CREATE|DROP|TRUNCATE|ALTER|PREPARE|EXECUTE|DO|CALL|EXPLAIN|TABLE|VALUES)\b(?:(?!\1)[^\\\n$]|\\n)*)\1/gi)) {
        out.add(m[2]!.replace(/\\n/g, '\n'));
      }
    }
  }
  return [...out];
}

/** Session state a kept verdict could outlive: [A, X, B] in one session must give B what [X, B] gives it. */
const STATE_CHANGES = [
  'PREPARE q AS DELETE FROM t', 'DEALLOCATE ALL', 'DISCARD ALL', "CREATE FUNCTION wipe2() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN DELETE FROM t; RETURN NULL; END'",
  'CREATE TRIGGER tr AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION wipe2()', 'CREATE TEMP TABLE orders AS SELECT id, email AS total FROM customers',
  'ALTER TABLE t RENAME TO t9', 'CREATE TABLE n1 AS SELECT email FROM customers', 'SET search_path = pg_temp, public', 'CREATE TEMP VIEW t AS SELECT id, email AS x, true AS ok FROM customers',
  'CREATE RULE r1 AS ON INSERT TO orders DO ALSO DELETE FROM t', "CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = wipe)",
];
const AFTER = [
  'SELECT email FROM customers WHERE id = {n}', 'DELETE FROM t WHERE id = {n}', 'INSERT INTO orders (id, total) VALUES ({n}, {n})', 'SELECT x FROM t WHERE id = {n}',
  'SELECT total FROM orders WHERE id = {n}', 'SELECT email FROM n1 WHERE email = {n}', 'SELECT x FROM t9 WHERE id = {n}', 'UPDATE t SET x = {n} WHERE id = {n}',
  'SELECT id FROM t WHERE id === {n}',
];

describe('red team: session state and catalog versions', () => {
  it('a state change between two texts of one shape', () => {
    const findings: unknown[] = [];
    let hits = 0;
    for (const [name, make] of Object.entries(SESSIONS)) {
      for (const x of STATE_CHANGES) {
        for (const t of AFTER) {
          const warm = make();
          judge(warm, fill(t, ['1']));
          judge(warm, x);
          const before = warm.shapeHits;
          const cached = judge(warm, fill(t, ['2']));
          hits += warm.shapeHits - before;
          const ref = make();
          judge(ref, x);
          const fresh = judge(ref, fill(t, ['2']));
          if (JSON.stringify(cached) !== JSON.stringify(fresh)) findings.push({ name, x, t, cached, fresh });
          // The same session with no kept verdicts (forgotten before each text) must also agree.
          const bare = make();
          const forget = () => (bare as unknown as { shapes: Map<string, unknown> }).shapes.clear();
          for (const sql of [fill(t, ['1']), x]) { forget(); judge(bare, sql); }
          forget();
          const uncached = judge(bare, fill(t, ['2']));
          if (JSON.stringify(cached) !== JSON.stringify(uncached)) findings.push({ name, x, t, cached, uncached });
        }
      }
    }
    console.log('state', hits);
    expect(findings).toEqual([]);
    expect(hits).toBeGreaterThan(50);
  });

  it('a named Parse of a shared shape is remembered under its name; EXECUTE runs what it was judged as', () => {
    for (const make of Object.values(SESSIONS)) {
      const warm = make();
      judge(warm, 'DELETE FROM t WHERE id = 1');
      judge(warm, 'DELETE FROM t WHERE id = 2', { prepareAs: 'p' });
      judge(warm, 'DELETE FROM t WHERE id = 3', { prepareAs: '' });
      const ref = make();
      judge(ref, 'DELETE FROM t WHERE id = 2', { prepareAs: 'p' });
      expect(judge(warm, 'EXECUTE p')).toEqual(judge(ref, 'EXECUTE p'));
      // A shape kept before a PREPARE of the same name does not stand in for the EXECUTE.
      const w2 = make();
      judge(w2, 'PREPARE p AS SELECT id FROM t WHERE id = 1');
      judge(w2, 'PREPARE p2 AS DELETE FROM t');
      judge(w2, 'DEALLOCATE p; PREPARE p AS DELETE FROM t');
      const r2 = make();
      judge(r2, 'PREPARE p AS DELETE FROM t');
      expect(judge(w2, 'EXECUTE p')).toEqual(judge(r2, 'EXECUTE p'));
    }
  });

  it('texts where the scanner and PostgreSQL part ways are never served by shape', () => {
    // PostgreSQL ends a -- comment at \r too (the scanner at \n only): the code after \r keeps its numbers in the key.
    for (const [a, b] of [
      ['DELETE FROM t WHERE id = 1 -- c\r OR 1 = 1\n', 'DELETE FROM t WHERE id = 2 -- c\r OR 1 = 1\n'],
      ["DELETE FROM t WHERE id = 1 -- c\r OR x = ' \n' OR 5 = 5 OR '", "DELETE FROM t WHERE id = 2 -- c\r OR x = ' \n' OR 5 = 5 OR '"],
      ['DELETE FROM t WHERE id = - -1', 'DELETE FROM t WHERE id = - -2'], ['DELETE FROM t WHERE id = -/**/1', 'DELETE FROM t WHERE id = -/**/2'],
    ]) {
      const warm = SESSIONS['guard+masking']!();
      judge(warm, a!);
      expect(judge(warm, b!), b).toEqual(judge(SESSIONS['guard+masking']!(), b!));
      expect(warm.shapeHits, b).toBe(0);
    }
  });

  it('a new catalog version (a protected column added, a user operator appearing) is judged again', () => {
    let snapshot = snapshotV(1);
    const moving: TargetCatalog = { get snapshot() { return snapshot; }, refresh: () => Promise.resolve() };
    for (const make of Object.values(SESSIONS)) {
      snapshot = snapshotV(1);
      const warm = make(moving);
      const texts = ['SELECT id FROM t WHERE id = 1', 'SELECT id FROM t WHERE x === 1', 'SELECT * FROM orders WHERE id = 1'];
      for (const sql of texts) judge(warm, sql);
      snapshot = buildSnapshot(2, {
        relations: [rel(10, 'customers', ['id', 'name', 'email']), rel(11, 't', ['id', 'x', 'ok']), rel(12, 'orders', ['id', 'total'])],
        operators: [{ schema: 'public', name: '===', functionSchema: 'public', functionName: 'wipe' }, { schema: 'public', name: '=', functionSchema: 'public', functionName: 'wipe' }],
        functions: [{ oid: 2, schema: 'public', name: 'wipe', extension: false }],
      });
      for (const sql of texts) expect(judge(warm, sql.replace('1', '2'))).toEqual(judge(make(moving), sql.replace('1', '2')));
    }
  });
});

// Not a hole of the shape cache but found while probing pg_settings for it: the built-in rule
// standard-conforming-strings reads SET and set_config only, and UPDATE pg_settings runs set_config through
// the view's rule. Through a gateway (test/adversarial/pg harness, PostgreSQL 18) the two Query messages
// `UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'` and
// `SELECT '\', $$ '; DROP TABLE v; -- $$` sent in one pipelined write dropped v: the second was judged
// (as one harmless SELECT) and forwarded before the server's ParameterStatus ended the session.
describe('red team: UPDATE pg_settings changes how the server reads the client’s text', () => {
  it('is refused like SET standard_conforming_strings = off, also with a computed name', () => {
    for (const make of [SESSIONS['guard only']!, SESSIONS['guard+masking']!]) {
      for (const sql of [
        "UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'",
        "UPDATE pg_catalog.pg_settings SET setting = 'off' WHERE name = 'standard_' || 'conforming_strings'",
      ]) expect(judge(make(), sql), sql).toMatchObject({ action: 'block', rule: 'standard-conforming-strings' });
    }
  });
});
