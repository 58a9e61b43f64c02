import type { WorkbenchBridge, WorkbenchEvents } from '../common/api/index.js';
import { API_METHODS, channelOf } from './contract.js';

/** The part of `ipcRenderer` the bridge uses; never handed to the page itself. */
export interface Invoker {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  /** Listens to a main → page channel (the IPC event stays in the preload); returns the unsubscribe. */
  on?(channel: string, listener: () => void): () => void;
}

/** The main → page channels: one per event of the bridge, sent without arguments. */
export const EVENT_CHANNELS: { readonly [K in keyof WorkbenchEvents]: string } = {
  onCaseChanged: 'hopscope:event:case-changed',
};

/**
 * What the preload exposes as `window.hopscope`: one function per channel,
 * each bound to its own channel name, so the page can neither name a channel
 * nor reach `ipcRenderer` or an IPC event object (Electron security checklist).
 * Events are one subscribe function each; the page's listener is called with
 * nothing, whatever the main process sent.
 */
export function createBridge(ipc: Invoker): WorkbenchBridge {
  const bridge: Record<string, unknown> = {};
  for (const method of API_METHODS) {
    const channel = channelOf(method);
    bridge[method] = (...args: unknown[]) => ipc.invoke(channel, ...args);
  }
  for (const [name, channel] of Object.entries(EVENT_CHANNELS) as [keyof WorkbenchEvents, string][]) {
    bridge[name] = (listener: unknown): (() => void) => {
      if (typeof listener !== 'function') throw new TypeError(`${name} takes a function`);
      return ipc.on?.(channel, () => void (listener as () => unknown)()) ?? (() => undefined);
    };
  }
  return Object.freeze(bridge) as unknown as WorkbenchBridge;
}
