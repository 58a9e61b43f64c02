import type { ApiResult, WorkbenchApi, WorkbenchDesktop } from '../common/api/index.js';
import { DESKTOP_CHANNELS } from '../workbench/common/bridge.js';
import { API_METHODS, channelOf, dispatch, errorOf } from '../workbench/common/contract.js';

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
    ipc.handle(channelOf(method), async (event, ...args) => refused(event, method, log) ?? dispatch(api, method, args, log));
  }
  return () => {
    for (const method of API_METHODS) ipc.removeHandler(channelOf(method));
  };
}

/** What the main process does for the desktop's own channels: each takes no argument from the page. */
export type DesktopHandlers = { [K in keyof WorkbenchDesktop]: () => Promise<Awaited<ReturnType<WorkbenchDesktop[K]>> extends ApiResult<infer T> ? T : never> };

/** The desktop channels (native dialogs), under the same sender check; whatever the page sends with them is ignored. */
export function registerDesktop(ipc: IpcMainLike, handlers: DesktopHandlers, log: (err: unknown) => void = console.error): () => void {
  const names = Object.keys(DESKTOP_CHANNELS) as (keyof WorkbenchDesktop)[];
  for (const name of names) {
    ipc.handle(DESKTOP_CHANNELS[name], async (event) => {
      const no = refused(event, name, log);
      if (no) return no;
      try {
        return { ok: true, value: await handlers[name]() };
      } catch (err) {
        return { ok: false, error: errorOf(err, log) };
      }
    });
  }
  return () => {
    for (const name of names) ipc.removeHandler(DESKTOP_CHANNELS[name]);
  };
}

function refused(event: IpcEventLike, what: string, log: (err: unknown) => void): ApiResult<never> | undefined {
  if (isAppUrl(event.senderFrame?.url)) return undefined;
  log(new Error(`IPC ${what} refused from ${event.senderFrame?.url ?? 'an unknown frame'}`));
  return { ok: false, error: { code: 'FORBIDDEN', message: 'this request did not come from the workbench window' } };
}
