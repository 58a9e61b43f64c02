import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateSigner } from '../../common/keys.js';
import { EventType } from '../../common/recording/index.js';
import { createControlPlane, startFleetGateway, type FleetGatewayProcess } from '../helpers/fleet.js';
import { eventually, readEvents } from '../helpers/gateway.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { stopAll } from '../helpers/processes.js';
import { ssh2Client, ssh2Exec, startSshd, type SshdServer } from '../helpers/sshd.js';
import { pgOn, sshOn } from './fleet-support.js';

// Red team of issue 16's outage and trust promises: the control plane down → new sessions refused on every protocol,
// live ones continue; back → nobody admitted before the catch-up; a key retired on one gateway is refused on all;
// a gateway name is held by one live gateway at a time.
let db: PgServer;
let cpServer: PgServer;
let sshd: SshdServer;
let cp: Awaited<ReturnType<typeof createControlPlane>>;
let a: FleetGatewayProcess;
let b: FleetGatewayProcess;

beforeAll(async () => {
  [db, cpServer, sshd] = await Promise.all([startPostgres({ logStatements: true }), startPostgres(), startSshd()]);
  cp = await createControlPlane(cpServer, ['a', 'b', 'c']);
  [a, b] = await Promise.all([startFleetGateway('gw-a', cp.url('a'), db, sshd), startFleetGateway('gw-b', cp.url('b'), db, sshd)]);
}, 120_000);
afterAll(async () => {
  await stopAll();
  await Promise.all([db?.stop(), cpServer?.stop(), sshd?.stop()]);
});

const ran = async (marker: string) => (await db.loggedStatements()).some((s) => s.includes(marker));
/** The reason of the newest refusal in a gateway's audit log. */
const lastRefusal = async (gw: FleetGatewayProcess) => {
  const audit = readdirSync(gw.recordingsDir).filter((f) => f.startsWith('gateway-')).map((f) => join(gw.recordingsDir, f));
  const events = (await Promise.all(audit.map((f) => readEvents(f)))).flat().filter((e) => e.type === EventType.Refused);
  return (events.at(-1)?.data as { reason?: string; protocol?: string } | undefined);
};
const sshRefused = async (gw: FleetGatewayProcess, password: string) => {
  const outcome = await ssh2Client(gw.sshPort!, 'agent:host', { password }).then((c) => (c.end(), 'admitted'), () => 'refused');
  return { outcome, refusal: await lastRefusal(gw) };
};
const admits = (gw: FleetGatewayProcess, token = gw.token()) => eventually(async () => pgOn(gw, token).then((s) => s.client.end().then(() => true), () => undefined), 20_000);

describe('fleet outage and trust under attack', () => {
  it('the control plane stopped: pg and ssh logins are refused on both gateways, live pg and ssh sessions keep working, and both admit once it is back', async () => {
    const livePg = await pgOn(a, a.token());
    const liveSsh = await sshOn(b, b.token());
    await cpServer.halt!();
    for (const gw of [a, b]) {
      await eventually(async () => pgOn(gw, gw.token()).then((s) => s.client.end().then(() => undefined), (err: Error) => (/control plane/.test(err.message) ? true : undefined)), 15_000);
      expect(await sshRefused(gw, gw.token())).toMatchObject({ outcome: 'refused', refusal: { reason: 'CONTROL_PLANE_UNAVAILABLE', protocol: 'ssh' } });
    }
    expect((await livePg.client.query("SELECT 'o1-live-pg' AS s")).rows).toEqual([{ s: 'o1-live-pg' }]);
    expect((await ssh2Exec(liveSsh.client, 'echo o1-live-ssh')).stdout.trim()).toBe('o1-live-ssh');
    expect(await ran('o1-live-pg')).toBe(true);
    await cpServer.resume!();
    for (const gw of [a, b]) await admits(gw);
    liveSsh.client.end();
    await livePg.client.end();
  }, 90_000);

  it('back after an outage, a gateway whose catch-up cannot finish (the revocations table locked) admits nobody on pg or ssh until it has', async () => {
    await cp.partition('b', true);
    await eventually(async () => ((await b.api('GET', '/fleet')).status === 503 ? true : undefined), 10_000);
    const locker = new pg.Client({ host: cpServer.host, port: cpServer.port, user: cpServer.superuser, password: cpServer.superPassword, database: 'cp' });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE hopscope_revocations IN ACCESS EXCLUSIVE MODE');
    try {
      await cp.partition('b', false);
      // Reconnected, the catch-up is stuck on the lock: logins are refused as "catching up", never admitted.
      const seen = await eventually(async () => pgOn(b, b.token()).then(
        (s) => s.client.end().then(() => 'admitted'), (err: Error) => (/catching up/.test(err.message) ? 'catching-up' : undefined)), 10_000);
      expect(seen).toBe('catching-up');
      expect((await sshRefused(b, b.token())).outcome).toBe('refused');
    } finally {
      await locker.query('COMMIT');
      await locker.end();
    }
    await admits(b);
  }, 60_000);

  it('B’s key retired through A: tokens and hop tokens B signed are refused on both gateways over pg and ssh; A’s are still admitted on B', async () => {
    await admits(b, a.token());
    const onB = await sshOn(b, b.token());
    // B's own key (read from its keys.dir): the gateways row may name another after a takeover.
    const { keyId } = loadOrCreateSigner(b.keysDir);
    expect((await a.api('POST', `/fleet/keys/${keyId}/retire`)).status).toBe(200);
    for (const gw of [a, b]) {
      await eventually(async () => pgOn(gw, b.token()).then((s) => s.client.end().then(() => undefined), () => true), 10_000);
      await expect(pgOn(gw, onB.hopToken)).rejects.toThrow();
      expect((await sshRefused(gw, b.token())).outcome).toBe('refused');
    }
    await admits(b, a.token());
    onB.client.end();
  }, 60_000);

  // Was a hole until 5f6ce7c (gateway/fleet/member.ts catchUp() sets state = 'live' WHERE name = $1 without checking who holds the name,
  // and beat() heartbeats WHERE name = $1 AND state = 'live', which the usurper's row satisfies): a gateway cut off
  // past its lease, whose name another gateway took over meanwhile, comes back and admits again under that name
  // (seen: admitted). Two live processes then share one hopscope_gateways row (the row kept the usurper's key id:
  // retiring "gw-b's key" from GET /fleet retired the usurper's, not the old gateway's) and one hopscope_sessions
  // namespace, so either one's register()/leave() marks the other's live sessions ended.
  it('a gateway whose name was taken over while it was cut off does not admit again under that name', async () => {
    await cp.partition('b', true);
    await eventually(async () => (await cp.query("SELECT 1 FROM hopscope_gateways WHERE name = 'gw-b' AND state = 'crashed'"))[0], 15_000);
    const usurper = await startFleetGateway('gw-b', cp.url('c'), db, undefined, { controlPlane: { postgres: cp.url('c'), gatewayName: 'gw-b', leaseSeconds: 3 } });
    expect(await cp.query("SELECT state FROM hopscope_gateways WHERE name = 'gw-b'")).toEqual([{ state: 'live' }]);
    await cp.partition('b', false);
    // Given the time to reconnect and catch up, the old gateway is admitted again: it should not be.
    const outcome = await eventually(async () => pgOn(b, a.token()).then((s) => s.client.end().then(() => 'admitted'), () => undefined), 15_000)
      .catch(() => 'refused');
    await usurper.proc.stop();
    expect(outcome).toBe('refused');
  }, 90_000);
});
