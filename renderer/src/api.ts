import type { ApiMethod, ApiResult, WorkbenchApi, WorkbenchBridge } from '../../common/api/index.js';

declare global {
  interface Window {
    /** Set by the Electron preload; absent in the browser mode. */
    hopscope?: WorkbenchBridge;
  }
}

/** An error the backend reported: a stable code and a sentence for the user. */
export class ApiError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The page's folder: `/<secret>/` in the browser mode, where the API and downloads live too. */
export function appBase(): string {
  const p = window.location.pathname;
  return p.slice(0, p.lastIndexOf('/') + 1);
}

async function overHttp(method: ApiMethod, args: unknown[]): Promise<ApiResult<unknown>> {
  const res = await fetch(`${appBase()}api/${method}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(args), credentials: 'omit', referrerPolicy: 'no-referrer',
  });
  try {
    return (await res.json()) as ApiResult<unknown>;
  } catch {
    return { ok: false, error: { code: `HTTP_${res.status}`, message: `the workbench server answered ${res.status}` } };
  }
}

async function call(method: ApiMethod, args: unknown[]): Promise<unknown> {
  const bridge = window.hopscope;
  const result = bridge
    ? await (bridge[method] as (...a: unknown[]) => Promise<ApiResult<unknown>>)(...args)
    : await overHttp(method, args);
  if (!result.ok) throw new ApiError(result.error.code, result.error.message);
  return result.value;
}

/** The backend, the same in Electron (IPC through the preload) and in the browser (HTTP). */
export const api = new Proxy({} as WorkbenchApi, {
  get: (_target, name) => (...args: unknown[]) => call(name as ApiMethod, args),
});

export const inElectron = (): boolean => window.hopscope !== undefined;

/** Electron: a native open dialog for the local gateway's config (its path, or null when cancelled). The browser mode has none: the path is typed. */
export async function chooseGatewayConfig(): Promise<string | null> {
  const bridge = window.hopscope;
  if (!bridge) throw new ApiError('NO_DIALOG', 'type the path of the config file');
  const result = await bridge.chooseGatewayConfig();
  if (!result.ok) throw new ApiError(result.error.code, result.error.message);
  return result.value;
}
