import type { WorkbenchApi } from '../common/api/index.js';
import { API_METHODS, channelOf, dispatch } from './contract.js';

/** The app's own origin: pages are served by the custom protocol, never from file:// or the network. */
export const APP_SCHEME = 'hopscope';
export const APP_HOST = 'app';
export const APP_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

/** The parts of an IPC event the handlers look at. */
export interface IpcEventLike {
  senderFrame?: { url: string } | null;
}

/** The part of `ipcMain` used here (so the contract is tested without Electron). */
export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcEventLike, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}

/** Whether a URL is one of the app's own pages (`hopscope://app/…`). */
export function isAppUrl(url: string | undefined): boolean {
  if (!url) return false;
  try {
    const u = new URL(url);
    return u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST && u.username === '' && u.password === '';
  } catch {
    return false;
  }
}

/**
 * One handler per channel. Each checks that the message comes from the app's
 * own frame, checks the arguments (contract.ts), and never passes the event on.
 * Returns a function that removes the handlers.
 */
export function registerIpc(ipc: IpcMainLike, api: WorkbenchApi, log: (err: unknown) => void = console.error): () => void {
  for (const method of API_METHODS) {
    ipc.handle(channelOf(method), async (event, ...args) => {
      if (!isAppUrl(event.senderFrame?.url)) {
        log(new Error(`IPC ${method} refused from ${event.senderFrame?.url ?? 'an unknown frame'}`));
        return { ok: false, error: { code: 'FORBIDDEN', message: 'this request did not come from the workbench window' } };
      }
      return dispatch(api, method, args, log);
    });
  }
  return () => {
    for (const method of API_METHODS) ipc.removeHandler(channelOf(method));
  };
}
