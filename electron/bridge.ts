import type { ApiMethod, WorkbenchBridge } from '../common/api/index.js';
import { API_METHODS, channelOf } from './contract.js';

/** The part of `ipcRenderer` the bridge uses; never handed to the page itself. */
export interface Invoker {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
}

/**
 * What the preload exposes as `window.hopscope`: one function per channel,
 * each bound to its own channel name, so the page can neither name a channel
 * nor reach `ipcRenderer` or an IPC event object (Electron security checklist).
 */
export function createBridge(ipc: Invoker): WorkbenchBridge {
  const bridge: Partial<Record<ApiMethod, (...args: unknown[]) => Promise<unknown>>> = {};
  for (const method of API_METHODS) {
    const channel = channelOf(method);
    bridge[method] = (...args: unknown[]) => ipc.invoke(channel, ...args);
  }
  return Object.freeze(bridge) as WorkbenchBridge;
}
