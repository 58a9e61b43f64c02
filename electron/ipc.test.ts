import { describe, expect, it, vi } from 'vitest';
import type { WorkbenchApi } from '../common/api/index.js';
import { DESKTOP_CHANNELS, EVENT_CHANNELS, createBridge } from '../workbench/common/bridge.js';
import { API_METHODS, CHANNELS, MAX_PAGE_ROWS, channelOf, dispatch } from '../workbench/common/contract.js';
import { isAppUrl, registerDesktop, registerIpc, type IpcEventLike } from './ipc.js';

// The preload/IPC contract, without the Electron binary: the bridge, the handlers and their checks use
// small interfaces (Invoker, IpcMainLike) that Electron's ipcRenderer and ipcMain satisfy.

type Listener = (event: IpcEventLike, ...args: unknown[]) => Promise<unknown>;

function fakeIpcMain() {
  const handlers = new Map<string, Listener>();
  return {
    handlers,
    handle: (channel: string, listener: Listener) => {
      if (handlers.has(channel)) throw new Error(`second handler for ${channel}`);
      handlers.set(channel, listener);
    },
    removeHandler: (channel: string) => handlers.delete(channel),
  };
}

function fakeApi(): WorkbenchApi & { calls: unknown[][] } {
  const calls: unknown[][] = [];
  const api = Object.fromEntries(API_METHODS.map((m) => [m, async (...args: unknown[]) => {
    calls.push([m, ...args]);
    if (m === 'hop') throw new Error('secret internal detail /var/lib/x');
    return { method: m };
  }]));
  return Object.assign(api as unknown as WorkbenchApi, { calls });
}

const APP = { senderFrame: { url: 'hopscope://app/index.html' } };

describe('preload bridge', () => {
  it('exposes exactly one function per channel, each bound to its own channel, and nothing of ipcRenderer', async () => {
    const invoke = vi.fn(async (channel: string, ...args: unknown[]) => ({ ok: true, value: [channel, args] }));
    const bridge = createBridge({ invoke });
    expect(Object.keys(bridge).sort()).toEqual([...API_METHODS, ...Object.keys(EVENT_CHANNELS), ...Object.keys(DESKTOP_CHANNELS)].sort());
    expect(Object.isFrozen(bridge)).toBe(true);
    for (const key of ['invoke', 'send', 'on', 'ipcRenderer']) expect(key in bridge).toBe(false);
    await bridge.screenAt('s1', 42);
    expect(invoke).toHaveBeenLastCalledWith('hopscope:screenAt', 's1', 42);
    for (const m of API_METHODS) {
      await (bridge[m] as (...a: unknown[]) => Promise<unknown>)();
      expect(invoke.mock.lastCall?.[0]).toBe(channelOf(m));
    }
  });

  it('hands the page an announced import\'s id only when it is one, and calls the dialog channel with nothing', async () => {
    const listeners = new Map<string, (...a: unknown[]) => void>();
    const invoke = vi.fn(async () => ({ ok: true, value: '/etc/hopscope/gateway.yml' }));
    const bridge = createBridge({ invoke, on: (channel, listener) => (listeners.set(channel, listener), () => undefined) });
    const page = vi.fn();
    bridge.onImportStarted(page);
    const send = listeners.get(EVENT_CHANNELS.onImportStarted)!;
    for (const bad of [[], [42], ['not hex'], ['ab'.repeat(40)], [{ id: 'ab' }]]) send(...bad);
    expect(page).not.toHaveBeenCalled();
    send('0a1b2c', 'extra');
    expect(page).toHaveBeenCalledWith('0a1b2c');
    expect(await bridge.chooseGatewayConfig()).toEqual({ ok: true, value: '/etc/hopscope/gateway.yml' });
    expect(invoke).toHaveBeenCalledWith(DESKTOP_CHANNELS.chooseGatewayConfig);
  });

  it('covers every method of the API with an argument check', () => {
    const methods: Record<keyof WorkbenchApi, true> = {
      caseInfo: true, openCase: true, files: true, importPaths: true, importUpload: true, importStatus: true, sessions: true, graph: true, answers: true, chainTimeline: true, hop: true,
      hopExchanges: true, screenAt: true, terminalEvents: true, exportCase: true, gatewaySessions: true, gatewayApprovals: true, gatewayDecide: true, gatewayRevoke: true,
      gatewayUnrevoke: true,
      localGatewayStart: true, localGatewayStatus: true, localGatewayStop: true, localGatewayImport: true, gatewayFleet: true,
    };
    expect([...API_METHODS].sort()).toEqual(Object.keys(methods).sort());
    expect(new Set(API_METHODS.map(channelOf)).size).toBe(API_METHODS.length);
  });
});

describe('IPC handlers', () => {
  it('register one handler per channel and remove them all', () => {
    const ipc = fakeIpcMain();
    const off = registerIpc(ipc, fakeApi(), () => {});
    expect([...ipc.handlers.keys()].sort()).toEqual(API_METHODS.map(channelOf).sort());
    off();
    expect(ipc.handlers.size).toBe(0);
  });

  it('refuse every sender that is not the app\'s own frame', async () => {
    const ipc = fakeIpcMain();
    const api = fakeApi();
    const log = vi.fn();
    registerIpc(ipc, api, log);
    const call = ipc.handlers.get('hopscope:graph')!;
    for (const url of ['file:///etc/passwd', 'https://evil.example/', 'hopscope://other/index.html', 'hopscope://user:pw@app/', 'not a url', '']) {
      expect(await call({ senderFrame: { url } })).toEqual({ ok: false, error: { code: 'FORBIDDEN', message: expect.any(String) } });
    }
    expect(await call({ senderFrame: null })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await call({})).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(api.calls).toEqual([]);
    expect(await call(APP)).toEqual({ ok: true, value: { method: 'graph' } });
    expect(isAppUrl('hopscope://app/assets/x.js')).toBe(true);
    // The lift of a revocation acts on the gateway: the same check.
    const unrevoke = ipc.handlers.get('hopscope:gatewayUnrevoke')!;
    expect(await unrevoke({ senderFrame: { url: 'https://evil.example/' } }, { local: '0a1b' }, 'identity', 'agent')).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(api.calls).toEqual([['graph']]);
  });

  it('check the arguments before the backend sees them, and never pass the event on', async () => {
    const ipc = fakeIpcMain();
    const api = fakeApi();
    registerIpc(ipc, api, () => {});
    const h = (m: string) => ipc.handlers.get(`hopscope:${m}`)!;
    expect(await h('screenAt')(APP, 's1', '42')).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(await h('screenAt')(APP, 's1')).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(await h('exportCase')(APP, { format: 'pdf' })).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(await h('importUpload')(APP, [{ name: '../../etc/cron.d/x', text: '' }])).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(await h('gatewayDecide')(APP, { url: 'file:///x', token: 't' }, 'a1', 'approve', '')).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(await h('terminalEvents')(APP, 's1', 0, 1e9)).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(api.calls).toEqual([]);
    expect(await h('screenAt')(APP, 's1', 42)).toMatchObject({ ok: true });
    expect(await h('sessions')(APP, { text: 'drop', extra: 'ignored' })).toMatchObject({ ok: true });
    expect(api.calls).toEqual([['screenAt', 's1', 42], ['sessions', { text: 'drop' }]]);
  });

  it('check the local gateway channels: a config path, no arguments, and a local target by id that carries no token', async () => {
    const api = fakeApi();
    const call = (m: keyof WorkbenchApi, ...args: unknown[]) => dispatch(api, m, args, () => {});
    for (const args of [[], [''], ['  '], [42], ['/etc/gw.yml', 'extra'], ['/etc/gw\0.yml'], ['x'.repeat(5000)]]) {
      expect(await call('localGatewayStart', ...args), JSON.stringify(args).slice(0, 80)).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    }
    for (const m of ['localGatewayStatus', 'localGatewayStop', 'localGatewayImport'] as const) {
      expect(await call(m, '/etc/gw.yml')).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    }
    const badTargets = [
      { local: 'not-hex!' }, { local: 7 }, { local: '' }, { local: 'ab', token: 'smuggled' }, { local: 'ab', url: 'http://x' },
      { local: 'ab', approver: 'alice; drop' }, { local: 'ab', approver: 3 }, { url: 'http://x' }, null, 'ab',
    ];
    for (const t of badTargets) {
      expect(await call('gatewaySessions', t), JSON.stringify(t)).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    }
    expect(api.calls).toEqual([]);
    expect(await call('localGatewayStart', '/etc/hopscope/gateway.yml')).toMatchObject({ ok: true });
    expect(await call('localGatewayStop')).toMatchObject({ ok: true });
    expect(await call('gatewayDecide', { local: '0a1b', approver: 'alice', extra: 1 }, 'a1', 'approve', 'ok by me')).toMatchObject({ ok: true });
    expect(await call('gatewayRevoke', { local: '0a1b' }, 'identity', 'agent')).toMatchObject({ ok: true });
    for (const args of [[{ local: '0a1b' }, 'identity'], [{ local: '0a1b' }, 'who', 'agent'], [{ local: '0a1b' }, 'identity', ''], [{ local: '0a1b' }, 'identity', '../x'],
      [{ local: '0a1b' }, 'tokenId', 'a\nb'], [{ local: '0a1b' }, 'identity', 'x'.repeat(201)], [{ local: '0a1b', token: 't' }, 'identity', 'agent'], [{ local: '0a1b' }, 'identity', 'agent', 1]]) {
      expect(await call('gatewayUnrevoke', ...args), JSON.stringify(args).slice(0, 80)).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    }
    expect(await call('gatewayUnrevoke', { local: '0a1b' }, 'tokenId', 'j-1')).toMatchObject({ ok: true });
    expect(await call('gatewaySessions', { url: 'http://127.0.0.1:8099', token: 't', local: undefined })).toMatchObject({ ok: true });
    expect(api.calls).toEqual([
      ['localGatewayStart', '/etc/hopscope/gateway.yml'], ['localGatewayStop'],
      ['gatewayDecide', { local: '0a1b', approver: 'alice' }, 'a1', 'approve', 'ok by me'],
      ['gatewayRevoke', { local: '0a1b' }, 'identity', 'agent'],
      ['gatewayUnrevoke', { local: '0a1b' }, 'tokenId', 'j-1'],
      ['gatewaySessions', { url: 'http://127.0.0.1:8099', token: 't' }],
    ]);
  });

  it('answer the desktop dialogs for the app\'s own frame only, and envelope their failures', async () => {
    const ipc = fakeIpcMain();
    const log = vi.fn();
    const choose = vi.fn().mockResolvedValueOnce('/etc/gw.yml').mockResolvedValueOnce(null).mockRejectedValueOnce(new Error('no window /x'));
    const off = registerDesktop(ipc, { chooseGatewayConfig: choose }, log);
    const call = ipc.handlers.get(DESKTOP_CHANNELS.chooseGatewayConfig)!;
    expect(await call({ senderFrame: { url: 'https://evil.example/' } })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(choose).not.toHaveBeenCalled();
    expect(await call(APP, 'ignored')).toEqual({ ok: true, value: '/etc/gw.yml' });
    expect(choose).toHaveBeenLastCalledWith();
    expect(await call(APP)).toEqual({ ok: true, value: null });
    expect(await call(APP)).toEqual({ ok: false, error: { code: 'INTERNAL', message: expect.not.stringContaining('/x') } });
    off();
    expect(ipc.handlers.size).toBe(0);
  });

  it('check the page of a hop: a session, a seq and a bounded row count', async () => {
    const api = fakeApi();
    const call = (...args: unknown[]) => dispatch(api, 'hopExchanges', args, () => {});
    const bad = [[], ['s1', 0], ['s1', 0, 100, 'extra'], [42, 0, 100], ['s1', '0', 100], ['s1', -1, 100], ['s1', 1.5, 100], ['s1', Number.NaN, 100],
      ['s1', 2 ** 60, 100], ['s1', 0, 0], ['s1', 0, MAX_PAGE_ROWS + 1], ['s1', 0, '100'], ['s1', 0, 1e9], ['x'.repeat(201), 0, 100], [null, 0, 100]];
    for (const args of bad) expect(await call(...args), JSON.stringify(args)).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
    expect(api.calls).toEqual([]);
    expect(await call('s1', 0, 1)).toMatchObject({ ok: true });
    expect(await call('s1', 3001, MAX_PAGE_ROWS)).toMatchObject({ ok: true });
    expect(api.calls).toEqual([['hopExchanges', 's1', 0, 1], ['hopExchanges', 's1', 3001, MAX_PAGE_ROWS]]);
  });

  it('show a stable code for an unexpected failure and keep its detail in the log', async () => {
    const log = vi.fn();
    const result = await dispatch(fakeApi(), 'hop', ['s1'], log);
    expect(result).toEqual({ ok: false, error: { code: 'INTERNAL', message: expect.not.stringContaining('/var/lib') } });
    expect(log).toHaveBeenCalledWith(expect.objectContaining({ message: 'secret internal detail /var/lib/x' }));
    expect(Object.keys(CHANNELS)).toContain('hop');
  });
});
