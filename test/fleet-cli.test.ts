import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hopscopeCli } from './helpers/cli.js';
import { createControlPlane, startFleetGateway, type FleetGatewayProcess } from './helpers/fleet.js';
import { TARGET_PASSWORD_ENV, eventually, spawnGatewayProcess } from './helpers/gateway.js';
import { freePort } from './helpers/ports.js';
import { startPostgres, type PgServer } from './helpers/postgres.js';
import { stopAll } from './helpers/processes.js';

// `hopscope fleet status|keys|retire-key` and the gateway column of `approvals list` and `sessions`, against two
// gateway processes on one control plane (a second PostgreSQL cluster) in front of a real database; needs a build.
let db: PgServer;
let cpServer: PgServer;
let a: FleetGatewayProcess;
let b: FleetGatewayProcess;
let work: string;
const clients: pg.Client[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'hopscope-fleet-cli-'));
  [db, cpServer] = await Promise.all([startPostgres(), startPostgres()]);
  const cp = await createControlPlane(cpServer, ['a', 'b']);
  [a, b] = await Promise.all([
    startFleetGateway('gw-a', cp.url('a'), db, undefined),
    startFleetGateway('gw-b', cp.url('b'), db, undefined, {
      guardrails: [{ name: 'unbounded-delete', sql: { statements: ['DeleteStmt'], withoutWhere: true }, action: 'review' }],
      approvals: { timeout: '300s' }, // a loaded machine: the held statement must not time out while the test decides it
    }),
  ]);
  const setup = new pg.Client(db.app);
  await setup.connect();
  await setup.query('CREATE TABLE cli_items (id int); INSERT INTO cli_items SELECT generate_series(1, 4)');
  await setup.end();
}, 120_000);
afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  await stopAll();
  await Promise.all([db?.stop(), cpServer?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

async function clientOn(gw: FleetGatewayProcess, password: string): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.pgPort, user: 'agent', password, database: 'db' });
  c.on('error', () => undefined); // a refused login also closes the socket; the test reads connect()'s rejection
  await c.connect();
  clients.push(c);
  return c;
}
const columns = (line: string) => line.trim().split(/\s{2,}/);

describe('hopscope fleet', () => {
  it('status lists both gateways healthy with their keys, and the live session held on B with its gateway', async () => {
    const onB = await clientOn(b, b.token());
    await onB.query("SELECT 'fleet-cli'");
    const res = await eventually(async () => {
      const r = await hopscopeCli('fleet', 'status', '--config', a.configPath);
      return r.code === 0 && /live sessions \(1\)/.test(r.stdout) ? r : undefined;
    }, 10_000);
    const json = JSON.parse((await hopscopeCli('fleet', 'status', '--config', a.configPath, '--json')).stdout);
    expect(json.self).toBe('gw-a');
    const lines = res.stdout.split('\n');
    expect(lines[0]).toBe('fleet of 2 gateway(s), seen from gw-a (*), its control plane link up');
    expect(columns(lines[1]!)).toEqual(['GATEWAY', 'STATE', 'HEALTH', 'HEARTBEAT', 'SESSIONS', 'ADMIN', 'KEY', 'HOST', 'PID']);
    const rowOf = (name: string) => columns(lines.find((l) => l.startsWith(`${name} `))!);
    const keyOf = (name: string) => json.gateways.find((g: { name: string }) => g.name === name).keyId as string;
    expect(rowOf('gw-a')).toEqual(['gw-a *', 'live', 'healthy', expect.stringMatching(/s ago$/), '0', a.adminUrl, keyOf('gw-a'), expect.any(String), String(json.gateways[0].pid)]);
    expect(rowOf('gw-b').slice(0, 3)).toEqual(['gw-b', 'live', 'healthy']);
    expect(rowOf('gw-b')[4]).toBe('1');
    expect(keyOf('gw-a')).not.toBe(keyOf('gw-b'));
    const session = lines[lines.indexOf('live sessions (1)') + 2]!;
    expect(columns(session).slice(1, 5)).toEqual(['gw-b', 'postgres', 'agent', 'db']);
    // The same through --gateway and --token (B's admin token).
    const byUrl = await hopscopeCli('fleet', 'status', '--gateway', b.adminUrl, '--token', readFileSync(join(b.keysDir, 'admin.token'), 'utf8').trim());
    expect(byUrl.code, byUrl.stderr).toBe(0);
    expect(byUrl.stdout).toContain('seen from gw-b (*)');
  });

  it('approvals list shows the gateway holding a statement; approving it through A releases the client on B', async () => {
    const held = await clientOn(b, b.token());
    const result = held.query('DELETE FROM cli_items');
    result.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    const alice = a.token('alice');
    const line = await eventually(async () => (await hopscopeCli('approvals', 'list', '--gateway', a.adminUrl, '--token', alice)).stdout
      .split('\n').find((l) => l.includes('DELETE FROM cli_items')), 10_000);
    expect(line).toMatch(/^\S+ {2}\S+ {2}on gw-b {2}agent → db/);
    const listed = JSON.parse((await hopscopeCli('approvals', 'list', '--gateway', a.adminUrl, '--token', alice, '--json')).stdout);
    expect(listed).toEqual([expect.objectContaining({ gateway: 'gw-b', identity: 'agent', operation: 'DELETE FROM cli_items' })]);
    const decided = await hopscopeCli('approvals', 'approve', listed[0].id, '--gateway', a.adminUrl, '--token', alice, '--reason', 'cli test');
    expect(decided.code, decided.stderr).toBe(0);
    expect(decided.stdout).toContain(`approved ${listed[0].id} (held on gw-b)`);
    expect((await result).rowCount).toBe(4);
  });

  it('sessions of a case imported from a fleet gateway\'s folder carry its name in a GATEWAY column', async () => {
    const caseDb = join(work, 'case.db');
    const onB = await clientOn(b, b.token());
    await onB.query("SELECT 'to import'");
    // The gateway runs on, so its recordings come in unsealed (exit status 1): what matters here is that they came in.
    const imported = await hopscopeCli('import', '--db', caseDb, '--config', b.configPath, b.recordingsDir, '--json');
    const summary = JSON.parse(imported.stdout) as { imported: number; files: { action: string }[] };
    expect(summary.imported, imported.stdout).toBeGreaterThanOrEqual(2);
    expect(summary.files.every((f) => f.action === 'imported'), imported.stdout).toBe(true);
    const res = await hopscopeCli('sessions', '--db', caseDb);
    const lines = res.stdout.trim().split('\n');
    expect(columns(lines[0]!).slice(0, 3)).toEqual(['SESSION', 'GATEWAY', 'PROTOCOL']);
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines.slice(1)) expect(columns(l)[1]).toBe('gw-b');
    const json = JSON.parse((await hopscopeCli('sessions', '--db', caseDb, '--json')).stdout) as { gateway?: string }[];
    expect(json.every((s) => s.gateway === 'gw-b')).toBe(true);
  });

  it('retire-key: a token signed by A\'s retired key is refused by B from then on', async () => {
    const before = await clientOn(b, a.token());
    expect((await before.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    const keyA = JSON.parse((await hopscopeCli('fleet', 'status', '--config', b.configPath, '--json')).stdout).gateways
      .find((g: { name: string }) => g.name === 'gw-a').keyId as string;
    const retired = await hopscopeCli('fleet', 'retire-key', keyA, '--config', b.configPath);
    expect(retired.code, retired.stderr).toBe(0);
    expect(retired.stdout).toBe(`retired key ${keyA} fleet-wide: tokens it signed are refused by every gateway\n`);
    const keys = await hopscopeCli('fleet', 'keys', '--config', a.configPath);
    expect(columns(keys.stdout.split('\n').find((l) => l.startsWith(keyA))!)[3]).toMatch(/ by admin$/);
    // B learns it through NOTIFY (or its next re-read); a fresh token of A's key is then refused, B's own still admitted.
    const refusal = await eventually(() => clientOn(b, a.token()).then(() => undefined, (err: Error) => err.message), 10_000);
    expect(refusal).toMatch(/key|token/i);
    const own = await clientOn(b, b.token());
    expect((await own.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    expect((await hopscopeCli('fleet', 'retire-key', keyA, '--config', b.configPath)).stderr).toContain(`no active key ${keyA}`);
  });

  it('is refused clearly for a lone gateway, a bad key id or missing options', async () => {
    const lone = await spawnGatewayProcess({
      recording: { dir: './recordings' }, keys: { dir: './keys' }, admin: { listen: `127.0.0.1:${await freePort()}` },
      listeners: { postgres: `127.0.0.1:${await freePort()}` },
      targets: [{ name: 'db', type: 'postgres', host: db.host, port: db.port, database: db.appDatabase, user: db.appUser, password: { env: TARGET_PASSWORD_ENV } }],
      identities: [{ name: 'agent', kind: 'machine', targets: ['db'] }],
    }, { [TARGET_PASSWORD_ENV]: db.appPassword });
    const res = await hopscopeCli('fleet', 'status', '--config', lone.configPath);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('not a member of a fleet');
    await lone.proc.stop();
    expect((await hopscopeCli('fleet', 'retire-key', 'nothex', '--config', a.configPath)).code).toBe(2);
    const missing = await hopscopeCli('fleet', 'status');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('give --config FILE, or --gateway URL with --token TOKEN');
    const refused = await hopscopeCli('fleet', 'status', '--gateway', a.adminUrl, '--token', a.token('alice'));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('bearer token');
  });
});
