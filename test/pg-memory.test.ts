import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { systemClock } from '../common/clock.js';
import { loadOrCreateSigner } from '../common/keys.js';
import { issueToken } from '../common/tokens/index.js';
import { spawnGatewayProcess, TARGET_PASSWORD_ENV } from './helpers/gateway.js';
import { freePort } from './helpers/ports.js';
import { startPostgres, type PgServer } from './helpers/postgres.js';
import { libpqEnv, run, stopAll } from './helpers/processes.js';

let db: PgServer;
let dir: string;

beforeAll(async () => {
  db = await startPostgres();
  dir = await mkdtemp(join(tmpdir(), 'hopscope-mem-'));
});
afterAll(async () => {
  await stopAll();
  await db?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Peak resident memory of a process so far, in MiB (VmHWM). */
function peakRss(pid: number): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

it('streams a 2-million-row result (about 130 MB) through a masking gateway without growing with the row count', async () => {
  const port = await freePort();
  const { proc } = await spawnGatewayProcess({
    recording: { dir: join(dir, 'rec') }, keys: { dir: join(dir, 'keys') },
    admin: { listen: `127.0.0.1:${await freePort()}` }, listeners: { postgres: `127.0.0.1:${port}` },
    targets: [{ name: 'db', type: 'postgres', host: db.host, port: db.port, database: db.appDatabase, user: db.appUser, password: { env: TARGET_PASSWORD_ENV } }],
    identities: [{ name: 'agent', kind: 'machine', targets: ['db'] }],
    masking: [{ name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b' }],
  }, { [TARGET_PASSWORD_ENV]: db.appPassword });
  const before = peakRss(proc.pid);
  const token = issueToken(loadOrCreateSigner(join(dir, 'keys')), systemClock, { identity: 'agent', ttlSeconds: 600 }).token;
  const sql = "SELECT g, 'row ' || g || ' ssn 123-45-6789 and some padding text' FROM generate_series(1, 2000000) g";
  // FETCH_COUNT unset: psql itself reads the whole result, as fast as it can.
  const res = await run('sh', ['-c', `psql -X -A -t -c "${sql}" | grep -c 'masked:ssn'`],
    { env: libpqEnv({ host: '127.0.0.1', port, user: 'agent', password: token, database: 'db' }), timeoutMs: 120_000 });
  expect(res.stdout.trim()).toBe('2000000');
  const growth = peakRss(proc.pid) - before;
  // The rows alone are ~130 MB; a gateway that kept them would grow by at least that.
  expect(growth).toBeLessThan(64);
}, 180_000);
