// Class 2: pattern rules (the SSN regex, the credit-card recognizer) on columns no
// column rule protects: customers.notes (it holds an SSN) and, under the bare-name
// rule of examples/gateway.yml, customers.ssn and customers.card too. The issue
// lists what must hold: concatenation next to a digit or a letter, replace,
// translate, lpad, a bytea cast (hex), a value split over two columns, binary
// results. Reversal, base64 and one character per row are run and counted apart
// ("beyond claims"): no pattern over the final text can promise them, only masking
// at the source can.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Harness, startAdversarialPg, type AdversarialPg } from './support.js';
import { runMatrix, variants, type Mode } from './variants.js';

let env: AdversarialPg;
beforeAll(async () => { env = await startAdversarialPg(); });
afterAll(async () => { await env?.stop(); });
const h = new Harness('c2-pattern-rules', () => env);

const BEYOND = 'a pattern over the final text cannot see a reversed, base64 or scattered value';
const CLAIMED = [
  "'a' || {c} || 'b'", "{c} || '7'", "'9' || {c}", "'x' || {c} || 'y' || {c}", "replace({c}, '-', '')", "replace({c}, '-', '.')",
  "translate({c}, '-', '/')", "translate({c}, '- ', '')", 'lpad({c}, 60, \'0\')', "rpad({c}, 60, '1')", '{c}::bytea', "convert_to({c}, 'UTF8')",
  "regexp_replace({c}, '(.)', '\\1 ', 'g')", "string_to_array({c}, '-')", "format('%s%s', {c}, 1)", "upper({c}) || 'z'",
];
const BEYOND_CLAIMS = ['reverse({c})', "encode(convert_to({c}, 'UTF8'), 'base64')", "encode(convert_to(reverse({c}), 'UTF8'), 'hex')"];

/** Hand cases run by psql against the bare-name gateway (ssn and card protected by patterns only). */
const SCRIPTS: [string, string, string?][] = [
  ['concatenation next to letters and digits', "SELECT 'id' || notes || '0', ssn || 'x', card || '4' FROM customers;"],
  ['replace and translate', "SELECT replace(notes, '-', ''), translate(ssn, '-', ''), replace(card, '', ' ') FROM customers;"],
  ['lpad and rpad', "SELECT lpad(ssn, 30, '7'), rpad(card, 30, '5') FROM customers;"],
  ['bytea cast shown as hex', 'SELECT notes::bytea, ssn::bytea, card::bytea FROM customers;'],
  ['split over two columns', 'SELECT substr(notes, 1, 30), substr(notes, 31), left(ssn, 5), right(ssn, 6), left(card, 8), right(card, 8) FROM customers;'],
  ['digits as a number', "SELECT replace(ssn, '-', '')::bigint, card::numeric FROM customers;"],
  ['split over two rows', "SELECT left(ssn, 6) FROM customers UNION ALL SELECT substr(ssn, 7) FROM customers;"],
  ['COPY of transformed values', "COPY (SELECT replace(ssn, '-', ''), card || 'x', notes || '1' FROM customers) TO STDOUT;"],
  ['error text with a concatenated value', "SELECT ('x' || ssn || '9')::int FROM customers;"],
  ['notice with a concatenated value', "DO $$ DECLARE r record; BEGIN FOR r IN SELECT ssn, card FROM customers LOOP RAISE NOTICE 'a%b%c', r.ssn, r.card; END LOOP; END $$;"],
  ['reversed', 'SELECT reverse(notes), reverse(ssn), reverse(card) FROM customers;', BEYOND],
  ['base64', "SELECT encode(convert_to(notes, 'UTF8'), 'base64'), encode(ssn::bytea, 'base64') FROM customers;", BEYOND],
  ['one character per row', 'SELECT substr(ssn, g, 1) FROM customers, generate_series(1, 11) g ORDER BY id, g;', BEYOND],
];

for (const [name, sql, beyond] of SCRIPTS) h.case(name, async (c) => { await c.psql(sql, { stdin: true }); }, { gw: 'bare-name', beyond });

h.case('binary results of the notes, ssn and card columns (node-postgres)', async (c) => {
  const p = await c.pg();
  await p.q({ text: "SELECT notes, ssn, card, replace(ssn, '-', '')::bigint AS n FROM customers WHERE id > $1", values: [0], binary: true } as never);
}, { gw: 'bare-name' });

const CELLS: [Mode, number][] = [['simple', 0], ['extended+describe', 1], ['extended-no-describe', 0], ['extended-no-describe', 1], ['pipelined', 1]];
const list = variants(['notes', 'ssn', 'card'], [...CLAIMED, ...BEYOND_CLAIMS], ['', ' AS notes'], (e) => (BEYOND_CLAIMS.includes(e) ? BEYOND : undefined));
for (const [mode, format] of CELLS) {
  it(`${list.length} generated variants (bare-name rules), ${mode}, ${format ? 'binary' : 'text'}: no SSN or card number passes a transformation`, async () => {
    const gw = await env.gateway('bare-name');
    const results = await runMatrix(h, gw, `c2g-${mode}-${format}`, mode, format, list);
    for (const r of results) h.summary.add(r);
    const failed = results.filter((r) => !r.passed && !r.beyond);
    expect(failed.slice(0, 8).map((r) => `${r.name}: ${[...r.leaks, ...r.problems].join(' | ')}`), `${failed.length} of ${results.length} variants failed`).toEqual([]);
  }, 120_000);
}
