import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType } from '../common/recording/index.js';
import { issueToken } from '../common/tokens/index.js';
import { systemClock } from '../common/clock.js';
import { generateSigner } from '../common/keys.js';
import { eventually, readEvents, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { freePort } from './helpers/ports.js';
import { run } from './helpers/processes.js';
import { ssh2Client, ssh2Exec, sshClientOf, sshTargetOf, startSshd, type SshdServer } from './helpers/sshd.js';

let sshd: SshdServer;
let gw: TestGateway;

beforeAll(async () => {
  sshd = await startSshd();
  const wrongPin = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOr6k2sWZx0d3W0GiVNTYx8D1cmK2h1hFzeZmSCO+7Yb';
  gw = await startTestGateway(undefined, {
    targets: [
      sshTargetOf(sshd, 'host'),
      sshTargetOf(sshd, 'pinned', { hostKey: sshd.hostPublicKey }),
      sshTargetOf(sshd, 'changed', { hostKey: wrongPin }),
      { ...sshTargetOf(sshd, 'down'), port: await freePort() },
    ],
    identities: [{ name: 'agent', kind: 'machine', targets: ['host', 'pinned', 'changed', 'down'] }, { name: 'outsider', kind: 'human', targets: [] }],
  }, { ssh: sshd });
});
afterAll(async () => {
  await gw?.stop();
  await sshd?.stop();
});

async function ssh(user: string, token: string, command = 'echo ok') {
  const { options, env } = await sshClientOf(gw.dir, token, { logLevel: 'INFO' });
  return run('ssh', [...options, '-p', String(gw.gateway.ssh!.port), `${user}@127.0.0.1`, command], { env });
}

async function auditRefusals() {
  return (await readEvents(gw.gateway.auditPath)).filter((e) => e.type === EventType.Refused).map((e) => e.data);
}

describe('SSH refusals', () => {
  it.each([
    ['agent:nowhere', 'unknown SSH target nowhere', 'TARGET_UNKNOWN'],
    ['ghost:host', 'unknown identity ghost', 'IDENTITY_UNKNOWN'],
    ['outsider:host', 'identity outsider may not reach target host', 'TARGET_NOT_ALLOWED'],
    ['agent', "log in as '<identity>:<target>'", 'PROTOCOL_VIOLATION'],
  ])('refuses %s with a clear message and a recorded refusal', async (user, message, code) => {
    const res = await ssh(user, gw.token(user.split(':')[0]!));
    expect(res.code).toBe(255);
    expect(res.stderr).toContain(`hopscope: ${message}`);
    expect(res.stdout).toBe('');
    await eventually(async () => ((await auditRefusals()).some((r) => r.reason === code) ? true : undefined));
  });

  it('refuses a bad, expired or foreign token', async () => {
    expect((await ssh('agent:host', 'hs1.garbage.x')).stderr).toContain('hopscope: the token is malformed');
    const foreign = issueToken(generateSigner(), systemClock, { identity: 'agent', ttlSeconds: 60 }).token;
    expect((await ssh('agent:host', foreign)).stderr).toContain('hopscope: the token was signed by an unknown key');
    expect((await ssh('agent:host', gw.token('outsider'))).stderr).toContain('hopscope: the token was not issued to agent');
    const reasons = (await auditRefusals()).map((r) => r.reason);
    expect(reasons).toEqual(expect.arrayContaining(['TOKEN_MALFORMED', 'TOKEN_UNKNOWN_KEY', 'TOKEN_WRONG_IDENTITY']));
  });

  it('explains a target that is down, records it in the session and the audit log', async () => {
    const res = await ssh('agent:down', gw.token());
    expect(res.code).toBe(255);
    expect(res.stderr).toMatch(/hopscope: the target is unavailable \(ECONNREFUSED\) \(target down\)/);
    const refusal = await eventually(async () => (await auditRefusals()).find((r) => r.target === 'down'));
    expect(refusal).toMatchObject({ reason: 'UPSTREAM_UNAVAILABLE', identity: 'agent' });
    const recorded = await eventually(async () => {
      for (const f of await gw.sessionFiles()) {
        const ev = await readEvents(f);
        if (ev[0]?.data.target === 'down' && ev.at(-1)?.type === EventType.Seal) return ev;
      }
      return undefined;
    });
    expect(recorded.find((e) => e.type === EventType.SshUpstream)!.data).toMatchObject({ ok: false, code: 'UPSTREAM_UNAVAILABLE' });
  });

  it('refuses a target whose host key changed, and serves one whose pin matches', async () => {
    const res = await ssh('agent:changed', gw.token());
    expect(res.stderr).toContain("hopscope: the target's host key does not match the pinned key");
    await eventually(async () => ((await auditRefusals()).some((r) => r.reason === 'UPSTREAM_HOST_KEY_MISMATCH') ? true : undefined));
    expect((await ssh('agent:pinned', gw.token())).stdout).toBe('ok\n');
  });

  it('survives clients that leave mid-handshake or speak garbage, and keeps serving', async () => {
    for (let i = 0; i < 5; i++) {
      const socket = connect({ host: '127.0.0.1', port: gw.gateway.ssh!.port });
      await new Promise((r) => socket.once('connect', r));
      socket.write(i % 2 ? 'SSH-2.0-broken\r\n\x00\x00\x00\x05garbage' : 'not ssh at all\r\n');
      socket.destroy();
    }
    const client = await ssh2Client(gw.gateway.ssh!.port, 'agent:host', { password: gw.token() });
    client.end(); // authenticated, then gone before any channel: the session is still recorded and sealed
    expect((await ssh('agent:host', gw.token())).stdout).toBe('ok\n');
    const c2 = await ssh2Client(gw.gateway.ssh!.port, 'agent:host', { password: gw.token() });
    expect((await ssh2Exec(c2, 'echo still')).stdout).toBe('still\n');
    c2.end();
  });
});
