// Red team (session 8), hole G beyond the default format: a value split over two columns of a COPY TO STDOUT
// row written as CSV or with another delimiter. CopyOutResponse announces the columns, not the delimiter: the
// gateway reads the row by the delimiter that gives that many fields, and masks the halves as in a SELECT row.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { run } from '../helpers/processes.js';

let db: PgServer;
let gw: TestGateway;
beforeAll(async () => {
  db = await startPostgres();
  gw = await startTestGateway(db, { masking: [{ name: 'ssn', builtin: 'us-ssn' }] });
  const c = new pg.Client(db.app);
  await c.connect();
  await c.query("CREATE TABLE split_csv (ssn text); INSERT INTO split_csv VALUES ('123-45-6789')");
  await c.end();
}, 120_000);
afterAll(async () => {
  await gw?.stop();
  await db?.stop();
});

async function psql(sql: string): Promise<string> {
  const conn = gw.conn();
  const res = await run('psql', ['-X', '-c', sql], {
    env: { PGHOST: conn.host, PGPORT: String(conn.port), PGUSER: 'agent', PGPASSWORD: conn.password, PGDATABASE: 'db', PGAPPNAME: 's8-copy-split' },
  });
  expect(res.stderr).toBe('');
  return res.stdout;
}

describe('a value split over the columns of a COPY TO STDOUT row in another format', () => {
  it.each([
    ['CSV', "(FORMAT csv)"],
    ['CSV, quoted', "(FORMAT csv, FORCE_QUOTE *)"],
    ['DELIMITER |', "(DELIMITER '|')"],
    ['CSV with a number between', '(FORMAT csv)', ', 0'],
  ])('%s: masked', async (_, options, between = '') => {
    const out = await psql(`COPY (SELECT left(ssn, 6)${between}, substr(ssn, 7) FROM split_csv) TO STDOUT ${options}`);
    expect(out).toContain('[masked'); // guard: the row came
    expect(out).not.toContain('123-45');
    expect(out).not.toContain('6789');
  }, 60_000);
});
