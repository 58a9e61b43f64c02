import type { WorkbenchBridge, WorkbenchDesktop, WorkbenchEvents } from '../../common/api/index.js';
import { API_METHODS, channelOf } from './contract.js';

/** The part of `ipcRenderer` the bridge uses; never handed to the page itself. */
export interface Invoker {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  /** Listens to a main → page channel with the message's arguments (the IPC event stays in the preload); returns the unsubscribe. */
  on?(channel: string, listener: (...args: unknown[]) => void): () => void;
}

/** The main → page channels: one per event of the bridge. */
export const EVENT_CHANNELS: { readonly [K in keyof WorkbenchEvents]: string } = {
  onCaseChanged: 'hopscope:event:case-changed',
  onImportStarted: 'hopscope:event:import-started',
};

/** What each event hands the page: nothing, or the one checked value it names (undefined: the message is dropped). */
const EVENT_ARGS: { readonly [K in keyof WorkbenchEvents]: (args: unknown[]) => unknown[] | undefined } = {
  onCaseChanged: () => [],
  onImportStarted: ([id]) => (typeof id === 'string' && /^[0-9a-f]{1,64}$/.test(id) ? [id] : undefined),
};

/** The page → main channels of the desktop's own dialogs (Electron only: no HTTP route). */
export const DESKTOP_CHANNELS: { readonly [K in keyof WorkbenchDesktop]: string } = {
  chooseGatewayConfig: 'hopscope:desktop:choose-gateway-config',
};

/**
 * What the preload exposes as `window.hopscope`: one function per channel,
 * each bound to its own channel name, so the page can neither name a channel
 * nor reach `ipcRenderer` or an IPC event object (Electron security checklist).
 * Events are one subscribe function each; the page's listener gets only what
 * its event names, checked here, whatever the main process sent.
 */
export function createBridge(ipc: Invoker): WorkbenchBridge {
  const bridge: Record<string, unknown> = {};
  for (const method of API_METHODS) {
    const channel = channelOf(method);
    bridge[method] = (...args: unknown[]) => ipc.invoke(channel, ...args);
  }
  for (const [name, channel] of Object.entries(DESKTOP_CHANNELS)) bridge[name] = () => ipc.invoke(channel);
  for (const [name, channel] of Object.entries(EVENT_CHANNELS) as [keyof WorkbenchEvents, string][]) {
    bridge[name] = (listener: unknown): (() => void) => {
      if (typeof listener !== 'function') throw new TypeError(`${name} takes a function`);
      return ipc.on?.(channel, (...args: unknown[]) => {
        const checked = EVENT_ARGS[name](args);
        if (checked) void (listener as (...a: unknown[]) => unknown)(...checked);
      }) ?? (() => undefined);
    };
  }
  return Object.freeze(bridge) as unknown as WorkbenchBridge;
}
