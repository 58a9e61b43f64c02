import { beforeAll, describe, expect, it } from 'vitest';
import { buildSnapshot, type CatalogRelation } from '../catalog.js';
import { loadSqlParser } from '../guardrails.js';
import { compileMasking } from '../rules.js';
import { parseSql } from '../sql-policy.js';
import type { SqlVerdict } from '../types.js';
import { Provenance } from './session.js';

const cols = (...names: string[]) => names.map((name, i) => ({ attnum: i + 1, name, type: 'text' }));
const rel = (oid: number, schema: string, name: string, columns: string[], extra: Partial<CatalogRelation> = {}): CatalogRelation =>
  ({ oid, schema, name, kind: 'r', temp: false, columns: cols(...columns), parents: [], ...extra });

const relations = [
    rel(10, 'public', 'customers', ['id', 'name', 'email', 'ssn']),
    rel(11, 'public', 'orders', ['id', 'customer_id', 'total']),
    rel(12, 'public', 'customers_2024', ['id', 'name', 'email', 'ssn'], { parents: [10] }),
    rel(13, 'public', 'v_emails', ['email'], { kind: 'v' }),
    rel(14, 'public', 'v_totals', ['total'], { kind: 'v' }),
    rel(16, 'pg_catalog', 'pg_stats', ['attname', 'most_common_vals']),
    rel(17, 'public', 'Mixed Case', ['id', 'Email']),
];
const parts = {
  viewDependencies: new Map([[13, { columns: [{ relation: 10, attnum: 3 }], functions: [] }], [14, { columns: [{ relation: 11, attnum: 3 }], functions: [] }]]),
  functions: [
    { oid: 1, schema: 'pg_catalog', name: 'lower', extension: false },
    { oid: 2, schema: 'pg_catalog', name: 'count', extension: false },
    { oid: 3, schema: 'pg_catalog', name: 'row_to_json', extension: false },
    { oid: 4, schema: 'public', name: 'leak', extension: false },
    { oid: 5, schema: 'public', name: 'report_total', extension: false },
    { oid: 6, schema: 'pg_catalog', name: 'query_to_xml', extension: false },
  ],
};
const snapshot = buildSnapshot(1, { relations, ...parts });
/** Another schema has a `customers` with other columns. */
const twoSchemas = buildSnapshot(2, { relations: [...relations, rel(15, 'other', 'customers', ['id', 'note'])], ...parts });

const rules = compileMasking([
  { name: 'email', column: '*email*' },
  { name: 'ssn', column: 'public.customers.ssn', replace: "it's \\ hidden" },
], 't');
const provenance = new Provenance(rules, ['public.report_*']);

function plan(sql: string, refreshed = false): SqlVerdict {
  const parsed = parseSql(sql);
  if (parsed.error !== undefined) throw new Error(parsed.error);
  return provenance.forSession('agent', 'db')!.plan(parsed, sql, snapshot, refreshed);
}

const CUSTOMERS = `SELECT "id", "name", '[masked:email]'::text AS "email", E'it''s \\\\ hidden'::text AS "ssn" FROM customers`;

describe('masking by provenance: the rewrite', () => {
  beforeAll(() => loadSqlParser());

  it('replaces a protected table by a masked projection, keeping the alias and every other byte', () => {
    expect(plan('SELECT lower(email) AS e FROM customers c WHERE id > 1')).toEqual({
      action: 'allow', forward: `SELECT lower(email) AS e FROM (${CUSTOMERS}) c WHERE id > 1`,
    });
    expect(plan('SELECT customers.email FROM customers')).toEqual({
      action: 'allow', forward: `SELECT customers.email FROM (${CUSTOMERS}) AS "customers"`,
    });
  });

  it('forwards byte-identical text that touches no protected relation', () => {
    expect(plan('SELECT total FROM orders WHERE id = 1')).toEqual({ action: 'allow' });
    expect(plan('SELECT count(*) FROM v_totals')).toEqual({ action: 'allow' });
  });

  it('counts offsets in UTF-8 bytes', () => {
    const v = plan("SELECT 'é€😀', email FROM customers");
    expect(v).toEqual({ action: 'allow', forward: `SELECT 'é€😀', email FROM (${CUSTOMERS}) AS "customers"` });
  });

  it.each([
    ['WITH x AS (SELECT email FROM customers) SELECT * FROM x', 'WITH x AS (SELECT email FROM (C) AS "customers") SELECT * FROM x'],
    ['SELECT 1 FROM orders o JOIN customers c ON c.id = o.customer_id, LATERAL (SELECT email FROM customers d) z',
      'SELECT 1 FROM orders o JOIN (C) c ON c.id = o.customer_id, LATERAL (SELECT email FROM (C) d) z'],
    ['SELECT email FROM ONLY customers UNION SELECT email FROM public.customers *',
      'SELECT email FROM (SELECT "id", "name", \'[masked:email]\'::text AS "email", E\'it\'\'s \\\\ hidden\'::text AS "ssn" FROM ONLY customers) AS "customers" UNION SELECT email FROM (SELECT "id", "name", \'[masked:email]\'::text AS "email", E\'it\'\'s \\\\ hidden\'::text AS "ssn" FROM public.customers) AS "customers"'],
    ['DECLARE k CURSOR FOR SELECT * FROM customers', 'DECLARE k CURSOR FOR SELECT * FROM (C) AS "customers"'],
    ['PREPARE p AS SELECT email FROM customers WHERE id = $1', 'PREPARE p AS SELECT email FROM (C) AS "customers" WHERE id = $1'],
    ['CREATE TEMP TABLE t AS SELECT email FROM customers', 'CREATE TEMP TABLE t AS SELECT email FROM (C) AS "customers"'],
    ['EXPLAIN ANALYZE SELECT email FROM customers', 'EXPLAIN ANALYZE SELECT email FROM (C) AS "customers"'],
    ['COPY (SELECT email FROM customers) TO STDOUT', 'COPY (SELECT email FROM (C) AS "customers") TO STDOUT'],
    ['INSERT INTO orders SELECT id, id, 0 FROM customers WHERE email > \'a\'', 'INSERT INTO orders SELECT id, id, 0 FROM (C) AS "customers" WHERE email > \'a\''],
    ['SELECT row_to_json(c) FROM customers AS c(a, b, e)', 'SELECT row_to_json(c) FROM (C) AS c(a, b, e)'],
  ])('%s', (sql, expected) => {
    expect(plan(sql)).toEqual({ action: 'allow', forward: expected.replaceAll('(C)', `(${CUSTOMERS})`) });
  });

  it('masks partitions and children, and rules by schema.table.column only where they point', () => {
    const v = plan('SELECT * FROM customers_2024, "Mixed Case"');
    expect(v.action === 'allow' && v.forward).toContain('E\'it\'\'s \\\\ hidden\'::text AS "ssn" FROM customers_2024');
    expect(v.action === 'allow' && v.forward).toContain(`(SELECT "id", '[masked:email]'::text AS "Email" FROM "Mixed Case") AS "Mixed Case"`);
  });

  it('leaves a CTE of a protected table\'s name alone, but not a table of a later CTE\'s name', () => {
    expect(plan('WITH customers AS (SELECT 1 AS email) SELECT email FROM customers')).toEqual({ action: 'allow' });
    const v = plan('WITH a AS (SELECT email FROM customers), customers AS (SELECT 1) SELECT * FROM a');
    expect(v.action === 'allow' && v.forward).toContain(`FROM (${CUSTOMERS}) AS "customers"), customers AS`);
  });

  it('rewrites COPY of a protected table into COPY of its masked projection, options kept', () => {
    expect(plan('COPY public.customers (id, email) TO STDOUT WITH (FORMAT csv)')).toEqual({
      action: 'allow', forward: `COPY (SELECT "id", '[masked:email]'::text AS "email" FROM ONLY public.customers) TO STDOUT WITH (FORMAT csv)`,
    });
    expect(plan('COPY orders TO STDOUT')).toEqual({ action: 'allow' });
    expect(plan('COPY customers FROM STDIN')).toEqual({ action: 'allow' });
  });
});

describe('masking by provenance: what it refuses', () => {
  beforeAll(() => loadSqlParser());

  it.each([
    ["DELETE FROM customers WHERE email LIKE 'a%' RETURNING id", 'email', /DELETE on customers reads protected column email in WHERE/],
    ['UPDATE customers c SET name = c.ssn', 'ssn', /reads protected column c.ssn in SET/],
    ['UPDATE customers SET name = \'x\' RETURNING *', 'email', /\* \(every column/],
    ['DELETE FROM customers c WHERE id = 1 RETURNING row_to_json(c)', 'email', /whole row of c/],
    ["INSERT INTO customers (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET name = customers.email", 'email', /ON CONFLICT/],
    ['MERGE INTO customers t USING orders s ON t.email = s.total::text WHEN MATCHED THEN DELETE', 'email', /MERGE condition/],
    ['SELECT * FROM v_emails', 'email', /view public.v_emails reads protected public.customers/],
    ['ALTER TABLE customers ADD COLUMN e2 text GENERATED ALWAYS AS (email) STORED', 'email', /ALTER TABLE/],
    ['CREATE TRIGGER t BEFORE UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION leak()', 'masking-provenance', /leak\(\) is a user-defined function/],
    ['CREATE TABLE o2 (e text REFERENCES customers (email))', 'email', /foreign key/],
    ['SELECT * FROM customers TABLESAMPLE system (50)', 'email', /TABLESAMPLE/],
    ['SELECT * FROM pg_stats', 'email', /statistics/],
    ['SELECT o.leak FROM orders o', 'masking-provenance', /\.leak may call public.leak\(\)/],
    ['SELECT leak()', 'masking-provenance', /public.leak\(\) is a user-defined function not listed in sql.trustedFunctions/],
    ["SELECT query_to_xml('select email from customers', true, true, '')", 'masking-provenance', /runs SQL or reads a relation given as text/],
    ["DO $$ BEGIN RAISE NOTICE '%', (SELECT email FROM customers LIMIT 1); END $$", 'masking-provenance', /DO block/],
    ['CREATE FUNCTION report_leak() RETURNS text LANGUAGE sql AS $$ SELECT email FROM customers $$', 'masking-provenance', /trusted name/],
    ["COPY orders FROM PROGRAM 'psql -c \"select email from customers\"'", 'masking-provenance', /PROGRAM/],
  ])('%s', (sql, rule, reason) => {
    const v = plan(sql);
    expect(v).toMatchObject({ action: 'block', rule });
    expect(v.action === 'block' && v.reason).toMatch(reason);
  });

  it('refuses an unqualified name whose relations in different schemas differ, and takes the qualified one', () => {
    const sess = new Provenance(compileMasking([{ name: 'email', column: 'public.customers.email' }], 't'), []).forSession('a', 'b')!;
    const parsed = parseSql('SELECT * FROM customers') as Parameters<typeof sess.plan>[0];
    expect(sess.plan(parsed, 'SELECT * FROM customers', twoSchemas, false)).toMatchObject({ action: 'block', rule: 'email', reason: expect.stringMatching(/qualify it/) });
    const q = 'SELECT * FROM other.customers';
    expect(sess.plan(parseSql(q) as typeof parsed, q, twoSchemas, false)).toEqual({ action: 'allow' });
  });

  it('allows plain assignment to a protected column, and a trusted function', () => {
    expect(plan("UPDATE customers SET email = 'new@x' WHERE id = 1")).toEqual({ action: 'allow' });
    expect(plan("INSERT INTO customers (id, email) VALUES (1, 'a@b') ON CONFLICT (email) DO NOTHING")).toEqual({ action: 'allow' });
    expect(plan('SELECT report_total()')).toEqual({ action: 'allow' });
  });

  it('asks for a refresh on unknown names, refuses them after one, unless this session created them', () => {
    const sess = provenance.forSession('agent', 'db')!;
    const run = (sql: string, refreshed = false) => sess.plan(parseSql(sql) as Parameters<typeof sess.plan>[0], sql, snapshot, refreshed);
    expect(run('SELECT * FROM nowhere')).toEqual({ action: 'refresh' });
    expect(run('SELECT * FROM nowhere', true)).toMatchObject({ action: 'block', rule: 'masking-provenance', reason: expect.stringMatching(/cannot resolve nowhere/) });
    expect(run('SELECT mystery(1)', true)).toMatchObject({ action: 'block', reason: expect.stringMatching(/cannot resolve mystery/) });
    expect(run('CREATE TEMP TABLE scratch AS SELECT email FROM customers')).toMatchObject({ action: 'allow' });
    expect(run('SELECT * FROM scratch', true)).toEqual({ action: 'allow' });
    expect(run('SELECT * FROM nowhere', true)).toMatchObject({ action: 'block' });
  });

  it('answers the RowDescription line by table OID and attribute number', () => {
    const sess = provenance.forSession('agent', 'db')!;
    expect(sess.protectedColumn(10, 3, snapshot)).toBe('email');
    expect(sess.protectedColumn(10, 4, snapshot)).toBe('ssn');
    expect(sess.protectedColumn(12, 4, snapshot)).toBe('ssn'); // a partition of customers
    expect(sess.protectedColumn(11, 3, snapshot)).toBeUndefined();
    expect(sess.protectedColumn(10, 1, snapshot)).toBeUndefined();
  });
});

describe('masking by provenance: pattern rules applied at source columns', () => {
  beforeAll(() => loadSqlParser());
  const columns = (...spec: [string, string][]) => spec.map(([name, type], i) => ({ attnum: i + 1, name, type }));
  const clientColumns = columns(['id', 'integer'], ['email', 'text'], ['notes', 'character varying(200)'], ['meta', 'jsonb'],
    ['card_no', 'bigint'], ['born', 'date'], ['tags', 'text[]']);
  const typed = buildSnapshot(7, { relations: [
    { oid: 20, schema: 'public', name: 'clients', kind: 'r', temp: false, parents: [], columns: clientColumns },
    { oid: 21, schema: 'public', name: 'clients_eu', kind: 'r', temp: false, parents: [20], columns: clientColumns },
    { oid: 22, schema: 'public', name: 'orders', kind: 'r', temp: false, parents: [], columns: columns(['id', 'integer'], ['item', 'text']) },
  ] });
  const sourceRules = compileMasking([
    { name: 'email', column: 'clients.email' },
    { name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b', columns: ['clients.*'] },
    { name: 'card', builtin: 'credit-card', columns: ['clients.*', 'clients.card_no'], replace: 'card & \\ gone' },
    { name: 'other-scope', builtin: 'iban', columns: ['orders.*'], identities: ['someone-else'] },
  ], 't');
  const session = () => new Provenance(sourceRules, []).forSession('agent', 'db')!;
  const run = (sql: string, sess = session()) => sess.plan(parseSql(sql) as Parameters<typeof sess.plan>[0], sql, typed, false);
  const SSN = "pg_catalog.regexp_replace(\"notes\"::pg_catalog.text, E'[0-9]{3}\\\\u002d[0-9]{2}\\\\u002d[0-9]{4}', '[masked:ssn]', 'g')";
  const CARD = "'[0-9](?:[ -]?[0-9]){12,}', E'card \\\\& \\\\\\\\ gone', 'g')";

  it('projects each such column as one regexp_replace per rule in rule order, over the column as text', () => {
    const v = run('SELECT notes FROM clients c');
    expect(v.action === 'allow' && v.forward).toBe(`SELECT notes FROM (SELECT "id", '[masked:email]'::text AS "email", `
      + `pg_catalog.regexp_replace(${SSN}, ${CARD} AS "notes", `
      + `(pg_catalog.regexp_replace(pg_catalog.regexp_replace("meta"::pg_catalog.text, E'[0-9]{3}\\\\u002d[0-9]{2}\\\\u002d[0-9]{4}', '[masked:ssn]', 'g'), ${CARD})::pg_catalog.jsonb AS "meta", `
      + `pg_catalog.regexp_replace("card_no"::pg_catalog.text, ${CARD} AS "card_no", "born", `
      + `pg_catalog.regexp_replace(pg_catalog.regexp_replace("tags"::pg_catalog.text, E'[0-9]{3}\\\\u002d[0-9]{2}\\\\u002d[0-9]{4}', '[masked:ssn]', 'g'), ${CARD} AS "tags" FROM clients) c`);
  });

  it('a wildcard reaches text-like columns only; a column named exactly is reached whatever its type; children inherit', () => {
    const sess = session();
    expect(sess.protectedColumn(20, 1, typed)).toBeUndefined(); // integer id under clients.*
    expect(sess.protectedColumn(20, 6, typed)).toBeUndefined(); // date
    expect(sess.protectedColumn(20, 3, typed)).toBe('ssn');
    expect(sess.protectedColumn(20, 5, typed)).toBe('card'); // bigint, named exactly
    expect(sess.protectedColumn(20, 2, typed)).toBe('email'); // a column rule's constant wins over patterns
    expect(sess.protectedColumn(21, 3, typed)).toBe('ssn');
    expect(run('SELECT * FROM clients_eu WHERE id = 1').action === 'allow').toBe(true);
  });

  it('a statement that touches no such table is forwarded as it came, and planned once (a cache hit after)', () => {
    const sess = session();
    const first = run('SELECT item FROM orders WHERE id = 1', sess);
    expect(first).toEqual({ action: 'allow' });
    expect(run('SELECT item FROM orders WHERE id = 1', sess)).toBe(first);
  });

  it('protects these columns from writes and DDL exactly like column-protected ones', () => {
    const refused: [string, string, RegExp][] = [
      ["UPDATE clients SET born = '2000-01-01' WHERE notes LIKE '%1%'", 'ssn', /reads protected column notes in WHERE/],
      ['DELETE FROM clients WHERE id = 1 RETURNING card_no', 'card', /protected column card_no in RETURNING/],
      ['UPDATE clients SET notes = tags::pg_catalog.text', 'ssn', /protected column tags in SET/],
      ['ALTER TABLE clients ADD COLUMN n2 text GENERATED ALWAYS AS (notes) STORED', 'email', /ALTER TABLE/], // the table's first rule
      ['CREATE INDEX ON clients (notes)', 'email', /CREATE INDEX/],
    ];
    for (const [sql, rule, reason] of refused) expect(run(sql), sql).toMatchObject({ action: 'block', rule, reason: expect.stringMatching(reason) });
    expect(run("UPDATE clients SET notes = 'new' WHERE id = 1")).toEqual({ action: 'allow' });
    expect(run("UPDATE clients SET born = '2000-01-01' WHERE born < '1990-01-01'")).toEqual({ action: 'allow' });
  });

  it('applies only the rules in scope for the session', () => {
    expect(run('SELECT item FROM orders')).toEqual({ action: 'allow' }); // the iban rule is someone else's
    expect(new Provenance(sourceRules.slice(3), []).forSession('agent', 'db')).toBeUndefined();
    expect(new Provenance(sourceRules.slice(3), []).forSession('someone-else', 'db')).toBeDefined();
  });
});
