import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../log.js';
import { startPostgres, type PgServer } from '../../test/helpers/postgres.js';
import { ControlPlaneLink } from './link.js';
import { pruneControlPlane } from './retention.js';
import { FleetSessions } from './sessions.js';

let cp: PgServer;
let link: ControlPlaneLink;

beforeAll(async () => {
  cp = await startPostgres();
  link = new ControlPlaneLink(`postgres://${cp.superuser}:${cp.superPassword}@${cp.host}:${cp.port}/postgres`, silentLogger);
  await link.open();
}, 120_000);

afterAll(async () => {
  await link?.close();
  await cp?.stop();
});

/** A session row; `endedAgo` in seconds (undefined: live). */
async function session(id: string, parent: string | null, endedAgo: number | undefined, token = `tok-${id}`): Promise<void> {
  await link.query(
    `INSERT INTO hopscope_sessions (id, gateway, protocol, identity, target, client, token_id, root_token_id, parent, started_at, ended_at, end_cause)
     VALUES ($1, 'gw-a', 'postgres', 'alice', 'db', '127.0.0.1', $3, 'root', $2, now() - interval '3 hours',
             CASE WHEN $4::integer IS NULL THEN NULL ELSE now() - make_interval(secs => $4::integer) END,
             CASE WHEN $4::integer IS NULL THEN NULL ELSE 'client-closed' END)`, [id, parent, token, endedAgo ?? null]);
}

async function ids(): Promise<string[]> {
  const { rows } = await link.query<{ id: string }>('SELECT id FROM hopscope_sessions ORDER BY id');
  return rows.map((r) => r.id);
}

describe('control plane retention', () => {
  it('deletes old ended sessions and decided approvals, keeps recent ones and every ancestor of a live session', async () => {
    // old-lone: ended 2 h ago, nothing below it. grand → mid → live-leaf: grand and mid ended 2 h ago, the leaf is live,
    // so a revocation of grand's token must still reach the leaf through them. recent: ended a minute ago.
    // old-parent → old-child: both ended long ago (a whole ended chain goes).
    await session('old-lone', null, 7200);
    await session('grand', null, 7200, 'tok-grand');
    await session('mid', 'grand', 7200);
    await session('live-leaf', 'mid', undefined);
    await session('recent', null, 60);
    await session('old-parent', null, 7200);
    await session('old-child', 'old-parent', 7000);
    await link.query(
      `INSERT INTO hopscope_approvals (id, gateway, session, identity, target, protocol, rule, operation, requested_at, decision, decided_at) VALUES
       ('ap-old', 'gw-a', 's', 'alice', 'db', 'postgres', 'r', 'DELETE', now() - interval '3 hours', 'approved', now() - interval '2 hours'),
       ('ap-recent', 'gw-a', 's', 'alice', 'db', 'postgres', 'r', 'DELETE', now(), 'denied', now()),
       ('ap-pending', 'gw-a', 's', 'alice', 'db', 'postgres', 'r', 'DELETE', now() - interval '3 hours', NULL, NULL)`);

    const pruned = await pruneControlPlane(link, 3600);

    expect(pruned).toEqual({ sessions: 3, approvals: 1 });
    expect(await ids()).toEqual(['grand', 'live-leaf', 'mid', 'recent']);
    const { rows } = await link.query<{ id: string }>('SELECT id FROM hopscope_approvals ORDER BY id');
    expect(rows.map((r) => r.id)).toEqual(['ap-pending', 'ap-recent']);
    // What the kept rows are for: revoking grand's token still finds the live leaf two ended hops below it.
    const cut = await new FleetSessions(link, 'gw-a').cutBy({ tokenId: 'tok-grand', at: Date.now() });
    expect(cut).toEqual([{ id: 'live-leaf', root: 'grand', gateway: 'gw-a' }]);
    // A second pass finds nothing more to delete.
    expect(await pruneControlPlane(link, 3600)).toEqual({ sessions: 0, approvals: 0 });
  });
});
