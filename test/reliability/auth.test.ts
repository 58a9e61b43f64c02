// Auth: forged, tampered, expired, revoked, wrong-identity and replayed-after-
// revocation tokens on the PostgreSQL and SSH listeners; the admin API and the
// approvals API without (valid) credentials; approval by the requester. Each must
// be refused, and recorded in the gateway's audit recording.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock, systemClock } from '../../common/clock.js';
import { generateSigner } from '../../common/keys.js';
import { EventType } from '../../common/recording/index.js';
import { issueToken } from '../../common/tokens/index.js';
import { eventually, readEvents, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startPostgres, type PgServer } from '../helpers/postgres.js';
import { run } from '../helpers/processes.js';
import { sshClientOf, startSshd, type SshdServer } from '../helpers/sshd.js';
import { Counts } from './support.js';

const counts = new Counts('auth', 'Auth: bad credentials refused and recorded');
let db: PgServer;
let sshd: SshdServer;
let gw: TestGateway;

beforeAll(async () => {
  [db, sshd] = await Promise.all([startPostgres(), startSshd()]);
  const all = ['db', 'host'];
  gw = await startTestGateway(db, {
    identities: [
      { name: 'agent', kind: 'machine', targets: all, approver: true },
      { name: 'outsider', kind: 'human', targets: [] },
      { name: 'replayer', kind: 'machine', targets: all },
      { name: 'alice', kind: 'human', targets: [], approver: true },
    ],
    guardrails: [{ name: 'unbounded-write', sql: { statements: ['DeleteStmt'], withoutWhere: true }, action: 'review' }],
    approvals: { timeout: '1m' },
  }, { ssh: sshd });
});
afterAll(async () => {
  await gw?.stop();
  await Promise.all([db?.stop(), sshd?.stop()]);
});

const audit = async () => (await readEvents(gw.gateway.auditPath)).filter((e) => e.type === EventType.Refused);
const issue = (identity: string, clock = systemClock, ttlSeconds = 600) => issueToken(gw.gateway.signer, clock, { identity, ttlSeconds });

async function viaPg(identity: string, token: string): Promise<string> {
  const c = new pg.Client({ ...gw.conn(identity), password: token });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('SELECT 1');
    await c.end();
    return 'served';
  } catch (err) {
    return (err as Error).message;
  }
}
async function viaSsh(identity: string, token: string): Promise<string> {
  const { options, env } = await sshClientOf(sshd.dir, token, { logLevel: 'INFO' });
  const res = await run('ssh', [...options, '-p', String(gw.gateway.ssh!.port), `${identity}:host@127.0.0.1`, 'echo served'], { env });
  return res.stdout.includes('served') ? 'served' : res.stderr;
}
async function revoke(body: Record<string, string>) {
  const res = await fetch(`${gw.gateway.admin.url}/revocations`, { method: 'POST', headers: { authorization: `Bearer ${gw.gateway.admin.token}` }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
}

describe('tokens on the PostgreSQL and SSH listeners', () => {
  const cases: Array<[string, string, () => Promise<{ identity: string; token: string }>]> = [
    ['forged (signed by another key)', 'TOKEN_UNKNOWN_KEY', async () => ({ identity: 'agent', token: issueToken(generateSigner(), systemClock, { identity: 'agent', ttlSeconds: 600 }).token })],
    ['tampered claims (identity swapped, signature kept)', 'TOKEN_BAD_SIGNATURE', async () => {
      const [prefix, body, sig] = issue('outsider').token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
      return { identity: 'agent', token: `${prefix}.${Buffer.from(JSON.stringify({ ...claims, sub: 'agent' })).toString('base64url')}.${sig}` };
    }],
    ['expired', 'TOKEN_EXPIRED', async () => ({ identity: 'agent', token: issue('agent', fixedClock(Date.now() * 1000 - 7200e6), 60).token })],
    ['revoked (by token id)', 'TOKEN_REVOKED', async () => {
      const { token, claims } = issue('agent');
      await revoke({ tokenId: claims.jti });
      return { identity: 'agent', token };
    }],
    ['wrong identity (outsider token presented as agent)', 'TOKEN_WRONG_IDENTITY', async () => ({ identity: 'agent', token: issue('outsider').token })],
  ];
  for (const [name, code, make] of cases) {
    it(`refuses and records a ${name} token`, async () => {
      let passed = 0;
      for (const [protocol, attempt] of [['postgres', viaPg], ['ssh', viaSsh]] as const) {
        const { identity, token } = await make();
        const before = (await audit()).length;
        const answer = await attempt(identity, token);
        const recorded = await eventually(async () => (await audit()).slice(before).find((r) => r.data.reason === code && r.data.protocol === protocol) ?? false, 3000).catch(() => false);
        if (answer !== 'served' && recorded) passed++;
        expect({ protocol, answer, recorded: Boolean(recorded) }).toMatchObject({ answer: expect.not.stringMatching(/^served$/), recorded: true });
      }
      counts.add({ check: `${name} token refused and recorded (PostgreSQL, SSH)`, tried: 2, passed });
    });
  }

  it('refuses and records a token replayed after its identity was revoked, and cut the live sessions', async () => {
    const { token } = issue('replayer');
    expect(await viaPg('replayer', token)).toBe('served');
    expect(await viaSsh('replayer', token)).toBe('served');
    const live = new pg.Client({ ...gw.conn('replayer'), password: token });
    const cutBy = new Promise<string>((resolve) => live.on('error', (e: Error) => resolve(e.message)));
    await live.connect();
    await revoke({ identity: 'replayer' });
    // The gateway sends the FATAL on its own; node-postgres reports it as an error event.
    const cut = await Promise.race([cutBy, live.query('SELECT 1').then(() => 'still served', () => cutBy)]);
    let passed = 0;
    for (const [protocol, attempt] of [['postgres', viaPg], ['ssh', viaSsh]] as const) {
      const before = (await audit()).length;
      const answer = await attempt('replayer', token);
      const recorded = await eventually(async () => (await audit()).slice(before).find((r) => r.data.reason === 'TOKEN_REVOKED' && r.data.protocol === protocol) ?? false, 3000).catch(() => false);
      if (answer !== 'served' && recorded) passed++;
    }
    const revokedEvent = (await readEvents(gw.gateway.auditPath)).some((e) => e.type === EventType.Revoked && e.data.identity === 'replayer');
    counts.add({ check: 'replayed after revocation: refused and recorded (PostgreSQL, SSH)', tried: 2, passed });
    counts.add({ check: 'revocation cut the live session and was recorded', tried: 1, passed: Number(cut !== 'still served' && revokedEvent), note: cut.slice(0, 100) });
    expect({ passed, cut, revokedEvent }).toMatchObject({ passed: 2, cut: expect.stringMatching(/revoked/), revokedEvent: true });
  });
});

describe('admin and approvals APIs', () => {
  const call = (path: string, method: string, authorization?: string) =>
    fetch(`${gw.gateway.admin.url}${path}`, { method, headers: authorization ? { authorization } : {}, ...(method === 'POST' ? { body: '{"identity":"agent"}' } : {}) });
  const adminAttempts: Array<[string, string, string | undefined]> = [];
  for (const [path, method] of [['/metrics', 'GET'], ['/sessions', 'GET'], ['/revocations', 'POST']] as const) {
    adminAttempts.push([path, method, undefined], [path, method, 'Bearer wrong'], [path, method, 'identity-token']);
  }

  it('refuses the admin API without the admin token, and records each refusal', async () => {
    let refused = 0;
    const notRecorded: string[] = [];
    for (const [path, method, auth] of adminAttempts) {
      const before = (await readEvents(gw.gateway.auditPath)).length;
      const res = await call(path, method, auth === 'identity-token' ? `Bearer ${gw.token('alice')}` : auth);
      if (res.status === 401) refused++;
      if (!(await auditGrewWithRefusal(before))) notRecorded.push(`${method} ${path} ${auth ?? 'no token'}`);
    }
    counts.add({ check: 'admin API without / with a wrong / with an identity bearer: 401', tried: adminAttempts.length, passed: refused });
    counts.add({ check: 'admin API refusals recorded in the audit recording', tried: adminAttempts.length, passed: adminAttempts.length - notRecorded.length,
      ...(notRecorded.length ? { note: `not recorded: ${notRecorded.length} (gateway/admin/server.ts writes no audit event for a 401)` } : {}) });
    expect(refused).toBe(adminAttempts.length);
    // Nothing was revoked by the refused POSTs: agent still gets in.
    expect(await viaPg('agent', gw.token('agent'))).toBe('served');
    expect(notRecorded).toEqual([]);
  });

  it('refuses approvals without credentials, by a non-approver and by the requester', async () => {
    const requester = new pg.Client({ ...gw.conn('agent'), application_name: 'held' });
    requester.on('error', () => undefined);
    await requester.connect();
    await requester.query('CREATE TABLE IF NOT EXISTS held (x int)');
    const held = requester.query('DELETE FROM held').then(() => 'done', (e: Error) => e.message);
    const aliceAuth = `Bearer ${gw.token('alice')}`;
    const id = await eventually(async () => ((await (await call('/approvals', 'GET', aliceAuth)).json()) as Array<{ id: string }>)[0]?.id);
    const attempts: Array<[string, string | undefined, number]> = [
      ['list without a token', undefined, 403], ['approve without a token', undefined, 403],
      ['approve with a wrong token', 'Bearer hs1.x.y', 403], ['approve by a non-approver', `Bearer ${gw.token('outsider')}`, 403],
      ['approve by the requester', `Bearer ${gw.token('agent')}`, 403],
    ];
    let refused = 0;
    let recorded = 0;
    const notRecorded: string[] = [];
    for (const [what, auth, status] of attempts) {
      const before = (await readEvents(gw.gateway.auditPath)).length;
      const res = await call(what.startsWith('list') ? '/approvals' : `/approvals/${id}/approve`, what.startsWith('list') ? 'GET' : 'POST', auth);
      if (res.status === status) refused++;
      if (await auditGrewWithRefusal(before)) recorded++;
      else notRecorded.push(what);
    }
    expect((await call(`/approvals/${id}/deny`, 'POST', aliceAuth)).status).toBe(200);
    expect(await held).toMatch(/denied/);
    await requester.end();
    counts.add({ check: 'approvals API: refused without credentials, by a non-approver, by the requester', tried: attempts.length, passed: refused });
    counts.add({ check: 'approvals API refusals recorded in the audit recording', tried: attempts.length, passed: recorded,
      ...(notRecorded.length ? { note: `not recorded: ${notRecorded.join('; ')}` } : {}) });
    expect(refused).toBe(attempts.length);
    expect(notRecorded).toEqual([]);
  });

  /** Whether a `refused` event was appended to the audit recording after its first `before` events. */
  async function auditGrewWithRefusal(before: number): Promise<boolean> {
    return eventually(async () => ((await readEvents(gw.gateway.auditPath)).slice(before).some((e) => e.type === EventType.Refused) || undefined), 1000)
      .then(() => true, () => false);
  }
});
