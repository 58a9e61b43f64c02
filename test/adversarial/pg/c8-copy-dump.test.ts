// Class 8: COPY and pg_dump through a masking gateway. COPY … TO STDOUT of a table
// without protected columns works and returns exactly what PostgreSQL holds; of
// the protected table it returns every row with the protected columns masked;
// pg_dump (version 15, against Debian's PostgreSQL 15) produces a dump whose
// protected columns are masked and whose other data is intact.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { libpqEnv, run } from '../../helpers/processes.js';
import { startAdversarialPg15 } from './pg15.js';
import { CUSTOMERS, Harness, NAMES, startAdversarialPg, type AdversarialPg, type CaseContext } from './support.js';

let env: AdversarialPg;
let env15: AdversarialPg;
beforeAll(async () => {
  env = await startAdversarialPg();
  env15 = await startAdversarialPg15(env.db.appPassword);
}, 180_000);
afterAll(async () => {
  await env15?.stop();
  await env?.stop();
});
const h = new Harness('c8-copy-dump', () => env);
const h15 = new Harness('c8-copy-dump', () => env15, 'd');

/** What psql prints for `sql` straight from PostgreSQL (no gateway). */
const directly = async (e: AdversarialPg, sql: string) => (await run('psql', ['-X', '-A', '-c', sql], { env: libpqEnv(e.db.app) })).stdout;

const sameAsDirect = (name: string, sql: string) => h.case(name, async (c) => {
  const res = await c.psql(sql);
  const want = await directly(env, sql);
  c.expect(res.stdout === want && want.length > 0, `through the gateway: ${JSON.stringify(res.stdout.slice(0, 200))} ${res.stderr.trim()}; directly: ${JSON.stringify(want.slice(0, 200))}`);
});
sameAsDirect('COPY orders TO STDOUT returns exactly what PostgreSQL holds', 'COPY orders TO STDOUT');
sameAsDirect('COPY orders TO STDOUT (FORMAT csv, HEADER)', 'COPY orders TO STDOUT (FORMAT csv, HEADER)');
sameAsDirect('COPY (SELECT … FROM orders) TO STDOUT', 'COPY (SELECT id, item, amount FROM orders WHERE id > 3) TO STDOUT');
sameAsDirect('COPY customers (id, name) TO STDOUT: unprotected columns of the protected table', 'COPY customers (id, name) TO STDOUT');
h.case('\\copy orders to stdout', async (c) => {
  const res = await c.psql('\\copy orders to stdout');
  c.expect(res.stdout === await directly(env, 'COPY orders TO STDOUT'), `\\copy orders: ${res.stderr}`);
});

const maskedRows = (c: CaseContext, out: string, what: string) => {
  const lines = out.trim().split('\n').filter((l) => NAMES.some((n) => l.includes(n)));
  c.expect(lines.length === 5, `${what}: ${lines.length} of 5 customers came back (the rest refused or missing): ${out.slice(0, 300)}`);
};
h.case('COPY customers TO STDOUT returns every row with the protected columns masked', async (c) => {
  maskedRows(c, (await c.psql('COPY customers TO STDOUT')).stdout, 'COPY customers');
});
h.case('COPY customers TO STDOUT (FORMAT csv, HEADER)', async (c) => {
  maskedRows(c, (await c.psql('COPY customers TO STDOUT (FORMAT csv, HEADER)')).stdout, 'COPY customers csv');
});
h.case('\\copy customers to stdout csv', async (c) => {
  maskedRows(c, (await c.psql('\\copy customers to stdout csv')).stdout, '\\copy customers');
});
h.case('COPY customers (email, ssn, card, notes) TO STDOUT', async (c) => { await c.psql('COPY customers (email, ssn, card, notes) TO STDOUT'); });
h.case('COPY customers TO STDOUT (FORMAT binary)', async (c) => {
  const res = await run('bash', ['-c', 'psql -X -c "COPY customers TO STDOUT (FORMAT binary)" | base64 -w0'], { env: c.libpq() });
  c.saw(Buffer.from(res.stdout, 'base64'), 'binary COPY');
  c.saw(res.stderr, 'psql stderr');
});
h.case('COPY of a join and of a view over the protected table', async (c) => {
  await c.psql('CREATE VIEW c8_v AS SELECT c.email, o.item FROM customers c JOIN orders o ON o.customer_id = c.id;\nCOPY (SELECT * FROM c8_v) TO STDOUT;\nCOPY (SELECT c.*, o.item FROM customers c JOIN orders o ON o.customer_id = c.id) TO STDOUT;', { stdin: true });
});

/** pg_dump 15 through the gateway in front of PostgreSQL 15, and straight from it. */
const dump = async (c: CaseContext, args: string[], direct = true) => {
  const res = await run('pg_dump', args, { env: c.libpq(), timeoutMs: 60_000 });
  const want = direct ? await run('pg_dump', args, { env: { ...libpqEnv(env15.db.app) }, timeoutMs: 60_000 }) : { stdout: '' };
  c.saw(res.stdout, 'pg_dump output');
  c.saw(res.stderr, 'pg_dump stderr');
  c.expect(res.code === 0, `pg_dump ${args.join(' ')} failed through the gateway: ${res.stderr.slice(0, 400)}`);
  return { got: res.stdout, want: want.stdout };
};
const copyBlock = (text: string, table: string) => new RegExp(`COPY public\\.${table} [^\\n]*\\n([^]*?)\\n\\\\\\.`).exec(text)?.[1];

h15.case('pg_dump (plain) masks the protected columns and keeps the rest intact', async (c) => {
  const { got, want } = await dump(c, ['--no-owner']);
  c.expect(copyBlock(got, 'orders') !== undefined && copyBlock(got, 'orders') === copyBlock(want, 'orders'), 'the orders data differs from a direct dump');
  c.expect(got.includes('CREATE TABLE public.customers') && got.includes('CREATE TABLE public.orders'), 'the schema is missing');
  const rows = copyBlock(got, 'customers')?.split('\n') ?? [];
  c.expect(rows.length === 5 && CUSTOMERS.every((k) => rows.some((r) => r.startsWith(`${k.id}\t${k.name}\t`))), `customers rows: ${rows.length}, ids and names intact: ${rows.map((r) => r.split('\t').slice(0, 2).join(' ')).join(', ')}`);
});
h15.case('pg_dump --inserts (cursor and FETCH) masks the protected columns', async (c) => {
  const { got } = await dump(c, ['--inserts', '-t', 'customers']);
  c.expect(NAMES.every((n) => got.includes(n)), 'the names are missing from the INSERTs');
});
h15.case('pg_dump --column-inserts -t orders equals a direct dump', async (c) => {
  const { got, want } = await dump(c, ['--column-inserts', '-t', 'orders']);
  const ins = (t: string) => t.split('\n').filter((l) => l.startsWith('INSERT')).join('\n');
  c.expect(ins(got).length > 0 && ins(got) === ins(want), 'the orders INSERTs differ from a direct dump');
});
h15.case('pg_dump -Fc -Z0 (custom format) and pg_restore of it', async (c) => {
  const file = join(c.gw.dir, `${c.id}.dump`);
  await dump(c, ['-Fc', '-Z0', '-f', file], false);
  c.saw(await readFile(file).catch(() => Buffer.alloc(0)), 'custom-format dump');
  const restored = await run('pg_restore', ['-f', '-', file]);
  c.saw(restored.stdout, 'pg_restore output');
  c.expect(NAMES.every((n) => restored.stdout.includes(n)), `the restored dump lacks the names: ${restored.stderr.slice(0, 200)}`);
});
h15.case('pg_dump --data-only --column-inserts of customers (bare-name rule)', async (c) => {
  await dump(c, ['--data-only', '--column-inserts', '-t', 'customers']);
}, { gw: 'bare-name' });
