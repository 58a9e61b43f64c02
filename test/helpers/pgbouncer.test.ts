import { afterAll, beforeAll, expect, it } from 'vitest';
import { startPgbouncer, type Pgbouncer } from './pgbouncer.js';
import { startPostgres, type PgServer } from './postgres.js';
import { libpqEnv, pgbenchInit, run, runPgbench } from './processes.js';

let server: PgServer;
let bouncer: Pgbouncer;

beforeAll(async () => {
  server = await startPostgres({ auth: 'scram-sha-256' });
  bouncer = await startPgbouncer({ upstream: server.app, poolMode: 'session' });
});
afterAll(async () => {
  await bouncer?.stop();
  await server?.stop();
});

it('forwards psql to the upstream through session pooling', async () => {
  const res = await run('psql', ['-X', '-A', '-t', '-c', 'SELECT current_user, inet_server_port()'], { env: libpqEnv(bouncer) });
  expect(res).toMatchObject({ code: 0, stdout: `app|${server.port}\n` });
  expect(bouncer.port).not.toBe(server.port);
});

it('refuses a wrong password', async () => {
  const res = await run('psql', ['-X', '-c', 'SELECT 1'], { env: libpqEnv({ ...bouncer, password: 'wrong' }) });
  expect(res.code).not.toBe(0);
  expect(res.stderr).toMatch(/password authentication failed/);
});

it('carries 16 pgbench clients, and runPgbench parses the result', async () => {
  await pgbenchInit(server.app, 1);
  const result = await runPgbench(bouncer, { clients: 16, seconds: 2, selectOnly: true, protocol: 'extended' });
  expect(result.failed).toBe(0);
  expect(result.transactions).toBeGreaterThan(100);
  expect(result.tps).toBeGreaterThan(50);
  expect(result.latencyMs).toBeGreaterThan(0);
});
