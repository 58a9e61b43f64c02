import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { luhn } from '../gateway/policy/recognizers.js';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startPostgres, type PgServer } from './helpers/postgres.js';
import { libpqEnv, run } from './helpers/processes.js';

const N = 10_000;
let db: PgServer;
let gw: TestGateway;

/** A 16-digit number that passes the Luhn check, unique per i. */
function card(i: number): string {
  const body = `4${String(i).padStart(14, '0')}`;
  for (let d = 0; d <= 9; d++) if (luhn(body + d)) return body + d;
  throw new Error('unreachable');
}
const email = (i: number) => `leak${i}x@corp${i % 97}.example.com`;
const ssn = (i: number) => `${String(100 + (i % 800)).padStart(3, '0')}-${String(10 + (i % 89)).padStart(2, '0')}-${String(1000 + i).padStart(4, '0')}`;

beforeAll(async () => {
  db = await startPostgres();
  const admin = new pg.Client(db.app);
  await admin.connect();
  await admin.query('CREATE TABLE customers (id int PRIMARY KEY, contact_email text, bio text, ssn text, payment text)');
  const values: string[] = [];
  for (let i = 0; i < N; i++) {
    values.push(`(${i}, '${email(i)}', 'reach me at ${email(i)} or call', '${ssn(i)}', 'card ${card(i)} exp 12/30')`);
  }
  await admin.query(`INSERT INTO customers VALUES ${values.join(',')}`);
  await admin.end();
  gw = await startTestGateway(db, {
    masking: [
      { name: 'email-column', column: '*email*' },
      { name: 'email', builtin: 'email' },
      { name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b' },
      { name: 'card', builtin: 'credit-card' },
    ],
  });
}, 120_000);

afterAll(async () => {
  await gw?.stop();
  await db?.stop();
});

it(`lets none of ${N * 3} seeded sensitive values reach a client or a recording unmasked`, async () => {
  const outputs: string[] = [];
  // psql, text format, every row
  const text = await run('psql', ['-X', '-A', '-c', 'SELECT * FROM customers ORDER BY id'], { env: libpqEnv(gw.conn()), timeoutMs: 60_000 });
  expect(text.stdout).toContain(`(${N} rows)`);
  outputs.push(text.stdout, text.stderr);
  // node-postgres, extended protocol, text and binary
  const client = new pg.Client(gw.conn());
  await client.connect();
  const extended = await client.query('SELECT * FROM customers WHERE id >= $1', [0]);
  expect(extended.rowCount).toBe(N);
  outputs.push(JSON.stringify(extended.rows));
  const binary = await client.query({ text: 'SELECT bio, ssn, payment FROM customers WHERE id < $1', values: [N], binary: true } as pg.QueryConfig);
  outputs.push(binary.rows.map((r: Record<string, Buffer>) => Object.values(r).map(String).join('|')).join('\n'));
  // an error that would quote a value in its DETAIL
  await client.query('CREATE TEMP TABLE u (s text UNIQUE)');
  await client.query('INSERT INTO u SELECT ssn FROM customers WHERE id = 5');
  const dup = await client.query('INSERT INTO u SELECT ssn FROM customers WHERE id = 5').catch((e: Error & { detail?: string }) => e);
  outputs.push(`${(dup as Error).message} ${(dup as { detail?: string }).detail}`);
  await client.end();
  await gw.gateway.stop(); // seals every recording

  const files = (await readdir(gw.recordingsDir)).map((f) => join(gw.recordingsDir, f));
  for (const f of files) outputs.push(await readFile(f, 'utf8'));

  const emails = new Set(Array.from({ length: N }, (_, i) => email(i)));
  const ssns = new Set(Array.from({ length: N }, (_, i) => ssn(i)));
  const cards = new Set(Array.from({ length: N }, (_, i) => card(i)));
  const leaks: string[] = [];
  for (const out of outputs) {
    for (const m of out.matchAll(/leak\d+x@[a-z0-9.]+/g)) if (emails.has(m[0])) leaks.push(m[0]);
    for (const m of out.matchAll(/\d{3}-\d{2}-\d{4}/g)) if (ssns.has(m[0])) leaks.push(m[0]);
    for (const m of out.matchAll(/\d{16}/g)) if (cards.has(m[0])) leaks.push(m[0]);
  }
  expect(leaks.slice(0, 10)).toEqual([]);
  // And the masks are there: every row of the psql output carries them.
  expect(text.stdout.match(/\[masked:email-column\]/g)?.length).toBe(N);
  expect(text.stdout.match(/\[masked:card\]/g)?.length).toBe(N);
  expect(files.length).toBeGreaterThanOrEqual(3);
}, 120_000);
