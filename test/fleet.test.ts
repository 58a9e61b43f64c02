import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType } from '../common/recording/index.js';
import { eventually, readEvents } from './helpers/gateway.js';
import { hopscopeCli } from './helpers/cli.js';
import { createControlPlane, startFleetGateway, type FleetGatewayProcess } from './helpers/fleet.js';
import { startPostgres, type PgServer } from './helpers/postgres.js';
import { stopAll } from './helpers/processes.js';
import { ssh2Client, ssh2Exec, startSshd, type SshdServer } from './helpers/sshd.js';

// Three gateways as separate processes (as deployed), one PostgreSQL cluster as the target and another as the control plane.
let db: PgServer;
let cpServer: PgServer;
let sshd: SshdServer;
let cp: Awaited<ReturnType<typeof createControlPlane>>;
let a: FleetGatewayProcess;
let b: FleetGatewayProcess;
/** The SSH session on A and its psql child on B, imported at the end. */
let crossing: { parent: string; child: string } | undefined;

beforeAll(async () => {
  [db, cpServer, sshd] = await Promise.all([startPostgres({ logStatements: true }), startPostgres(), startSshd()]);
  cp = await createControlPlane(cpServer, ['a', 'b', 'c', 'e']);
  // Started together: both migrate at once (the advisory lock lets one apply the schema).
  [a, b] = await Promise.all([
    startFleetGateway('gw-a', cp.url('a'), db, sshd),
    startFleetGateway('gw-b', cp.url('b'), db, sshd, {
      guardrails: [{ name: 'unbounded-delete', sql: { statements: ['DeleteStmt'], withoutWhere: true }, action: 'review' }],
    }),
  ]);
  const setup = new pg.Client(db.app);
  await setup.connect();
  await setup.query('CREATE TABLE fleet_items (id int); INSERT INTO fleet_items SELECT generate_series(1, 5)');
  await setup.end();
}, 120_000);
afterAll(async () => {
  await stopAll();
  await Promise.all([db?.stop(), cpServer?.stop(), sshd?.stop()]);
});

const clientOn = async (gw: FleetGatewayProcess, password: string) => {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.pgPort, user: 'agent', password, database: 'db' });
  c.on('error', () => undefined); // a cut session errors; the test reads the query's rejection
  await c.connect();
  return c;
};
const sessionStart = async (gw: FleetGatewayProcess, id: string) => (await readEvents(join(gw.recordingsDir, `${id}.jsonl`)))[0]!.data;
const pgSessionId = async (c: pg.Client) => {
  // The gateway's session id is not visible to the client: the newest live pg session of the fleet.
  const rows = await cp.query<{ id: string }>("SELECT id FROM hopscope_sessions WHERE protocol = 'postgres' AND ended_at IS NULL ORDER BY started_at DESC LIMIT 1");
  void c;
  return rows[0]!.id;
};

describe('a fleet of gateways on one control plane', () => {
  it('lists both gateways, healthy, with one schema version applied once', async () => {
    const fleet = await a.api('GET', '/fleet');
    expect(fleet.status).toBe(200);
    expect(fleet.body.gateways.map((g: { name: string; healthy: boolean }) => [g.name, g.healthy])).toEqual([['gw-a', true], ['gw-b', true]]);
    expect(await cp.query('SELECT version FROM hopscope_schema')).toEqual([{ version: 1 }]);
  });

  it('links psql through B to its SSH parent on A with A’s hop token (proven), and one import shows the chain across gateways', async () => {
    const ssh = await ssh2Client(a.sshPort!, 'agent:host', { password: a.token() });
    const parent = (await ssh2Exec(ssh, 'echo $HOPSCOPE_SESSION')).stdout.trim();
    const res = await ssh2Exec(ssh, `PGPASSWORD="$HOPSCOPE_TOKEN" psql -X -A -t -h 127.0.0.1 -p ${b.pgPort} -U agent -d db -c "SELECT 'cross-gw'"`);
    ssh.end();
    expect(res.stdout.trim(), res.stderr).toBe('cross-gw');
    const child = await eventually(async () => (await cp.query<{ id: string }>('SELECT id FROM hopscope_sessions WHERE parent = $1', [parent]))[0]?.id);
    expect(await sessionStart(b, child)).toMatchObject({
      parent, linkKind: 'hop-token', inferred: false, tokenKind: 'hop', evidence: { parentGateway: 'gw-a' }, fleet: { gateway: 'gw-b' },
    });
    crossing = { parent, child };
  });

  it('a revocation taken on A cuts the descendant on B; what it sends afterwards never reaches the database', async () => {
    const ssh = await ssh2Client(a.sshPort!, 'agent:host', { password: a.token() });
    const parent = (await ssh2Exec(ssh, 'echo $HOPSCOPE_SESSION')).stdout.trim();
    const hop = (await ssh2Exec(ssh, 'echo $HOPSCOPE_TOKEN')).stdout.trim();
    const child = await clientOn(b, hop);
    await child.query("SELECT 'before-revoke'");
    const childId = await pgSessionId(child);
    const root = (await sessionStart(a, parent)).rootTokenId as string;
    const ended = new Promise<void>((resolve) => child.once('end', () => resolve()));
    const revoked = await a.api('POST', '/revocations', { tokenId: root, reason: 'fleet test' });
    expect(revoked.status).toBe(200);
    expect(revoked.body.sessionsCut).toEqual(expect.arrayContaining([parent, childId]));
    await ended;
    await expect(child.query("SELECT 'after-revoke'")).rejects.toThrow();
    const end = (await readEvents(join(b.recordingsDir, `${childId}.jsonl`))).find((e) => e.type === EventType.SessionEnd)!.data;
    expect(end).toMatchObject({ revocation: { tokenId: root, by: 'admin', reason: 'fleet test' } });
    expect(['revoked', 'ancestor-revoked']).toContain(end.cause);
    const audit = await readEvents((await import('node:fs')).readdirSync(b.recordingsDir).filter((f) => f.startsWith('gateway-')).map((f) => join(b.recordingsDir, f))[0]!);
    expect(audit.find((e) => e.type === EventType.Revoked)?.data).toMatchObject({ tokenId: root, sessionsCut: [childId], fleet: { origin: 'gw-a' } });
    expect(await db.loggedStatements()).not.toEqual(expect.arrayContaining([expect.stringContaining('after-revoke')]));
    // A new login with a hop token under the revoked root is refused by B too.
    await expect(clientOn(b, hop)).rejects.toThrow(/revoked|ended/);
    ssh.end();
  });

  it('an operation held on B is listed and approved through A; self-approval is refused', async () => {
    const held = await clientOn(b, b.token());
    const result = held.query('DELETE FROM fleet_items');
    const pending = await eventually(async () => (await a.api('GET', '/approvals')).body.find((p: { gateway: string }) => p.gateway === 'gw-b'));
    expect(pending).toMatchObject({ identity: 'agent', rule: 'unbounded-delete', protocol: 'postgres' });
    const self = await a.api('POST', `/approvals/${pending.id}/approve`, {}, a.token('agent'));
    expect(self.status).toBe(403);
    const decided = await a.api('POST', `/approvals/${pending.id}/approve`, { reason: 'cleanup' }, a.token('alice'));
    expect(decided.status).toBe(200);
    expect((await result).rowCount).toBe(5);
    await held.end();
    expect(await cp.query('SELECT decision, approver, decided_via FROM hopscope_approvals WHERE id = $1', [pending.id]))
      .toEqual([{ decision: 'approved', approver: 'alice', decided_via: 'gw-a' }]);
  });

  it('cut off the control plane, B keeps its sessions and refuses new ones; back, it first catches up on a revocation it missed', async () => {
    const live = await clientOn(b, b.token());
    await cp.partition('b', true);
    await eventually(async () => ((await b.api('GET', '/fleet')).status === 503 ? true : undefined), 10_000);
    await expect(clientOn(b, b.token())).rejects.toThrow(/control plane/);
    // The admin API says what is wrong, not the driver's error (which names the control plane's role).
    const listing = await b.api('GET', '/sessions');
    expect(listing.status).toBe(503);
    expect(listing.body.error).toMatch(/^gateway gw-b cannot reach the fleet's control plane/);
    expect(listing.body.error).not.toContain('gw_b');
    // A revocation asked of the cut-off gateway could not reach the others: refused whole.
    const refused = await b.api('POST', '/revocations', { identity: 'agent' });
    expect(refused).toMatchObject({ status: 503, body: { error: expect.stringContaining('nothing was changed') } });
    expect((await live.query("SELECT 'still-live' AS s")).rows).toEqual([{ s: 'still-live' }]);
    // Meanwhile, A revokes the identity.
    expect((await a.api('POST', '/revocations', { identity: 'agent', reason: 'while b was away' })).status).toBe(200);
    expect((await live.query("SELECT 'not-cut-yet' AS s")).rows).toEqual([{ s: 'not-cut-yet' }]);
    const ended = new Promise<void>((resolve) => live.once('end', () => resolve()));
    await cp.partition('b', false);
    await ended;
    await expect(clientOn(b, b.token())).rejects.toThrow(/revoked/);
    expect((await a.api('DELETE', '/revocations/identity/agent')).status).toBe(200);
    await eventually(async () => clientOn(b, b.token()).then((c) => c.end().then(() => true), () => undefined), 10_000);
  });

  it('cut off longer than its lease, B is taken for dead by A; back, its live session is live in the fleet again', async () => {
    const live = await clientOn(b, b.token());
    const id = (await cp.query<{ id: string }>("SELECT id FROM hopscope_sessions WHERE gateway = 'gw-b' AND ended_at IS NULL ORDER BY started_at DESC LIMIT 1"))[0]!.id;
    await cp.partition('b', true);
    await eventually(async () => (await cp.query<{ end_cause: string }>('SELECT end_cause FROM hopscope_sessions WHERE id = $1 AND ended_at IS NOT NULL', [id]))[0], 15_000);
    expect((await a.api('GET', '/fleet')).body.gateways.find((g: { name: string }) => g.name === 'gw-b')).toMatchObject({ state: 'crashed' });
    await cp.partition('b', false);
    await eventually(async () => (await a.api('GET', '/sessions')).body.find((s: { id: string }) => s.id === id), 15_000);
    expect((await a.api('GET', '/fleet')).body.gateways.find((g: { name: string }) => g.name === 'gw-b')).toMatchObject({ state: 'live', healthy: true });
    expect((await live.query("SELECT 'survived' AS s")).rows).toEqual([{ s: 'survived' }]);
    await live.end();
  });

  it('with whenUnreachable: admit-local, a gateway cut off admits on its last copy, records the session as local-only, and publishes it on return', async () => {
    const local = await startFleetGateway('gw-e', cp.url('e'), db, undefined, { controlPlane: { postgres: cp.url('e'), gatewayName: 'gw-e', leaseSeconds: 3, whenUnreachable: 'admit-local' } });
    await cp.partition('e', true);
    await eventually(async () => ((await local.api('GET', '/fleet')).status === 503 ? true : undefined), 10_000);
    const client = await clientOn(local, local.token());
    await client.query("SELECT 'admitted-local-only'");
    const file = (await import('node:fs')).readdirSync(local.recordingsDir).filter((f) => f.endsWith('.jsonl') && !f.startsWith('gateway-'));
    const starts = await Promise.all(file.map(async (f) => ({ id: f.replace(/\.jsonl$/, ''), start: (await readEvents(join(local.recordingsDir, f)))[0]! })));
    const found = starts.find(({ start }) => (start.data as { fleet?: { admission?: string } }).fleet?.admission === 'local-only');
    expect(found?.start.data).toMatchObject({ fleet: { gateway: 'gw-e', admission: 'local-only' } });
    await cp.partition('e', false);
    await eventually(async () => (await cp.query('SELECT 1 FROM hopscope_sessions WHERE id = $1 AND ended_at IS NULL', [found!.id]))[0], 15_000);
    await client.end();
    await local.proc.stop();
  });

  it('the whole control plane stopped and restarted: both refuse new sessions meanwhile, then admit again', async () => {
    const live = await clientOn(a, a.token());
    await cpServer.halt!();
    for (const gw of [a, b]) {
      await eventually(async () => clientOn(gw, gw.token()).then((c) => c.end().then(() => undefined), (err: Error) => (/control plane/.test(err.message) ? true : undefined)), 10_000);
    }
    expect((await live.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await cpServer.resume!();
    for (const gw of [a, b]) await eventually(async () => clientOn(gw, gw.token()).then((c) => c.end().then(() => true), () => undefined), 15_000);
    await live.end();
  });

  it('a gateway killed with its session open: a peer marks it crashed and the session ended by crash once its lease expires', async () => {
    const c = await startFleetGateway('gw-c', cp.url('c'), db, undefined);
    const client = await clientOn(c, c.token());
    const id = (await cp.query<{ id: string }>("SELECT id FROM hopscope_sessions WHERE gateway = 'gw-c' AND ended_at IS NULL"))[0]!.id;
    c.proc.child.kill('SIGKILL');
    process.kill(-c.proc.pid, 'SIGKILL');
    const row = await eventually(async () => (await cp.query<{ end_cause: string }>('SELECT end_cause FROM hopscope_sessions WHERE id = $1 AND ended_at IS NOT NULL', [id]))[0], 15_000);
    expect(row.end_cause).toBe('gateway-crash');
    const fleet = await a.api('GET', '/fleet');
    expect(fleet.body.gateways.find((g: { name: string }) => g.name === 'gw-c')).toMatchObject({ state: 'crashed', healthy: false, sessions: 0 });
    client.on('error', () => undefined);
  });

  it('a second gateway under a live gateway’s name is refused; restarted on this host after a crash, it takes its name back at once', async () => {
    const d = await startFleetGateway('gw-d', cp.url('c'), db, undefined);
    const client = await clientOn(d, d.token());
    client.on('error', () => undefined);
    await expect(startFleetGateway('gw-d', cp.url('c'), db, undefined)).rejects.toThrow(/held by a live gateway/);
    process.kill(-d.proc.pid, 'SIGKILL');
    await d.proc.exited;
    // Within the old lease (3 s): the old holder's pid is gone, so the name is free on this host.
    const again = await startFleetGateway('gw-d', cp.url('c'), db, undefined);
    expect(await cp.query("SELECT count(*)::int AS n FROM hopscope_sessions WHERE gateway = 'gw-d' AND ended_at IS NULL")).toEqual([{ n: 0 }]);
    expect(await cp.query("SELECT end_cause FROM hopscope_sessions WHERE gateway = 'gw-d'")).toEqual([{ end_cause: 'gateway-crash' }]);
    await again.proc.stop();
  });

  it('both gateways stopped: their folders import into one case, all intact, with the chain crossing from A to B', async () => {
    expect(crossing).toBeDefined();
    await Promise.all([a.proc.stop(), b.proc.stop()]);
    const caseFile = join(await mkdtemp(join(tmpdir(), 'hopscope-fleet-case-')), 'case.db');
    const imported = await hopscopeCli('import', a.recordingsDir, b.recordingsDir, '--db', caseFile, '--key', a.keysDir, '--key', b.keysDir);
    expect(imported.code, imported.stderr + imported.stdout).toBe(0);
    expect(imported.stdout).toContain('all intact');
    const chain = await hopscopeCli('chain', '--db', caseFile, '--format', 'json', '--session', crossing!.child);
    const text = JSON.stringify(JSON.parse(chain.stdout));
    expect(text).toContain(crossing!.parent);
    expect(text).toContain(crossing!.child);
    expect(text).toContain('hop-token');
  });
});
