import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType } from '../../common/recording/index.js';
import { createControlPlane, startFleetGateway, type FleetGatewayProcess } from '../helpers/fleet.js';
import { eventually } from '../helpers/gateway.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { stopAll } from '../helpers/processes.js';
import { startSshd, type SshdServer } from '../helpers/sshd.js';
import { eventsOf, pgOn, sshOn } from './fleet-support.js';
import pg from 'pg';

// Red team of issue 16's approval promise: an operation held on one gateway is decided through any other, once,
// never by its requester nor with a hop token, and the held client sees exactly the decision the fleet records.
let db: PgServer;
let cpServer: PgServer;
let sshd: SshdServer;
let cp: Awaited<ReturnType<typeof createControlPlane>>;
let a: FleetGatewayProcess;
let b: FleetGatewayProcess;
let d: FleetGatewayProcess;

const review = { guardrails: [{ name: 'unbounded-delete', sql: { statements: ['DeleteStmt'], withoutWhere: true }, action: 'review' }] };
// bob: a second machine identity with targets, so a hop token of someone other than the requester can try to approve.
const identities = [
  { name: 'agent', kind: 'machine', targets: ['db', 'host'], approver: true },
  { name: 'bob', kind: 'machine', targets: ['db', 'host'], approver: true },
  { name: 'alice', kind: 'human', targets: [], approver: true },
];

beforeAll(async () => {
  [db, cpServer, sshd] = await Promise.all([startPostgres({ logStatements: true }), startPostgres(), startSshd()]);
  cp = await createControlPlane(cpServer, ['a', 'b', 'd', 'e']);
  [a, b, d] = await Promise.all([
    startFleetGateway('gw-a', cp.url('a'), db, sshd, { identities }),
    startFleetGateway('gw-b', cp.url('b'), db, undefined, { ...review, identities: identities.map((i) => ({ ...i, targets: i.targets.filter((t) => t === 'db') })) }),
    // A short timeout: the held client's wait ends on its own while a decision is in the air.
    startFleetGateway('gw-d', cp.url('d'), db, undefined, { ...review, approvals: { timeout: '6s' }, identities: identities.map((i) => ({ ...i, targets: i.targets.filter((t) => t === 'db') })) }),
  ]);
  const setup = new pg.Client(db.app);
  await setup.connect();
  await setup.query('CREATE TABLE held_items (id int)');
  await setup.end();
}, 120_000);
afterAll(async () => {
  await stopAll();
  await Promise.all([db?.stop(), cpServer?.stop(), sshd?.stop()]);
});

const refill = async () => {
  const c = new pg.Client(db.app);
  await c.connect();
  await c.query('INSERT INTO held_items SELECT generate_series(1, 3)');
  await c.end();
};
/** A DELETE without WHERE held on `gw`, and its pending approval as another gateway lists it. */
async function holdOn(gw: FleetGatewayProcess, through: FleetGatewayProcess, marker = '') {
  await refill();
  const session = await pgOn(gw, gw.token('agent'));
  const result = session.client.query(`DELETE FROM held_items${marker}`).then((r) => ({ rows: r.rowCount }), (err: Error) => ({ error: err.message }));
  const pending = await eventually(async () => (await through.api('GET', '/approvals')).body.find((p: { gateway: string }) => p.gateway === gw.name));
  return { session, result, pending };
}
const dbOnly = identities.map((i) => ({ ...i, targets: i.targets.filter((t) => t === 'db') }));
const ran = async (marker: string) => (await db.loggedStatements()).some((s) => s.includes(marker));
const rowOf = async (id: string) => (await cp.query<{ decision: string | null; approver: string | null; decided_via: string | null }>(
  'SELECT decision, approver, decided_via FROM hopscope_approvals WHERE id = $1', [id]))[0]!;
const decidedInRecording = async (gw: FleetGatewayProcess, id: string) => {
  for (const f of readdirSync(gw.recordingsDir).filter((n) => n.endsWith('.jsonl') && !n.startsWith('gateway-'))) {
    const ev = (await eventsOf(gw, f.replace(/\.jsonl$/, ''))).find((e) => e.type === EventType.ApprovalDecided && (e.data as { id: string }).id === id);
    if (ev) return ev.data as { decision: string; approver?: string };
  }
  return undefined;
};

describe('fleet approvals under attack', () => {
  it('a hop token cannot approve through another gateway, nor the requester with a token another gateway signed; an approver can', async () => {
    const { session, result, pending } = await holdOn(b, a);
    const bobOnA = await sshOn(a, a.token('bob'), 'bob');
    const byHop = await a.api('POST', `/approvals/${pending.id}/approve`, {}, bobOnA.hopToken);
    expect(byHop.status).toBe(403);
    expect(JSON.stringify(byHop.body)).toMatch(/hop tokens cannot approve/);
    // The requester, with an identity token signed by a third gateway's key, through A.
    const self = await a.api('POST', `/approvals/${pending.id}/approve`, {}, d.token('agent'));
    expect(self.status).toBe(403);
    expect(await rowOf(pending.id)).toMatchObject({ decision: null });
    expect((await a.api('POST', `/approvals/${pending.id}/approve`, {}, d.token('alice'))).status).toBe(200);
    expect(await result).toEqual({ rows: 3 });
    expect(await decidedInRecording(b, pending.id)).toMatchObject({ decision: 'approved', approver: 'alice' });
    bobOnA.client.end();
    await session.client.end();
  });

  it('approved through A and denied through D at the same moment: one decision wins, the client and the recording agree with the fleet', async () => {
    const { session, result, pending } = await holdOn(b, a);
    const [approve, deny] = await Promise.all([
      a.api('POST', `/approvals/${pending.id}/approve`, {}, a.token('alice')),
      d.api('POST', `/approvals/${pending.id}/deny`, {}, d.token('bob')),
    ]);
    expect([approve.status, deny.status].filter((s) => s === 200)).toHaveLength(1);
    const row = await rowOf(pending.id);
    const outcome = await result;
    const recorded = await eventually(() => decidedInRecording(b, pending.id));
    if (approve.status === 200) {
      expect(row).toMatchObject({ decision: 'approved', approver: 'alice', decided_via: 'gw-a' });
      expect(outcome).toEqual({ rows: 3 });
    } else {
      expect(row).toMatchObject({ decision: 'denied', approver: 'bob', decided_via: 'gw-d' });
      expect(outcome).toHaveProperty('error');
    }
    expect(recorded.decision).toBe(row.decision);
    await session.client.end();
  });

  // Was a hole until 5f6ce7c (gateway/fleet/approvals.ts decide(), the UPDATE at line ~67): a decision is written to the row and answered
  // 200 without the holder having settled anything. With the holder cut off, the approver is told "approved", the
  // held client waits out its timeout and is refused, the holder records a timeout, and the control plane keeps
  // decision=approved by alice (settled()'s update only writes where the decision is empty or equal).
  it('an approval through A for an operation held on a gateway cut off from the control plane: the approver is not told it was approved unless it ran', async () => {
    const { session, result, pending } = await holdOn(d, a);
    await cp.partition('d', true);
    const decided = await a.api('POST', `/approvals/${pending.id}/approve`, { reason: 'looks fine' }, a.token('alice'));
    const outcome = await result; // the holder never hears of it: its timeout ends the wait
    await cp.partition('d', false);
    await eventually(async () => pgOn(d, d.token()).then((s) => s.client.end().then(() => true), () => undefined), 15_000);
    const recorded = await decidedInRecording(d, pending.id);
    const row = await rowOf(pending.id);
    await session.client.end().catch(() => undefined);
    // What happened on D: the operation was not run.
    expect(outcome).toHaveProperty('error');
    expect(recorded?.decision).toBe('timeout');
    // What the approver and the fleet were told must agree with it.
    expect(row.decision).not.toBe('approved');
    expect(decided.status).not.toBe(200);
  }, 60_000);
  it('an approval for an operation whose holder was killed: the approver is not told it ran, nothing ran, and the fleet records the holder gone', async () => {
    const e = await startFleetGateway('gw-e', cp.url('e'), db, undefined, { ...review, identities: dbOnly });
    const { result, pending } = await holdOn(e, a, ' /* held-by-killed */');
    process.kill(-e.proc.pid, 'SIGKILL');
    await e.proc.exited;
    const decided = await a.api('POST', `/approvals/${pending.id}/approve`, {}, a.token('alice'));
    expect(decided.status).not.toBe(200);
    expect(await result).toHaveProperty('error');
    expect(await eventually(async () => (await rowOf(pending.id)).decision ?? undefined, 15_000)).toBe('gateway-gone');
    expect(await ran('held-by-killed')).toBe(false);
  }, 60_000);
});
