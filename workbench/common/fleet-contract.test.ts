import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CaseBackend } from '../node/backend.js';
import { CHANNELS, dispatch } from './contract.js';

// gatewayFleet through the channel table and the real backend, against a small HTTP server that answers GET /fleet
// as a fleet member (token `member`), a lone gateway (404, token `lone`), something that is not a fleet status
// (token `odd`) or refuses the token (401).
let dir: string;
let server: Server;
let url: string;
let backend: CaseBackend;
const requests: string[] = [];
const STATUS = {
  self: 'gw-a', state: 'up',
  gateways: [{ name: 'gw-a', keyId: '0123456789abcdef', adminUrl: 'http://127.0.0.1:1', host: 'h', pid: 1, startedAt: 'x', heartbeatAt: 'y', state: 'live', healthy: true, sessions: 0 }],
  sessions: [{ id: 's1', identity: 'agent', target: 'db', protocol: 'postgres', gateway: 'gw-b' }],
  approvals: [],
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hopscope-fleet-contract-'));
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url} ${req.headers.authorization}`);
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (token === 'member') return send(200, STATUS);
    if (token === 'lone') return send(404, { error: 'this gateway is not a member of a fleet' });
    if (token === 'odd') return send(200, { hello: 'world' });
    send(401, { error: 'a valid bearer token is required' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  backend = new CaseBackend({ trusted: new Map(), workDir: join(dir, 'work'), stateDir: join(dir, 'state'), deliver: async () => ({}) });
});

afterAll(async () => {
  backend?.close();
  await new Promise((r) => server?.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const call = (...args: unknown[]) => dispatch(backend, 'gatewayFleet', args, () => undefined);

describe('gatewayFleet', () => {
  it('is a channel whose check takes exactly one gateway target', () => {
    expect(CHANNELS.gatewayFleet([{ url: 'http://h:1', token: 't' }])).toEqual([{ url: 'http://h:1', token: 't' }]);
    expect(CHANNELS.gatewayFleet([{ local: 'ab12' }])).toEqual([{ local: 'ab12' }]);
  });

  it('refuses bad arguments before anything reaches a gateway', async () => {
    const before = requests.length;
    for (const args of [
      [], [{ url, token: 'member' }, 'extra'], [null], ['http://127.0.0.1:1'], [{ url: 'file:///etc/passwd', token: 'member' }],
      [{ url: `${url}`, token: 42 }], [{ url }], [{ local: 'not-hex!' }], [{ local: 'ab12', url, token: 'member' }],
      [{ local: 'ab12', approver: 'bad name' }], [{ url: 'x'.repeat(5000), token: 'member' }],
    ]) {
      expect(await call(...args), JSON.stringify(args).slice(0, 80)).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    }
    expect(requests.length).toBe(before);
  });

  it('answers the fleet status of a member, with the admin token sent as a bearer token', async () => {
    expect(await call({ url, token: 'member' })).toEqual({ ok: true, value: STATUS });
    expect(requests.at(-1)).toBe('GET /fleet Bearer member');
  });

  it('answers null for a lone gateway (404), and an error for a refused token or an answer that is no fleet status', async () => {
    expect(await call({ url, token: 'lone' })).toEqual({ ok: true, value: null });
    expect(await call({ url, token: 'wrong' })).toMatchObject({ ok: false, error: { code: 'GATEWAY_REFUSED', message: expect.stringContaining('401') } });
    expect(await call({ url, token: 'odd' })).toMatchObject({ ok: false, error: { code: 'GATEWAY_ERROR', message: expect.stringContaining('not a fleet status') } });
    expect(await call({ url: 'http://127.0.0.1:1', token: 'member' })).toMatchObject({ ok: false, error: { code: 'GATEWAY_UNREACHABLE' } });
  });

  it('refuses a local gateway target when no local gateway runs under that id', async () => {
    const before = requests.length;
    expect(await call({ local: 'ab12' })).toMatchObject({ ok: false, error: { code: 'LOCAL_GATEWAY_GONE' } });
    expect(requests.length).toBe(before);
  });
});
