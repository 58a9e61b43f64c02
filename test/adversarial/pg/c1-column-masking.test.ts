// Class 1: column masking bypass. Every case reads customers' protected columns
// (email, ssn, card) some other way than by their name in the result; the
// seeded values must reach neither the client nor the recording, whether the
// gateway masks or refuses. A masked column may still be used in predicates if
// the README says so: the oracle case then checks only that no value arrives.
import { afterAll, beforeAll, describe } from 'vitest';
import { CUSTOMERS, Harness, NAMES, startAdversarialPg, type AdversarialPg, type CaseContext } from './support.js';

let env: AdversarialPg;
beforeAll(async () => { env = await startAdversarialPg(); });
afterAll(async () => { await env?.stop(); });
const h = new Harness('c1-column-masking', () => env);

/** Scripts run by psql from stdin, one statement at a time (an error does not stop the rest). */
const SCRIPTS: [string, string][] = [
  ['alias', 'SELECT email AS contact, ssn AS s, card AS k FROM customers;'],
  ['alias to an unprotected name', 'SELECT email AS name, ssn AS notes, card AS id FROM customers;'],
  ['function lower/upper/md5-free', 'SELECT lower(email), upper(ssn), btrim(card) FROM customers;'],
  ['operator concat', "SELECT email || '', '' || ssn, card || ' ' FROM customers;"],
  ['cast varchar/bytea/char', 'SELECT email::varchar(200), ssn::bytea, card::char(30) FROM customers;'],
  ['string_agg', "SELECT string_agg(email, ','), string_agg(ssn, ';'), string_agg(card, '/') FROM customers;"],
  ['array_agg', 'SELECT array_agg(email), array_agg(ssn), array_agg(card) FROM customers;'],
  ['row_to_json', 'SELECT row_to_json(c) FROM customers c;'],
  ['to_jsonb of the row', 'SELECT to_jsonb(c.*) FROM customers c;'],
  ['json_agg', 'SELECT json_agg(c) FROM customers c;'],
  ['jsonb_build_object', "SELECT jsonb_build_object('e', email, 's', ssn, 'k', card) FROM customers;"],
  ['row constructor', 'SELECT ROW(email, ssn, card) FROM customers;'],
  ['whole row as text', 'SELECT c::text FROM customers c;'],
  ['whole row', 'SELECT c FROM customers c;'],
  ['table customers', 'TABLE customers;'],
  ['customers.*', 'SELECT customers.* FROM customers;'],
  ['schema-qualified and quoted', 'SELECT "public"."customers"."email", public.customers.ssn, "card" FROM public."customers";'],
  ['temporary view', 'CREATE TEMP VIEW tv AS SELECT email AS a, ssn AS b, card AS k FROM customers;\nSELECT * FROM tv;'],
  ['permanent view', 'CREATE VIEW pv_c1 AS SELECT id, email AS a, ssn AS b, card AS k FROM customers;\nSELECT * FROM pv_c1;'],
  ['CTE', 'WITH x AS (SELECT email AS a, ssn AS b, card AS k FROM customers) SELECT a, b, k FROM x;'],
  ['temp table from the columns', 'CREATE TEMP TABLE tt AS SELECT email AS a, ssn AS b, card AS k FROM customers;\nSELECT * FROM tt;'],
  ['SELECT INTO a table', 'SELECT email AS a, ssn AS b INTO TEMP TABLE ti FROM customers;\nSELECT * FROM ti;'],
  ['cursor DECLARE/FETCH', 'BEGIN;\nDECLARE cur CURSOR FOR SELECT email AS a, ssn AS b, card AS k FROM customers;\nFETCH ALL FROM cur;\nCOMMIT;'],
  ['cursor over a CTE, FETCH one at a time', 'BEGIN;\nDECLARE cur2 SCROLL CURSOR FOR WITH x AS (SELECT email || ssn AS a FROM customers) SELECT a FROM x;\nFETCH 1 FROM cur2;\nFETCH 1 FROM cur2;\nFETCH ABSOLUTE 3 FROM cur2;\nCOMMIT;'],
  ['error email::int', 'SELECT email::int FROM customers;'],
  ['error ssn::date', 'SELECT ssn::date FROM customers;'],
  ['error card::uuid and timezone', "SELECT card::uuid FROM customers;\nSELECT set_config('TimeZone', email, false) FROM customers;"],
  ['error unique violation detail', 'CREATE TEMP TABLE u (e text UNIQUE);\nINSERT INTO u SELECT email FROM customers;\nINSERT INTO u SELECT email FROM customers;'],
  ['error check violation failing row', 'CREATE TEMP TABLE ck (e text CHECK (e = \'\'));\nINSERT INTO ck SELECT ssn FROM customers;'],
  ['RAISE NOTICE in DO', "DO $$ DECLARE r record; BEGIN FOR r IN SELECT email, ssn, card FROM customers LOOP RAISE NOTICE '% % %', r.email, r.ssn, r.card; END LOOP; END $$;"],
  ['RAISE EXCEPTION in DO', "DO $$ BEGIN RAISE EXCEPTION 'x%', (SELECT string_agg(email || ssn, '') FROM customers); END $$;"],
  ['subquery in the SELECT list', 'SELECT (SELECT email FROM customers c2 WHERE c2.id = o.customer_id) AS who FROM orders o;'],
  ['LATERAL', 'SELECT l.a FROM orders o, LATERAL (SELECT email || ssn AS a FROM customers c WHERE c.id = o.customer_id) l;'],
  ['UNION', 'SELECT name FROM customers UNION ALL SELECT email FROM customers UNION ALL SELECT ssn FROM customers;'],
  ['COPY (SELECT …) TO STDOUT', 'COPY (SELECT email AS a, ssn AS b, card AS k FROM customers) TO STDOUT;'],
  ['\\copy customers to stdout', '\\copy customers to stdout'],
  ['\\copy (query) to stdout csv', '\\copy (SELECT email, lower(ssn) FROM customers) to stdout csv'],
  ['pg_stats after ANALYZE', "ANALYZE customers;\nSELECT attname, most_common_vals::text, histogram_bounds::text FROM pg_stats WHERE tablename = 'customers';"],
  ['query_to_xml', "SELECT query_to_xml('SELECT email, ssn, card FROM customers', true, false, '');"],
  ['table_to_xml', "SELECT table_to_xml('customers', true, false, '');"],
  ['xmlelement', 'SELECT xmlelement(name e, email, ssn) FROM customers;'],
  ['SQL function returning the column', 'CREATE FUNCTION f_c1_email(int) RETURNS text LANGUAGE sql AS $$SELECT email || ssn FROM customers WHERE id = $1$$;\nSELECT f_c1_email(id) FROM generate_series(1, 5) id;'],
  ['plpgsql function with dynamic SQL', "CREATE FUNCTION f_c1_dyn() RETURNS SETOF text LANGUAGE plpgsql AS $$BEGIN RETURN QUERY EXECUTE 'SELECT em' || 'ail || ss' || 'n FROM custo' || 'mers'; END $$;\nSELECT * FROM f_c1_dyn();"],
  ['UPDATE name = email then SELECT name', 'BEGIN;\nUPDATE customers SET name = email || ssn WHERE id > 0;\nSELECT name FROM customers;\nROLLBACK;'],
  ['INSERT INTO other SELECT email', 'INSERT INTO scratch SELECT email || card FROM customers;\nSELECT t FROM scratch;\nDELETE FROM scratch WHERE t IS NOT NULL;'],
  ['RETURNING', 'BEGIN;\nUPDATE customers SET name = name WHERE id > 0 RETURNING email, ssn, card;\nDELETE FROM customers WHERE id = 1 RETURNING *;\nROLLBACK;'],
  ['ALTER TABLE … TYPE … USING email', 'BEGIN;\nALTER TABLE customers ALTER COLUMN name TYPE text USING email || ssn;\nSELECT name FROM customers;\nROLLBACK;'],
  ['window function and DISTINCT', 'SELECT DISTINCT first_value(card) OVER (ORDER BY id), last_value(email) OVER () FROM customers;'],
  ['large object', "CREATE TEMP TABLE los AS SELECT lo_from_bytea(0, convert_to(email || ssn, 'UTF8')) AS o FROM customers;\nSELECT lo_get(o) FROM los;"],
  ['string built one character at a time', "SELECT string_agg(substr(c.email, g, 1), '' ORDER BY g) FROM customers c, generate_series(1, 60) g GROUP BY c.id;"],
  ['pg_stat_activity of another session', "SELECT set_config('application_name', email, false) FROM customers LIMIT 1;\nSELECT application_name FROM pg_stat_activity;"],
];

describe('masking by provenance', () => {
  h.case('a plain SELECT * still answers, masked (not refused), with the unprotected columns intact', async (c) => {
    const res = await c.psql('SELECT * FROM customers ORDER BY id;');
    c.expect(res.stdout.includes('(5 rows)'), `SELECT * FROM customers did not answer 5 rows: ${res.stderr}`);
    for (const n of NAMES) c.expect(res.stdout.includes(n), `the unprotected name ${n} is missing`);
  });
  h.case('unprotected columns of a protected table pass unchanged', async (c) => {
    const res = await c.psql('SELECT id, name FROM customers ORDER BY id;');
    c.expect(NAMES.every((n) => res.stdout.includes(n)), `names missing: ${res.stdout} ${res.stderr}`);
  });
  for (const [name, sql] of SCRIPTS) h.case(name, async (c) => { await c.psql(sql, { stdin: true }); });
});

describe('node-postgres and binary results', () => {
  const q = (name: string, text: string, binary: boolean) => h.case(`${name} (${binary ? 'binary' : 'text'}, extended)`, async (c: CaseContext) => {
    const p = await c.pg();
    await p.q({ text, values: [0], binary } as never);
  });
  for (const binary of [false, true]) {
    q('alias', 'SELECT email AS a, ssn AS b, card AS k FROM customers WHERE id > $1', binary);
    q('bytea cast', 'SELECT email::bytea AS a, convert_to(ssn, \'UTF8\') AS b FROM customers WHERE id > $1', binary);
    q('array', 'SELECT ARRAY[email, ssn, card] AS a FROM customers WHERE id > $1', binary);
    q('jsonb', 'SELECT to_jsonb(c) AS a FROM customers c WHERE id > $1', binary);
  }
});

describe('the bare-name rule (*email*) of examples/gateway.yml', () => {
  for (const [name, sql] of SCRIPTS.slice(0, 20)) h.case(`${name} (bare-name rule)`, async (c) => { await c.psql(sql.replace(/\bpv_c1\b/g, 'pv_c1b'), { stdin: true }); }, { gw: 'bare-name' });
});

describe('predicates over a masked column', () => {
  h.case('LIKE as an oracle returns counts but never the value', async (c) => {
    const p = await c.pg();
    await p.q("SELECT count(*) FROM customers WHERE email LIKE 'k7%'");
    // Reconstruct the first email one character at a time by binary search over predicates: the
    // attacker's own reconstruction never crosses the wire, so this asserts only that nothing does.
    let known = '';
    for (let i = 1; i <= 40; i++) {
      let lo = 32;
      let hi = 126;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        const r = await p.q('SELECT count(*)::int AS n FROM customers WHERE id = 1 AND ascii(substr(email, $1, 1)) > $2', [i, mid]);
        if (r.error) break;
        if ((r.rows![0] as { n: number }).n > 0) lo = mid + 1; else hi = mid;
      }
      if (lo === 32) break;
      known += String.fromCharCode(lo);
    }
    const real = known === CUSTOMERS[0]!.email;
    console.log(`predicate oracle: ${known.length} characters read; ${real ? 'they are the real email (predicates read the real value)' : 'they are not the real email (predicates see the mask)'}`);
  }, { beyond: 'predicates on a masked column are allowed if the README says so; the value itself never arrives' });
});

describe('after every case', () => {
  h.case('every recording file of the run (sessions and the gateway audit file) holds no seeded value', async (c) => {
    for (const variant of ['by-table', 'bare-name'] as const) {
      const gw = await env.gateway(variant);
      const leaks = await Harness.allRecordingLeaks(gw);
      c.expect(leaks.length === 0, `${variant}: ${leaks.length} leaks in recordings, first: ${leaks.slice(0, 3).map((l) => `${l.value} as ${l.form} in ${l.where}`).join('; ')}`);
    }
  });
});
