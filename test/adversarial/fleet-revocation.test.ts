import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createControlPlane, startFleetGateway, type FleetGatewayProcess } from '../helpers/fleet.js';
import { eventually, TARGET_PASSWORD_ENV } from '../helpers/gateway.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { stopAll } from '../helpers/processes.js';
import { ssh2Exec, startSshd, type SshdServer } from '../helpers/sshd.js';
import { eventsOf, holdingProxy, pgOn, sshOn } from './fleet-support.js';

// Red team of issue 16's revocation promise: a revocation taken on any gateway cuts the identity's or token's
// sessions and every descendant on every gateway, and nothing revoked is admitted anywhere afterwards.
// A and B serve PostgreSQL and SSH; C serves PostgreSQL through a proxy that can hold a login in flight.
let db: PgServer;
let cpServer: PgServer;
let sshd: SshdServer;
let cp: Awaited<ReturnType<typeof createControlPlane>>;
let proxy: Awaited<ReturnType<typeof holdingProxy>>;
let a: FleetGatewayProcess;
let b: FleetGatewayProcess;
let c: FleetGatewayProcess;

beforeAll(async () => {
  [db, cpServer, sshd] = await Promise.all([startPostgres({ logStatements: true }), startPostgres(), startSshd()]);
  cp = await createControlPlane(cpServer, ['a', 'b', 'c', 'e']);
  proxy = await holdingProxy(db.host, db.port);
  const proxied = [{ name: 'db', type: 'postgres', host: '127.0.0.1', port: proxy.port, database: db.appDatabase, user: db.appUser,
    password: { env: TARGET_PASSWORD_ENV } }];
  [a, b, c] = await Promise.all([
    startFleetGateway('gw-a', cp.url('a'), db, sshd),
    startFleetGateway('gw-b', cp.url('b'), db, sshd),
    startFleetGateway('gw-c', cp.url('c'), db, undefined, { targets: proxied }),
  ]);
}, 120_000);
afterAll(async () => {
  await stopAll();
  await proxy?.close();
  await Promise.all([db?.stop(), cpServer?.stop(), sshd?.stop()]);
});

const childOf = (parent: string) => eventually(async () => (await cp.query<{ id: string }>('SELECT id FROM hopscope_sessions WHERE parent = $1 ORDER BY started_at DESC', [parent]))[0]?.id);
const tokenOf = async (session: string) => (await cp.query<{ token_id: string }>('SELECT token_id FROM hopscope_sessions WHERE id = $1', [session]))[0]!.token_id;
const endOf = async (gw: FleetGatewayProcess, session: string) => (await eventsOf(gw, session)).find((e) => e.type === 'session.end')?.data;
const ran = async (marker: string) => (await db.loggedStatements()).some((s) => s.includes(marker));
/** A login on `gw` works again (revocations lifted and seen there). */
const admitsAgain = (gw: FleetGatewayProcess) => eventually(async () => pgOn(gw, gw.token()).then((s) => s.client.end().then(() => true), () => undefined), 15_000);

/** Waits until the login is held at the proxy (admitted, connecting upstream); fails if it settled before that. */
async function inFlight(login: Promise<unknown>) {
  const settled = login.then(() => 'connected', (err: Error) => `refused: ${err.message}`);
  const first = await Promise.race([proxy.held().then(() => 'held'), settled]);
  expect(first).toBe('held');
}

/** ssh on A (S1) → ssh on B with S1's hop token (S2) → psql on `leaf` with S2's hop token (S3): a chain crossing gateways. */
async function chain(leaf: FleetGatewayProcess) {
  const s1 = await sshOn(a, a.token());
  const s2 = await sshOn(b, s1.hopToken);
  const s3 = await pgOn(leaf, s2.hopToken);
  const s3Id = await childOf(s2.session);
  return { s1, s2, s3, s3Id };
}

describe('fleet revocation under attack', () => {
  it('a hop token of a hop token across three hops: the root token revoked on B cuts all three, and no token of the chain logs in again', async () => {
    const { s1, s2, s3, s3Id } = await chain(a);
    expect((await eventsOf(b, s2.session))[0]!.data).toMatchObject({ parent: s1.session, linkKind: 'hop-token', evidence: { parentGateway: 'gw-a' } });
    expect((await eventsOf(a, s3Id))[0]!.data).toMatchObject({ parent: s2.session, linkKind: 'hop-token', evidence: { parentGateway: 'gw-b' } });
    const root = (await eventsOf(a, s1.session))[0]!.data.rootTokenId as string;
    const revoked = await b.api('POST', '/revocations', { tokenId: root, reason: 'red team r1' });
    expect(revoked.status).toBe(200);
    expect(revoked.body.sessionsCut).toEqual(expect.arrayContaining([s1.session, s2.session, s3Id]));
    await Promise.all([s1.closed, s2.closed, s3.ended]);
    await expect(s3.client.query("SELECT 'r1-after-revoke'")).rejects.toThrow();
    expect(await ran('r1-after-revoke')).toBe(false);
    for (const gw of [a, b, c]) {
      await expect(pgOn(gw, s2.hopToken)).rejects.toThrow(/revoked|ended/);
      await expect(pgOn(gw, s1.hopToken)).rejects.toThrow(/revoked|ended/);
    }
  });

  it('an intermediate hop token revoked on A (B reachable): its session on B and the grandchild back on A are cut, the grandparent is not', async () => {
    const { s1, s2, s3, s3Id } = await chain(a);
    const revoked = await a.api('POST', '/revocations', { tokenId: await tokenOf(s2.session), reason: 'red team r2' });
    expect(revoked.status).toBe(200);
    await Promise.all([s2.closed, s3.ended]);
    expect(await endOf(a, s3Id)).toMatchObject({ cause: 'ancestor-revoked', ancestor: s2.session });
    expect((await ssh2Exec(s1.client, 'echo still-here')).stdout.trim()).toBe('still-here');
    s1.client.end();
  });

  // Was a hole until 5f6ce7c (gateway/fleet/member.ts applyRevocations + revocations.ts refresh/seen, sessions.ts cutBy): B cut off past
  // its lease has its sessions marked ended by a peer; an intermediate hop token revoked then finds no live session
  // to start the lineage from, so the grandchild on A is not cut. When B returns it republishes S2 and cuts it, and
  // its cutBy now lists S3 on A — but A already marked the revocation seen and never looked again: S3 lived on.
  it('an intermediate hop token revoked while its gateway is cut off past its lease: the grandchild on another gateway is cut when that gateway returns', async () => {
    const { s1, s2, s3, s3Id } = await chain(a);
    const h1 = await tokenOf(s2.session);
    await cp.partition('b', true);
    await eventually(async () => (await cp.query('SELECT 1 FROM hopscope_sessions WHERE id = $1 AND ended_at IS NOT NULL', [s2.session]))[0], 15_000);
    expect((await a.api('POST', '/revocations', { tokenId: h1, reason: 'red team r3' })).status).toBe(200);
    await cp.partition('b', false);
    await s2.closed; // B caught up and cut S2 itself
    s1.client.end();
    await eventually(async () => (await cp.query('SELECT 1 FROM hopscope_sessions WHERE id = $1 AND ended_at IS NOT NULL', [s3Id]))[0], 10_000);
    await s3.ended;
    await expect(s3.client.query("SELECT 'r3-orphan'")).rejects.toThrow();
    expect(await ran('r3-orphan')).toBe(false);
  }, 60_000);

  it('a login in flight (admitted, connecting upstream) when its identity is revoked on another gateway is refused before it reaches the database', async () => {
    const sentinel = await pgOn(c, c.token());
    proxy.hold();
    const racer = pgOn(c, c.token());
    await inFlight(racer);
    const racerId = (await cp.query<{ id: string }>("SELECT id FROM hopscope_sessions WHERE gateway = 'gw-c' AND ended_at IS NULL ORDER BY started_at DESC LIMIT 1"))[0]!.id;
    expect((await a.api('POST', '/revocations', { identity: 'agent', reason: 'red team r4' })).status).toBe(200);
    await sentinel.ended; // C has applied the revocation
    proxy.release();
    await expect(racer).rejects.toThrow(/revoked/);
    expect(await endOf(c, racerId)).toMatchObject({ revocation: { identity: 'agent' } });
    expect((await b.api('DELETE', '/revocations/identity/agent')).status).toBe(200);
    for (const gw of [a, b, c]) await admitsAgain(gw);
  });

  // Was a hole until 5f6ce7c (gateway/pg/listener.ts:175 and gateway/ssh/listener.ts:186 re-check only the token's own revocation before
  // registering; gateway/revocation.ts cutLocal and gateway/fleet/member.ts applyRevocations cut only registered
  // sessions): a hop login admitted while its parent is live, still connecting upstream when the parent's token is
  // revoked, was registered afterwards and ran statements below a revoked session.
  it('a hop login in flight when its parent session’s token is revoked on another gateway runs nothing and ends as revoked', async () => {
    const s1 = await sshOn(a, a.token());
    const s2 = await sshOn(b, s1.hopToken);
    const sentinel = await pgOn(c, s2.hopToken);
    proxy.hold();
    const racer = pgOn(c, s2.hopToken);
    racer.catch(() => undefined);
    await inFlight(racer);
    const h1 = await tokenOf(s2.session);
    expect((await a.api('POST', '/revocations', { tokenId: h1, reason: 'red team r5' })).status).toBe(200);
    await Promise.all([s2.closed, sentinel.ended]); // B and C have applied it
    proxy.release();
    s1.client.end();
    // Refused, or let through the handshake and ended before it reads a statement: either way nothing runs.
    const outcome = await racer.then(async (r) => {
      const q = await r.client.query("SELECT 'r5-escaped'").then(() => 'ran', () => 'cut');
      await r.client.end().catch(() => undefined);
      return q;
    }, () => 'refused');
    expect(outcome).not.toBe('ran');
    expect(await ran('r5-escaped')).toBe(false);
    const racerId = (await cp.query<{ id: string }>("SELECT id FROM hopscope_sessions WHERE parent = $1 AND gateway = 'gw-c' ORDER BY started_at DESC LIMIT 1", [s2.session]))[0]!.id;
    expect(await endOf(c, racerId)).toMatchObject({ revocation: { tokenId: h1 } });
  });

  it('lifted on B and revoked again on B: A admits after the lift and cuts its session at the second revocation', async () => {
    expect((await a.api('POST', '/revocations', { identity: 'agent', reason: 'r6 first' })).status).toBe(200);
    await expect(pgOn(a, a.token())).rejects.toThrow(/revoked/);
    expect((await b.api('DELETE', '/revocations/identity/agent')).status).toBe(200);
    await admitsAgain(a);
    const live = await pgOn(a, a.token());
    expect((await b.api('POST', '/revocations', { identity: 'agent', reason: 'r6 second' })).status).toBe(200);
    await live.ended;
    await expect(live.client.query("SELECT 'r6-after'")).rejects.toThrow();
    expect(await ran('r6-after')).toBe(false);
    expect((await a.api('DELETE', '/revocations/identity/agent')).status).toBe(200);
  });

  it('a hop token whose parent session lived on a gateway killed since is refused on every gateway once the lease has marked it', async () => {
    const e = await startFleetGateway('gw-e', cp.url('e'), db, sshd);
    const parent = await sshOn(e, e.token());
    process.kill(-e.proc.pid, 'SIGKILL');
    await e.proc.exited;
    await eventually(async () => (await cp.query("SELECT 1 FROM hopscope_sessions WHERE id = $1 AND end_cause = 'gateway-crash'", [parent.session]))[0], 15_000);
    for (const gw of [a, b, c]) await expect(pgOn(gw, parent.hopToken)).rejects.toThrow(/ended/);
    await expect(sshOn(a, parent.hopToken)).rejects.toThrow();
  }, 60_000);
});
