import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType } from '../../common/recording/index.js';
import { eventually, readEvents, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { ssh2Client, ssh2Exec, startSshd, type SshdServer } from '../helpers/sshd.js';
import { holdingProxy } from './fleet-support.js';

// A lone gateway (no fleet): a hop login still connecting upstream when a token above it in the lineage is revoked.
// Its own token is not the one revoked, so only the lineage covers it: it must run nothing and end as revoked.
let db: PgServer;
let sshd: SshdServer;
let gw: TestGateway;
let proxy: Awaited<ReturnType<typeof holdingProxy>>;

beforeAll(async () => {
  [db, sshd] = await Promise.all([startPostgres({ logStatements: true }), startSshd()]);
  proxy = await holdingProxy(db.host, db.port);
  // The database target is reached through the proxy, which can hold a login between admission and the upstream handshake.
  gw = await startTestGateway({ ...db, port: proxy.port }, {}, { ssh: sshd });
}, 60_000);
afterAll(async () => {
  await gw?.stop();
  await proxy?.close();
  await Promise.all([sshd?.stop(), db?.stop()]);
});

async function sshWith(password: string) {
  const client = await ssh2Client(gw.gateway.ssh!.port, 'agent:host', { password });
  client.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  const [session, hopToken] = (await ssh2Exec(client, 'echo "$HOPSCOPE_SESSION $HOPSCOPE_TOKEN"')).stdout.trim().split(' ');
  return { client, closed, session: session!, hopToken: hopToken! };
}

describe('revocation and a login in flight, on a lone gateway', () => {
  it('a hop login connecting upstream when its parent session’s token is revoked runs nothing and ends as revoked', async () => {
    const s1 = await sshWith(gw.token());
    const s2 = await sshWith(s1.hopToken); // s2 presented s1's hop token: revoking that token cuts s2 and what is below it
    proxy.hold();
    const racer = new pg.Client({ host: '127.0.0.1', port: gw.gateway.postgres!.port, user: 'agent', password: s2.hopToken, database: 'db' });
    racer.on('error', () => undefined);
    const connecting = racer.connect().then(() => 'connected', () => 'refused');
    await proxy.held(); // admitted, connecting upstream
    const revoked = await fetch(`${gw.gateway.admin.url}/revocations`, {
      method: 'POST', headers: { authorization: `Bearer ${gw.gateway.admin.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tokenId: tokenIdOf(s1.hopToken), reason: 'in flight' }),
    });
    expect(revoked.status).toBe(200);
    await s2.closed;
    proxy.release();
    // Refused, or through the handshake and ended before it reads a statement: either way nothing runs.
    const outcome = (await connecting) === 'refused' ? 'refused'
      : await racer.query("SELECT 'lone-in-flight-escaped'").then(() => 'ran', () => 'cut');
    await racer.end().catch(() => undefined);
    s1.client.end();
    expect(outcome).not.toBe('ran');
    expect((await db.loggedStatements()).some((s) => s.includes('lone-in-flight-escaped'))).toBe(false);
    const end = await eventually(async () => {
      for (const file of await gw.sessionFiles()) {
        const events = await readEvents(file);
        if (events[0]?.data.parent !== s2.session || events[0]?.data.protocol !== 'postgres') continue;
        return events.find((e) => e.type === EventType.SessionEnd)?.data;
      }
      return undefined;
    });
    expect(end).toMatchObject({ cause: 'ancestor-revoked', revocation: { tokenId: tokenIdOf(s1.hopToken) } });
  });
});

/** The token id (jti) of a token, read from its claims. */
function tokenIdOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { jti: string }).jti;
}
