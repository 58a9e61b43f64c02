import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../common/clock.js';
import { loadOrCreateSigner, loadTrustedKeys } from '../../common/keys.js';
import { verifyToken } from '../../common/tokens/index.js';
import { CaseBackend } from './backend.js';
import { LocalGateway } from './local-gateway.js';

// The local gateway's lifecycle against a stand-in launcher that speaks like `hopscope gateway` (its ready
// banner, its config error, SIGTERM → exit 0); the real gateway is driven in test/workbench-gateway.test.ts.
let dir: string;
const FAKE = `
const [, , command, flag, config] = process.argv;
const text = require('node:fs').readFileSync(config, 'utf8');
if (command !== 'gateway' || flag !== '--config') process.exit(9);
if (text.includes('colour')) {
  process.stderr.write('hopscope: ' + config + ': invalid configuration\\n  (top): Unrecognized key: "colour"\\n');
  process.exit(1);
}
process.stderr.write('hopscope gateway running\\n  postgres  127.0.0.1:15999\\n  admin     http://127.0.0.1:18999  (bearer token in keys.dir/admin.token)\\n');
process.on('SIGTERM', () => { process.stderr.write('hopscope: SIGTERM received, ending sessions and sealing recordings\\n'); process.exit(0); });
setInterval(() => {}, 1000);
`;

const gateway = () => new LocalGateway({ stateDir: join(dir, 'state'), launcher: join(dir, 'fake.cjs'), startWaitMs: 10_000, stopWaitMs: 10_000 });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hopscope-localgw-'));
  writeFileSync(join(dir, 'fake.cjs'), FAKE);
  writeFileSync(join(dir, 'bad.yml'), 'colour: blue\n');
  writeFileSync(join(dir, 'gw.yml'), ['recording: { dir: ./rec }', 'keys: { dir: ./keys }', 'listeners: { postgres: 127.0.0.1:15999, ssh: 127.0.0.1:12999 }',
    'identities:', '  - { name: agent, kind: machine }', '  - { name: alice, kind: human, approver: true }'].join('\n'));
  mkdirSync(join(dir, 'keys'));
  writeFileSync(join(dir, 'keys', 'admin.token'), 'the-admin-token\n');
  loadOrCreateSigner(join(dir, 'keys'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('LocalGateway', () => {
  it('reports a config the gateway refused, in its words, with its exit status', async () => {
    const g = gateway();
    expect(g.status()).toMatchObject({ state: 'none', id: null });
    await expect(g.start(join(dir, 'missing.yml'))).rejects.toMatchObject({ code: 'LOCAL_GATEWAY_CONFIG' });
    const s = await g.start(join(dir, 'bad.yml'));
    expect(s).toMatchObject({ state: 'failed', exitCode: 1, message: `${join(dir, 'bad.yml')}: invalid configuration\n  (top): Unrecognized key: "colour"` });
    expect(s.logTail.join('\n')).toContain('Unrecognized key');
    expect(existsSync(join(dir, 'state', 'local-gateway.json'))).toBe(false);
  });

  it('runs it detached, resolves the config\'s paths, holds its tokens, and stops it with SIGTERM', async () => {
    const g = gateway();
    const s = await g.start(join(dir, 'gw.yml'));
    expect(s).toMatchObject({ state: 'running', adminUrl: 'http://127.0.0.1:18999', recordingsDir: join(dir, 'rec'), approvers: ['alice'],
      listeners: { postgres: '127.0.0.1:15999', ssh: '127.0.0.1:12999' }, adopted: false });
    const id = s.id!;
    expect(g.remote({ local: id }, 'admin')).toEqual({ url: 'http://127.0.0.1:18999', token: 'the-admin-token' });
    expect(() => g.remote({ local: 'ffff' }, 'admin')).toThrow(expect.objectContaining({ code: 'LOCAL_GATEWAY_GONE' }));
    expect(() => g.remote({ local: id }, 'approve')).toThrow(expect.objectContaining({ code: 'APPROVER_REQUIRED' }));
    expect(() => g.remote({ local: id, approver: 'agent' }, 'approve')).toThrow(expect.objectContaining({ code: 'APPROVER_UNKNOWN' }));
    const { token } = g.remote({ local: id, approver: 'alice' }, 'approve');
    expect(verifyToken(token, loadTrustedKeys([join(dir, 'keys')]), systemClock, 'alice')).toMatchObject({ sub: 'alice', kind: 'identity' });
    expect(g.remote({ local: id, approver: 'alice' }, 'approve').token).toBe(token);
    expect(await g.start(join(dir, 'gw.yml'))).toMatchObject({ state: 'running', id });
    await expect(g.start(join(dir, 'bad.yml'))).rejects.toMatchObject({ code: 'LOCAL_GATEWAY_RUNNING' });

    const next = gateway(); // a workbench started after this one died
    expect(next.status()).toMatchObject({ state: 'running', adopted: true, pid: s.pid, adminUrl: 'http://127.0.0.1:18999' });

    expect(await g.stop()).toMatchObject({ state: 'stopped', exitCode: 0, message: null });
    expect(() => g.remote({ local: id }, 'admin')).toThrow(expect.objectContaining({ code: 'LOCAL_GATEWAY_GONE' }));
    expect(next.status()).toMatchObject({ state: 'stopped' });
    expect(existsSync(join(dir, 'state', 'local-gateway.json'))).toBe(false);
  });

  it('says the recordings are not sealed when the gateway is killed', async () => {
    const g = gateway();
    const s = await g.start(join(dir, 'gw.yml'));
    process.kill(s.pid!, 'SIGKILL');
    await expect.poll(() => g.status().state).toBe('failed');
    expect(g.status()).toMatchObject({ signal: 'SIGKILL', message: expect.stringContaining('not sealed') });
  });

  it('refuses a config the page could have written (the upload folder)', async () => {
    const work = join(dir, 'work');
    const backend = new CaseBackend({ trusted: new Map(), workDir: work, stateDir: join(dir, 'state'), deliver: async () => ({}) });
    writeFileSync(join(work, 'gw.yml'), 'recording: { dir: ./rec }\n');
    await expect(backend.localGatewayStart(join(work, 'gw.yml'))).rejects.toMatchObject({ code: 'LOCAL_GATEWAY_CONFIG' });
    await expect(backend.localGatewayStart(`${dir}/other/../work/gw.yml`)).rejects.toMatchObject({ code: 'LOCAL_GATEWAY_CONFIG' });
    backend.close();
  });
});
