import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType } from '../common/recording/index.js';
import { catalogFor } from '../gateway/pg/catalog.js';
import type { TargetCatalog } from '../gateway/policy/catalog.js';
import { loadSqlParser } from '../gateway/policy/guardrails.js';
import { toAre } from '../gateway/policy/provenance/are.js';
import { Provenance } from '../gateway/policy/provenance/index.js';
import { BUILTIN_RECOGNIZERS } from '../gateway/policy/recognizers.js';
import { compileMasking } from '../gateway/policy/rules.js';
import { parseSql } from '../gateway/policy/sql-policy.js';
import type { SqlVerdict } from '../gateway/policy/types.js';
import { CUSTOMERS, findLeaks } from './adversarial/pg/seed.js';
import { eventually, readEvents, startTestGateway } from './helpers/gateway.js';
import { startPostgres, type PgServer } from './helpers/postgres.js';

/**
 * Masking by provenance against a real PostgreSQL: the catalog is read from the
 * server, each statement is planned, and what the plan forwards is run on the
 * server directly; nothing the client would receive (rows, COPY data, errors,
 * notices) may hold a seeded value.
 */
let db: PgServer;
let catalog: TargetCatalog;
let client: pg.Client;
const PASSWORD_ENV = 'HOPSCOPE_PROVENANCE_TEST_PASSWORD';
const SECRETS = ['alice@example.com', 'bob@example.org', '078-05-1120', '219-09-9999', 'carol@example.net'];

const rules = compileMasking([
  { name: 'email', column: '*email*' },
  { name: 'ssn', column: 'public.customers.ssn' },
], 't');
const provenance = new Provenance(rules, ['public.trusted_*']);

beforeAll(async () => {
  await loadSqlParser();
  db = await startPostgres();
  client = new pg.Client(db.app);
  await client.connect();
  await client.query(`
    CREATE TABLE customers (id int PRIMARY KEY, name text, email text UNIQUE, ssn text);
    INSERT INTO customers VALUES (1, 'Alice', 'alice@example.com', '078-05-1120'), (2, 'Bob', 'bob@example.org', '219-09-9999');
    CREATE TABLE orders (id int, customer_id int, total numeric);
    INSERT INTO orders VALUES (10, 1, 5), (11, 2, 7);
    CREATE TABLE events (id int, at date, contact_email text) PARTITION BY RANGE (at);
    CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    INSERT INTO events VALUES (1, '2024-05-01', 'carol@example.net');
    CREATE VIEW v_contacts AS SELECT id, upper(email) AS e FROM customers;
    CREATE VIEW v_over_view AS SELECT e FROM v_contacts;
    CREATE VIEW v_totals AS SELECT customer_id, sum(total) FROM orders GROUP BY 1;
    CREATE FUNCTION leak() RETURNS text LANGUAGE sql AS $$ SELECT email FROM customers LIMIT 1 $$;
    CREATE FUNCTION trusted_total() RETURNS numeric LANGUAGE sql AS $$ SELECT sum(total) FROM orders $$;
    ANALYZE customers;`);
  process.env[PASSWORD_ENV] = db.appPassword;
  catalog = catalogFor({ name: 'prov', type: 'postgres', host: db.host, port: db.port, database: db.appDatabase, user: db.appUser, password: { env: PASSWORD_ENV } });
  await catalog.refresh();
}, 120_000);
afterAll(async () => {
  await client?.end();
  await db?.stop();
});

const session = () => provenance.forSession('agent', 'prov')!;

/** Plans as the session would (refreshing once when asked). */
async function plan(sql: string, sess = session()): Promise<SqlVerdict> {
  const parsed = parseSql(sql);
  if (parsed.error !== undefined) throw new Error(parsed.error);
  let verdict = sess.plan(parsed, sql, catalog.snapshot, false);
  if (verdict.action === 'refresh') {
    await catalog.refresh();
    verdict = sess.plan(parsed, sql, catalog.snapshot, true);
  }
  return verdict;
}

/** Runs what the plan forwards; everything the server sent back, as one text. */
async function runForwarded(sql: string, sess = session()): Promise<{ verdict: SqlVerdict; output: string }> {
  const verdict = await plan(sql, sess);
  if (verdict.action !== 'allow') return { verdict, output: '' };
  const notices: string[] = [];
  const onNotice = (n: { message?: string }) => { notices.push(n.message ?? ''); };
  client.on('notice', onNotice);
  let output: string;
  try {
    // node-postgres has no COPY: run the query a `COPY (query) TO STDOUT` would copy.
    const text = (verdict.forward ?? sql).replace(/^COPY \(([\s\S]*)\) TO STDOUT$/i, '$1');
    const res = await client.query({ text, rowMode: 'array' });
    output = JSON.stringify((Array.isArray(res) ? res : [res]).map((r: pg.QueryResult) => r.rows));
  } catch (err) {
    const e = err as pg.DatabaseError;
    output = `ERROR ${e.message} ${e.detail ?? ''} ${e.where ?? ''} ${e.hint ?? ''}`;
  } finally {
    client.off('notice', onNotice);
  }
  return { verdict, output: `${output} ${notices.join(' ')}` };
}

const leaked = (text: string) => SECRETS.filter((s) => text.includes(s));

describe('the target catalog', () => {
  it('reads relations with their columns, partitions, view dependencies and functions; a refresh sees new objects', async () => {
    const snap = catalog.snapshot!;
    const customers = snap.relationsByName.get('customers')![0]!;
    expect(customers.columns.map((c) => c.name)).toEqual(['id', 'name', 'email', 'ssn']);
    const part = snap.relationsByName.get('events_2024')![0]!;
    expect(part.parents).toEqual([snap.relationsByName.get('events')![0]!.oid]);
    const view = snap.relationsByName.get('v_contacts')![0]!;
    expect(snap.viewDependencies.get(view.oid)!.columns).toContainEqual({ relation: customers.oid, attnum: 3 });
    expect(snap.functionsByName.get('leak')![0]!.schema).toBe('public');
    const before = snap.version;
    await client.query('CREATE TABLE later (x int)');
    await Promise.all([catalog.refresh(), catalog.refresh(), catalog.refresh()]);
    expect(catalog.snapshot!.relationsByName.has('later')).toBe(true);
    expect(catalog.snapshot!.version - before).toBeGreaterThanOrEqual(1);
    expect(catalog.snapshot!.version - before).toBeLessThanOrEqual(2); // coalesced: one running, one queued
  });

  it('answers protectedColumn by the OIDs RowDescription carries', async () => {
    const res = await client.query('SELECT email, ssn, name FROM customers LIMIT 1');
    const [email, ssn, name] = res.fields;
    const sess = session();
    expect(sess.protectedColumn(email!.tableID, email!.columnID, catalog.snapshot)).toBe('email');
    expect(sess.protectedColumn(ssn!.tableID, ssn!.columnID, catalog.snapshot)).toBe('ssn');
    expect(sess.protectedColumn(name!.tableID, name!.columnID, catalog.snapshot)).toBeUndefined();
    const part = await client.query('SELECT contact_email FROM events_2024');
    expect(sess.protectedColumn(part.fields[0]!.tableID, part.fields[0]!.columnID, catalog.snapshot)).toBe('email');
  });
});

describe('what the server runs computes from the mask', () => {
  const wrappers = [
    (c: string) => c, (c: string) => `lower(${c})`, (c: string) => `${c}::bytea`, (c: string) => `replace(${c}, '@', ' at ')`,
    (c: string) => `${c} || 'x'`, (c: string) => `string_agg(${c}, ',')`, (c: string) => `to_jsonb(${c})`, (c: string) => `md5(${c})`,
    (c: string) => `(SELECT max(${c}) FROM customers)`, (c: string) => `translate(${c}, 'abc', 'xyz')`, (c: string) => `encode(convert_to(${c}, 'UTF8'), 'hex')`,
  ];
  const shapes = [
    (e: string) => `SELECT ${e} AS x FROM customers`,
    (e: string) => `SELECT ${e} FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY o.id`,
    (e: string) => `WITH t AS (SELECT * FROM customers) SELECT ${e} FROM t AS customers`,
    (e: string) => `SELECT * FROM (SELECT ${e} AS x FROM public.customers) s UNION ALL SELECT 'y'`,
    (e: string) => `SELECT (SELECT ${e} FROM customers WHERE id = o.customer_id) FROM orders o`,
    (e: string) => `COPY (SELECT ${e} FROM customers) TO STDOUT`,
  ];
  const variants = shapes.flatMap((shape) => wrappers.flatMap((w) => ['email', 'ssn'].map((col) => shape(w(col)))));

  it(`${variants.length} generated variants (functions × columns × statement shapes) leak nothing`, async () => {
    const results: string[] = [];
    for (const sql of variants) {
      const { verdict, output } = await runForwarded(sql);
      expect(verdict.action, sql).toBe('allow');
      expect(leaked(output), `${sql}\n${output}`).toEqual([]);
      results.push(output);
    }
    expect(results.join(' ')).toContain('[masked:');
  });

  it.each([
    'SELECT row_to_json(c) FROM customers c',
    'SELECT json_agg(c.*) FROM customers AS c',
    'SELECT to_jsonb(customers) FROM customers',
    'SELECT c FROM customers c',
    'SELECT * FROM events',
    'SELECT * FROM events_2024',
    'SELECT * FROM ONLY customers',
    'SELECT x.* FROM customers x(a, b, c, d)',
    'SELECT email::int FROM customers',
    "SELECT set_config('application_name', email, false) FROM customers",
    "SELECT pg_notify('ch', email) FROM customers",
    'SELECT count(*) FILTER (WHERE email LIKE \'a%\') FROM customers',
    'TABLE customers',
    'SELECT * FROM customers FOR UPDATE',
    'SELECT * FROM orders, LATERAL (SELECT email FROM customers WHERE id = orders.customer_id) l',
    'EXPLAIN (ANALYZE, VERBOSE, COSTS OFF) SELECT email FROM customers WHERE email = \'alice@example.com\'',
    "SELECT email FROM customers WHERE email = 'alice@example.com'",
  ])('%s', async (sql) => {
    const { verdict, output } = await runForwarded(sql);
    expect(verdict.action).toBe('allow');
    expect(leaked(output.replace(/'alice@example.com'/g, '')), output).toEqual([]);
  });

  it('an error that quotes the value quotes the mask', async () => {
    const { output } = await runForwarded('SELECT email::int FROM customers');
    expect(output).toMatch(/invalid input syntax for type integer: "\[masked:email\]"/);
  });

  it('cursors, prepared statements, temp tables and views made through the policy carry masks', async () => {
    const sess = session();
    const steps = [
      'BEGIN', 'DECLARE k CURSOR FOR SELECT email, ssn FROM customers', 'FETCH ALL FROM k', 'COMMIT',
      'PREPARE p AS SELECT upper(email) FROM customers WHERE id = $1', 'EXECUTE p(1)', 'DEALLOCATE p',
      'CREATE TEMP TABLE copied AS SELECT * FROM customers', 'SELECT * FROM copied',
      'SELECT email, ssn INTO TEMP copied2 FROM customers', 'SELECT * FROM copied2',
      'CREATE TEMP VIEW tv AS SELECT email FROM customers', 'SELECT * FROM tv',
      'BEGIN', 'CREATE TABLE in_tx AS SELECT * FROM customers', 'SELECT * FROM in_tx', 'ROLLBACK',
    ];
    const outputs: string[] = [];
    for (const sql of steps) {
      const { verdict, output } = await runForwarded(sql, sess);
      expect(verdict.action, sql).toBe('allow');
      outputs.push(output);
    }
    expect(leaked(outputs.join(' '))).toEqual([]);
    expect(outputs.join(' ')).toContain('[masked:ssn]');
  });

  it('COPY of a protected table runs as COPY of its masked projection (psql \\copy, pg_dump)', async () => {
    const v = await plan('COPY public.customers (id, name, email, ssn) TO stdout;');
    expect(v).toEqual({ action: 'allow', forward: `COPY (SELECT "id", "name", '[masked:email]'::text AS "email", '[masked:ssn]'::text AS "ssn" FROM ONLY public.customers) TO stdout;` });
    const res = await client.query({ text: (v as { forward: string }).forward.replace(/ TO stdout;$/, '').replace(/^COPY \(/, '').replace(/\)$/, ''), rowMode: 'array' });
    expect(leaked(JSON.stringify(res.rows))).toEqual([]);
    expect(res.rows).toHaveLength(2);
  });
});

describe('what is refused, with the rule named', () => {
  it.each([
    ["DELETE FROM customers WHERE email LIKE 'a%' RETURNING id", 'email'],
    ["UPDATE customers SET name = 'x' WHERE ssn LIKE '078%'", 'ssn'],
    ['UPDATE customers SET name = email', 'email'],
    ['INSERT INTO customers VALUES (3, \'c\', \'c@x\', \'1\') RETURNING *', 'email'],
    ['SELECT * FROM v_contacts', 'email'],
    ['SELECT * FROM v_over_view', 'email'],
    ['SELECT leak()', 'masking-provenance'],
    ['SELECT * FROM pg_stats', 'email'],
    ["SELECT query_to_xml('select email from customers', true, true, '')", 'masking-provenance'],
    ["DO $$ BEGIN RAISE NOTICE '%', (SELECT email FROM customers LIMIT 1); END $$", 'masking-provenance'],
    ['ALTER TABLE customers ALTER COLUMN ssn TYPE int USING ssn::int', 'email'], // the first rule protecting the table
    ['CREATE TRIGGER t BEFORE INSERT ON customers FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()', 'email'],
    ['CREATE RULE r AS ON UPDATE TO customers DO ALSO NOTIFY ch', 'email'],
    ['CREATE POLICY p ON customers USING (true)', 'email'],
    ['ALTER TABLE customers RENAME TO clients', 'email'],
    ['SELECT * FROM nope_not_here', 'masking-provenance'],
  ])('%s', async (sql, rule) => {
    const verdict = await plan(sql);
    expect(verdict).toMatchObject({ action: 'block', rule });
  });

  it('allows what reads no protected value: trusted functions, assignments, unprotected views', async () => {
    for (const sql of ['SELECT trusted_total()', "UPDATE customers SET email = 'new@example.com' WHERE id = 2", 'SELECT * FROM v_totals']) {
      const { verdict, output } = await runForwarded(sql);
      expect(verdict, sql).toEqual({ action: 'allow' });
      expect(output).not.toMatch(/^ERROR/);
    }
    await client.query("UPDATE customers SET email = 'bob@example.org' WHERE id = 2");
  });
});

describe('what the rewrite cannot reach (the session must mask it)', () => {
  it('a constraint violation on a protected table is allowed as a write, and its DETAIL quotes the stored row', async () => {
    await client.query('ALTER TABLE customers ADD CONSTRAINT name_short CHECK (length(name) < 20) NOT VALID');
    try {
      const sql = "UPDATE customers SET name = repeat('x', 30) WHERE id = 1";
      expect(await plan(sql)).toEqual({ action: 'allow' }); // assigning a new value reads nothing
      const err = await client.query(sql).catch((e: pg.DatabaseError) => e);
      // PostgreSQL's "Failing row contains (…)": the ErrorResponse's D field must be masked by the session.
      expect((err as pg.DatabaseError).detail).toContain('alice@example.com');
    } finally {
      await client.query('ALTER TABLE customers DROP CONSTRAINT name_short');
    }
  });
});

describe('pattern rules applied at the source columns (columns:)', () => {
  // The adversarial suite's seeded customers, with every value masked by patterns only, in SQL: no transformation
  // over a column can move a value past the pattern, because the function computes from the masked text.
  const patternConfig = [
    { name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b', columns: ['crm_customers.*', 'crm_files.body'] },
    { name: 'card', builtin: 'credit-card', columns: ['crm_customers.*', 'crm_customers.card_no'] },
    { name: 'email', builtin: 'email', columns: ['crm_customers.*'] },
  ];
  const patternRules = compileMasking(patternConfig, 't');
  const patterns = () => new Provenance(patternRules, []).forSession('agent', 'prov')!;
  beforeAll(async () => {
    await client.query(`CREATE TABLE crm_customers (id int PRIMARY KEY, name text, email text, ssn varchar(11), card text, notes text, card_no bigint);
      INSERT INTO crm_customers VALUES ${CUSTOMERS.map((c) => `(${c.id}, '${c.name}', '${c.email}', '${c.ssn}', '${c.card}', '${c.notes}', ${c.card})`).join(', ')};
      CREATE TABLE crm_files (id int, body bytea);
      INSERT INTO crm_files SELECT id, convert_to(E'\\001 ' || notes, 'UTF8') FROM crm_customers`);
    await catalog.refresh();
  });
  const seeded = (output: string) => findLeaks(output, 'server output').map((l) => `${l.kind} ${l.value} as ${l.form}: …${l.context}…`);

  const TRANSFORMATIONS = [
    '{c}', "replace({c}, '-', '')", "translate({c}, '-', '/')", "translate({c}, '- ', '')", "regexp_replace({c}, '(.)', '\\1 ', 'g')",
    "string_to_array({c}, '-')", "lpad({c}, 60, '0')", "rpad({c}, 60, '1')", 'reverse({c})', "encode(convert_to({c}, 'UTF8'), 'base64')",
    "encode(convert_to(reverse({c}), 'UTF8'), 'hex')", "replace({c}, '-', '')::bigint", '{c}::bytea', "'a' || {c} || 'b'", "{c} || '7'",
    "format('%s%s', {c}, 1)", "upper({c}) || 'z'", "replace({c}, '', ' ')", 'to_jsonb({c})', "string_agg({c}, '')",
  ];
  const variants = ['notes', 'ssn', 'card', 'email', 'card_no'].flatMap((col) => TRANSFORMATIONS.map((t) => t.replaceAll('{c}', col)))
    .map((e) => `SELECT ${e} FROM crm_customers c${e.startsWith('string_agg') ? '' : ' ORDER BY c.id'}`);

  it(`${variants.length} transformations of each column return no seeded SSN, card or email in any form`, async () => {
    const sess = patterns();
    const outputs: string[] = [];
    for (const sql of variants) {
      const { verdict, output } = await runForwarded(sql, sess);
      expect(verdict.action, sql).toBe('allow');
      expect(seeded(output), `${sql}\n${output}`).toEqual([]);
      outputs.push(output);
    }
    const all = outputs.join(' ');
    for (const rule of ['ssn', 'card', 'email']) expect(all).toContain(`[masked:${rule}]`);
  });

  it.each([
    ['one character per row', 'SELECT substr(ssn, g, 1) FROM crm_customers, generate_series(1, 11) g ORDER BY id, g'],
    ['split over two columns', 'SELECT left(notes, 25), substr(notes, 26), left(card, 8), right(card, 8) FROM crm_customers'],
    ['split over two rows', 'SELECT left(ssn, 6) FROM crm_customers UNION ALL SELECT substr(ssn, 7) FROM crm_customers'],
    ['the whole row as JSON', 'SELECT row_to_json(c) FROM crm_customers c'],
    ['a numeric column named exactly', 'SELECT card_no::text, reverse(card_no::text), card_no + 1 FROM crm_customers'],
    ['a bytea column named exactly', "SELECT body, encode(convert_to(body, 'UTF8'), 'base64'), reverse(body) FROM crm_files"],
    ['an error quoting a transformed value', "SELECT ('x' || replace(ssn, '-', '') || '9')::int FROM crm_customers"],
    ['a CTE and a temp table', "WITH t AS (SELECT translate(notes, '-', '') AS n FROM crm_customers) SELECT string_agg(n, '') FROM t"],
  ])('%s', async (_name, sql) => {
    const { verdict, output } = await runForwarded(sql, patterns());
    expect(verdict.action).toBe('allow');
    expect(seeded(output), output).toEqual([]);
  });

  it('keeps what no pattern matches: the rest of the text, other columns and their types', async () => {
    const { output } = await runForwarded('SELECT id + 1, name, notes FROM crm_customers WHERE id = 1', patterns());
    expect(output).toBe('[[[2,"Ada Brook","callback ok; ssn on file [masked:ssn]; prefers post"]]] ');
    const predicate = await runForwarded("SELECT count(*) FROM crm_customers WHERE ssn LIKE '487%' OR notes LIKE '%381-47%'", patterns());
    expect(predicate.output).toBe('[[["0"]]] '); // predicates see the mask too: no oracle
  });

  it('refuses writes that read these columns and DDL on their table, naming the rule', async () => {
    for (const [sql, rule] of [
      ["UPDATE crm_customers SET name = 'x' WHERE notes LIKE '%381%'", 'ssn'],
      ['DELETE FROM crm_customers WHERE id = 9 RETURNING card_no', 'card'],
      ['ALTER TABLE crm_customers ADD COLUMN n2 text GENERATED ALWAYS AS (notes) STORED', 'ssn'],
      ['CREATE INDEX ON crm_customers (notes)', 'ssn'],
      ['ALTER TABLE crm_customers RENAME TO crm2', 'ssn'],
    ]) expect(await plan(sql!, patterns()), sql).toMatchObject({ action: 'block', rule });
  });

  it('calls PostgreSQL\'s regexp_replace even when the session puts its own before pg_catalog in the search_path', async () => {
    await client.query("CREATE FUNCTION public.regexp_replace(text, text, text, text) RETURNS text LANGUAGE sql AS 'SELECT $1'");
    await client.query('SET search_path = public, pg_catalog');
    try {
      const { output } = await runForwarded('SELECT notes, ssn FROM crm_customers', patterns());
      expect(seeded(output), output).toEqual([]);
      expect(output).toContain('[masked:ssn]');
    } finally {
      await client.query('RESET search_path; DROP FUNCTION public.regexp_replace(text, text, text, text)');
    }
  });

  it('through the gateway: the client and the recording get masked text, and results count the masks by column and rule', async () => {
    const gw = await startTestGateway(db, { masking: patternConfig });
    try {
      const c = new pg.Client({ ...gw.conn(), application_name: 'source-patterns' });
      await c.connect();
      const res = await c.query("SELECT translate(notes, '-', '') AS n, reverse(card) AS r FROM crm_customers ORDER BY id LIMIT 2");
      await c.end();
      expect(res.rows).toEqual([{ n: 'callback ok; ssn on file [masked:ssn]; prefers post', r: ']drac:deksam[' }, { n: 'callback ok; ssn on file [masked:ssn]; prefers post', r: ']drac:deksam[' }]);
      const events = await eventually(async () => {
        for (const f of await gw.sessionFiles()) {
          const evs = await readEvents(f);
          if (evs.at(-1)?.type === EventType.Seal) return evs;
        }
        return undefined;
      });
      expect(seeded(JSON.stringify(events))).toEqual([]);
      const result = events.find((e) => e.type === EventType.PgResult)!;
      expect(result.data.masked).toEqual([{ column: 'n', rule: 'ssn', count: 2 }]); // reversed, a mask no longer reads as one
    } finally {
      await gw.stop();
    }
  });

  // Each construct of the translation, run by PostgreSQL beside JavaScript on texts where they must agree.
  const SAMPLES = ['ssn 487-62-9135 x', 'a\nb a-b aéb', 'xabc xaby', 'ABC def 123 !?', 'AéJ\n.', '-x5 d9', 'abde ce abcde', 'tab\there\u00a0nb'];
  it.each([
    ['\\b\\d{3}-\\d{2}-\\d{4}\\b', 'g'], ['a.b', 'g'], ['[\\s\\S]b', 'g'], ['[^a-z\\d]+', 'g'], ['[^a-z]+', 'gi'], ['(?<=x)\\w+(?!y)', 'g'],
    ['\\u00e9\\x4a\\cJ\\.', 'g'], ['[\\d-x]+', 'g'], ['[\\D\\W5]+', 'g'], ['(ab|c)(?:d|)e', 'g'], ['(?=a)a(?!c)|(?<=c)e(?<!x)', 'g'],
    ['\\s+', 'g'], ['\\S+?!', 'g'], ['[:x:]]{', 'g'], ['[\\b\\t]', 'g'], ['\\w{2,3}', 'g'], ['DEF', 'gi'],
  ])('/%s/%s matches in PostgreSQL what it matches in JavaScript', async (source, flags) => {
    const re = new RegExp(source, flags);
    const { source: are, flags: pgFlags } = toAre(re.source, flags);
    for (const text of SAMPLES) {
      const res = await client.query('SELECT regexp_replace($1, $2, $3, $4) AS r', [text, are, '<X>', pgFlags]);
      expect(res.rows[0].r, `${JSON.stringify(text)} ~ ${are}`).toBe(text.replace(re, '<X>'));
    }
  });

  it('built-in recognizers: the SQL form masks every value the output form masks', async () => {
    const text = [CUSTOMERS[0]!.card, '4539 1488 0343 6467', 'DE89370400440532013000', 'AKIAIOSFODNN7EXAMPLE', CUSTOMERS[1]!.email,
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlX2hlcmU', '-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----',
      '487-62-9135'].join(' | ');
    for (const [name, rec] of Object.entries(BUILTIN_RECOGNIZERS)) {
      const res = await client.query('SELECT regexp_replace($1, $2, $3, \'g\') AS r', [text, rec.sql, '#']);
      const js = text.replace(rec.pattern, (m) => (rec.accept && !rec.accept(m) ? m : '#'));
      const sql = res.rows[0].r as string;
      // Whatever JavaScript masked is gone from the SQL form's result too.
      for (const m of text.match(rec.pattern) ?? []) if (!js.includes(m)) expect(sql, `${name}: ${m}`).not.toContain(m);
      expect(sql, name).not.toBe(text);
    }
  });
});
