/**
 * The hot-path histograms an operator's dashboard reads are fed by real traffic: the latency the gateway adds to
 * each PostgreSQL statement, and each fdatasync of a recording (fsync: always, so every commit syncs).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startPostgres, type PgServer } from './helpers/postgres.js';

let db: PgServer;
let gw: TestGateway;

beforeAll(async () => {
  db = await startPostgres();
  gw = await startTestGateway(db, { recording: { dir: './recordings', fsync: 'always' } });
}, 120_000);
afterAll(async () => {
  await gw?.stop();
  await db?.stop();
});

async function scrape(): Promise<string> {
  return (await fetch(`${gw.gateway.admin.url}/metrics`, { headers: { authorization: `Bearer ${gw.gateway.admin.token}` } })).text();
}

const countOf = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);

describe('hot-path metrics', () => {
  it('observe the added latency of each PostgreSQL statement and each fsync of a recording', async () => {
    const before = await scrape();
    const client = new pg.Client(gw.conn());
    await client.connect();
    for (let i = 0; i < 5; i++) await client.query(`SELECT ${i}`);
    await client.end();
    const after = await scrape();
    const statements = countOf(after, 'hopscope_statement_seconds_count{protocol="postgres"}') - countOf(before, 'hopscope_statement_seconds_count{protocol="postgres"}');
    expect(statements).toBeGreaterThanOrEqual(5);
    expect(countOf(after, 'hopscope_fsync_seconds_count') - countOf(before, 'hopscope_fsync_seconds_count')).toBeGreaterThanOrEqual(5);
  });
});
