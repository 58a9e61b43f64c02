// Authentication through the gateway, tried as an agent that lost its access would:
// after `token revoke --identity X`, every way X logs in — password, keyboard-
// interactive, registered key, hop token, PostgreSQL — is refused until an explicit
// unrevoke, including tokens issued after the revocation (the key login's stand-in
// token is one). Each case checks what the client was told, that the target ran
// nothing (a marker file), and that the gateway's audit recording says why.
// Also: a gateway with an unreadable stored host key does not start. Password
// automation (sshpass, Ansible) is in ssh-automation.test.ts; generated host keys
// are read back in gateway/ssh/hostkey.test.ts.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClientChannel } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType } from '../../common/recording/index.js';
import { startGateway } from '../../gateway/index.js';
import { silentLogger } from '../../gateway/log.js';
import { eventually } from '../helpers/gateway.js';
import { ssh2Client, ssh2Exec } from '../helpers/sshd.js';
import {
  adminCall, auditEvent, auditSeq, cli, marker, nextSecond, openSsh, psql, revokedRefusal, sessionsOf, startFixture, tableAbsent, type Fixture,
} from './ssh-auth-support.js';

const IDS = ['rv-password', 'rv-kbd', 'rv-key', 'rv-hop', 'rv-pg', 'rv-live', 'rv-tokenid', 'rv-unrevoke'];
let f: Fixture;

beforeAll(async () => {
  f = await startFixture(IDS);
});
afterAll(async () => {
  await f?.stop();
});

const sshPort = () => f.gw.gateway.ssh!.port;
async function revokeIdentity(identity: string): Promise<{ at: number; cut: string[] }> {
  const at = Date.now();
  const res = await adminCall(f, 'POST', '/revocations', { identity });
  expect(res.status).toBe(200);
  return { at, cut: (res.body as { sessionsCut: string[] }).sessionsCut };
}
/** What every revoked-login refusal must say: what was revoked, by whom, when. */
function expectRevocationRecorded(data: Record<string, unknown>, identity: string, auth?: string): void {
  expect(data.revocation).toMatchObject({ identity, by: 'admin', at: expect.any(Number) });
  expect(String(data.message)).toMatch(new RegExp(`identity ${identity} was revoked by admin at \\d{4}-\\d\\d-\\d\\dT`));
  if (auth) expect(data.auth).toBe(auth);
}

describe('revoking an identity refuses every way it logs in, until unrevoked', () => {
  it('password: old and newly issued tokens are refused; nothing runs', async () => {
    const before = marker(f, 'password-before');
    expect((await openSsh(f, 'rv-password', before.touch, { password: f.gw.token('rv-password') })).code).toBe(0);
    expect(before.exists()).toBe(true);
    const old = f.gw.token('rv-password');
    const { at } = await revokeIdentity('rv-password');
    await nextSecond(at);
    const seq = await auditSeq(f);
    const after = marker(f, 'password-after');
    for (const token of [old, f.gw.token('rv-password')]) {
      const res = await openSsh(f, 'rv-password', after.touch, { password: token });
      expect(res.code).not.toBe(0);
      expect(res.stderr).toMatch(/hopscope: the token is revoked: identity rv-password was revoked by admin/);
    }
    expect(after.exists()).toBe(false);
    expectRevocationRecorded((await revokedRefusal(f, 'rv-password', seq)).data, 'rv-password', 'password');
  });

  it('keyboard-interactive: a token issued after the revocation is refused; nothing runs', async () => {
    const { at } = await revokeIdentity('rv-kbd');
    await nextSecond(at);
    const seq = await auditSeq(f);
    const after = marker(f, 'kbd-after');
    const res = await openSsh(f, 'rv-kbd', after.touch, { keyboard: f.gw.token('rv-kbd') });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/the token is revoked: identity rv-kbd was revoked/);
    expect(after.exists()).toBe(false);
    expectRevocationRecorded((await revokedRefusal(f, 'rv-kbd', seq)).data, 'rv-kbd', 'keyboard-interactive');
  });

  it('registered key: refused a second and more after the revocation (its stand-in token is newer); nothing runs', async () => {
    const before = marker(f, 'key-before');
    expect((await openSsh(f, 'rv-key', before.touch, { key: f.keyPath })).code).toBe(0);
    expect(before.exists()).toBe(true);
    const { at } = await revokeIdentity('rv-key');
    await nextSecond(at);
    const seq = await auditSeq(f);
    const after = marker(f, 'key-after');
    const res = await openSsh(f, 'rv-key', after.touch, { key: f.keyPath });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/the token is revoked: identity rv-key was revoked/);
    expect(after.exists()).toBe(false);
    const refusal = (await revokedRefusal(f, 'rv-key', seq)).data;
    expectRevocationRecorded(refusal, 'rv-key', 'publickey');
    expect(refusal.keyFingerprint).toMatch(/^SHA256:/);
  });

  it('hop token: the session is cut, and its hop token is refused for SSH and PostgreSQL as revoked', async () => {
    const client = await ssh2Client(sshPort(), 'rv-hop:host', { password: f.gw.token('rv-hop') });
    const hop = (await ssh2Exec(client, 'echo $HOPSCOPE_TOKEN')).stdout.trim();
    expect(hop).toMatch(/^hs1\./);
    const { at, cut } = await revokeIdentity('rv-hop');
    expect(cut).toHaveLength(1);
    client.end();
    await nextSecond(at);
    const seq = await auditSeq(f);
    const after = marker(f, 'hop-after');
    const res = await openSsh(f, 'rv-hop', after.touch, { password: hop });
    expect(res.stderr).toMatch(/the token is revoked: identity rv-hop was revoked/);
    const pgRes = await psql(f, 'rv-hop', hop, 'CREATE TABLE rv_hop_marker ()');
    expect(pgRes.stderr).toMatch(/the token is revoked: identity rv-hop was revoked/);
    expect(after.exists()).toBe(false);
    expect(await tableAbsent(f, 'rv_hop_marker')).toBe(true);
    const refusal = (await revokedRefusal(f, 'rv-hop', seq)).data;
    expectRevocationRecorded(refusal, 'rv-hop');
    expect(refusal.tokenKind).toBe('hop');
    expectRevocationRecorded((await revokedRefusal(f, 'rv-hop', seq, 'postgres')).data, 'rv-hop');
  });

  it('PostgreSQL: the same identity with a newly issued token is refused; no statement runs', async () => {
    expect((await psql(f, 'rv-pg', f.gw.token('rv-pg'), 'SELECT 1')).code).toBe(0);
    const { at } = await revokeIdentity('rv-pg');
    await nextSecond(at);
    const seq = await auditSeq(f);
    const res = await psql(f, 'rv-pg', f.gw.token('rv-pg'), 'CREATE TABLE rv_pg_marker ()');
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/the token is revoked: identity rv-pg was revoked by admin/);
    expect(await tableAbsent(f, 'rv_pg_marker')).toBe(true);
    expectRevocationRecorded((await revokedRefusal(f, 'rv-pg', seq, 'postgres')).data, 'rv-pg');
  });

  it('a live session is cut at once: what is typed after the revocation never runs', async () => {
    const client = await ssh2Client(sshPort(), 'rv-live:host', { password: f.gw.token('rv-live') });
    // A shell driven over stdin, as an agent drives one (no pty: the pty path has its own suite).
    const shell = await new Promise<ClientChannel>((resolve, reject) => client.exec('sh', (err, s) => (err ? reject(err) : resolve(s))));
    let output = '';
    shell.on('data', (d: Buffer) => (output += d.toString()));
    shell.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const closed = new Promise<void>((resolve) => shell.once('close', () => resolve()));
    const before = marker(f, 'live-before');
    shell.write(`${before.touch}; echo done-$((6*7))\n`);
    await eventually(() => (output.includes('done-42') ? true : undefined), 15_000);
    expect(before.exists()).toBe(true);
    const { cut } = await revokeIdentity('rv-live');
    expect(cut).toHaveLength(1);
    await closed;
    const after = marker(f, 'live-after');
    try {
      shell.write(`${after.touch}\n`);
    } catch { /* the channel is gone: as it should be */ }
    client.end();
    expect(output).toMatch(/the session was revoked \(identity rv-live\)/);
    expect(after.exists()).toBe(false);
    const [session] = await sessionsOf(f, 'rv-live');
    expect(session!.find((e) => e.type === EventType.SessionEnd)?.data).toMatchObject({ cause: 'revoked' });
    expect(JSON.stringify(session)).not.toContain('marker-live-after');
  });

  it('revoking a token id refuses that token and its hop tokens, not the identity\'s other tokens', async () => {
    const token = f.gw.token('rv-tokenid');
    const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
    const client = await ssh2Client(sshPort(), 'rv-tokenid:host', { password: token });
    const hop = (await ssh2Exec(client, 'echo $HOPSCOPE_TOKEN')).stdout.trim();
    const res = await adminCall(f, 'POST', '/revocations', { tokenId: jti });
    expect((res.body as { sessionsCut: string[] }).sessionsCut).toHaveLength(1);
    client.end();
    const seq = await auditSeq(f);
    const after = marker(f, 'tokenid-after');
    const refused = await openSsh(f, 'rv-tokenid', after.touch, { keyboard: token });
    expect(refused.stderr).toMatch(new RegExp(`the token is revoked: token ${jti} was revoked by admin`));
    expect((await psql(f, 'rv-tokenid', hop, 'SELECT 1')).stderr).toMatch(new RegExp(`token ${jti} was revoked`));
    expect(after.exists()).toBe(false);
    const refusal = await auditEvent(f, (e) => e.seq > seq && e.type === EventType.Refused && e.data.identity === 'rv-tokenid');
    expect(refusal.data.revocation).toMatchObject({ tokenId: jti, by: 'admin' });
    // Another token of the same identity still works.
    const other = marker(f, 'tokenid-other');
    expect((await openSsh(f, 'rv-tokenid', other.touch, { password: f.gw.token('rv-tokenid') })).code).toBe(0);
    expect(other.exists()).toBe(true);
  });

  it('unrevoke (CLI) lifts it from the running gateway and keys.dir, recorded with the actor; then the key logs in again', async () => {
    expect((await cli('token', 'revoke', '--config', f.gw.configPath, '--identity', 'rv-unrevoke')).stdout).toMatch(/revoked identity rv-unrevoke/);
    const listed = await cli('token', 'revocations', '--config', f.gw.configPath);
    expect(listed.stdout).toMatch(/identity rv-unrevoke {2}revoked \d{4}-\S+ by admin/);
    const api = await adminCall(f, 'GET', '/revocations');
    expect(api.body).toEqual(expect.arrayContaining([expect.objectContaining({ identity: 'rv-unrevoke', by: 'admin', revokedAt: expect.any(String) })]));
    const blocked = marker(f, 'unrevoke-blocked');
    expect((await openSsh(f, 'rv-unrevoke', blocked.touch, { key: f.keyPath })).stderr).toMatch(/identity rv-unrevoke was revoked/);
    expect(blocked.exists()).toBe(false);

    const seq = await auditSeq(f);
    const lifted = await cli('token', 'unrevoke', '--config', f.gw.configPath, '--identity', 'rv-unrevoke');
    expect(lifted.stdout).toBe('unrevoked identity rv-unrevoke\n');
    const persisted = JSON.parse(await readFile(join(f.gw.keysDir, 'revocations.json'), 'utf8')) as { identity?: string }[];
    expect(persisted.some((r) => r.identity === 'rv-unrevoke')).toBe(false);
    expect(persisted.some((r) => r.identity === 'rv-key')).toBe(true); // the others stay revoked
    const recorded = await auditEvent(f, (e) => e.seq > seq && e.type === 'unrevoked');
    expect(recorded.data).toMatchObject({ identity: 'rv-unrevoke', by: 'admin', client: expect.stringMatching(/^127\.0\.0\.1:/) });
    const back = marker(f, 'unrevoke-back');
    expect((await openSsh(f, 'rv-unrevoke', back.touch, { key: f.keyPath })).code).toBe(0);
    expect(back.exists()).toBe(true);
    // Twice is an error, not a silent success; and the admin API wants the admin token.
    const again = await cli('token', 'unrevoke', '--config', f.gw.configPath, '--identity', 'rv-unrevoke');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/identity rv-unrevoke is not revoked/);
    expect((await adminCall(f, 'DELETE', '/revocations/identity/rv-key', undefined, 'not-the-admin-token')).status).toBe(401);
    expect((await adminCall(f, 'GET', '/revocations', undefined, 'not-the-admin-token')).status).toBe(401);
    expect((await adminCall(f, 'GET', '/revocations')).body).toEqual(expect.arrayContaining([expect.objectContaining({ identity: 'rv-key' })]));
  });
});

describe('host key', () => {
  it('a gateway whose stored host key cannot be read does not start, names the file, and leaves it in place', async () => {
    const keysDir = join(f.work, 'broken-keys');
    await mkdir(keysDir, { recursive: true });
    const path = join(keysDir, 'ssh_host_ed25519_key');
    // As ssh2's keygen wrote it for a public key starting with 0x00: 31 bytes of public key.
    const broken = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMgAAAAtz\n'
      + 'c2gtZWQyNTUxOQAAAB/8wuIozYYsCDjKnYF70mh5LeVx+2hb0hEAayHoucm+AAAA\noBGE0F8RhNBfAAAAC3NzaC1lZDI1NTE5AAAAH/zC4ijNhiwIOMqdgXvSaHkt5XH7\n'
      + 'aFvSEQBrIei5yb4AAAA/fsfzz5EIUkkTsAIVSisy0/fo8xSWWFyR2Rn6eDVlLt78\nwuIozYYsCDjKnYF70mh5LeVx+2hb0hEAayHoucm+AAAAGWhvcHNjb3BlIGdhdGV3\n'
      + 'YXkgaG9zdCBrZXkBAgMEBQY=\n-----END OPENSSH PRIVATE KEY-----\n';
    await writeFile(path, broken, { mode: 0o600 });
    const config = { ...f.gw.config, keys: { ...f.gw.config.keys, dir: keysDir }, admin: { listen: '127.0.0.1:0' }, listeners: { ssh: '127.0.0.1:0' } };
    await expect(startGateway(config, { logger: silentLogger })).rejects.toThrow(`the SSH host key ${path} cannot be used: it does not parse`);
    expect(await readFile(path, 'utf8')).toBe(broken);
  });
});
