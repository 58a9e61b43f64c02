import { EXPORT_FORMATS, type ApiMethod, type ApiResult, type ExportFormat, type GatewayTarget, type UploadFile, type WorkbenchApi } from '../../common/api/index.js';

/*
 * The channels of the workbench API and the check of each one's arguments.
 * The same table serves the Electron IPC handlers, the preload bridge (one
 * method per channel) and the HTTP routes of the browser mode, so a channel
 * exists in all three or in none. Pure: no Electron, no Node imports.
 */

/** An error the UI shows: a stable code and a sentence. */
export class ApiError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

type Check<K extends ApiMethod> = (args: readonly unknown[]) => Parameters<WorkbenchApi[K]>;

const MAX_UPLOAD_CHARS = 512 * 1024 * 1024;
/** Rows of a hop view per request: a page the backend reads and the page draws in a moment. */
export const MAX_PAGE_ROWS = 2000;

function bad(what: string): never {
  throw new ApiError('BAD_REQUEST', `invalid argument: ${what}`);
}

function arity(args: readonly unknown[], n: number, method: string): void {
  if (args.length !== n) bad(`${method} takes ${n} argument${n === 1 ? '' : 's'}, got ${args.length}`);
}

const str = (v: unknown, what: string, max = 4096): string => (typeof v === 'string' && v.length <= max ? v : bad(`${what} must be a string`));
const int = (v: unknown, what: string): number => (typeof v === 'number' && Number.isSafeInteger(v) ? v : bad(`${what} must be an integer`));
const strings = (v: unknown, what: string): string[] => (Array.isArray(v) && v.length <= 100_000 ? v.map((x, i) => str(x, `${what}[${i}]`)) : bad(`${what} must be a list of strings`));

const IDENTITY = /^[A-Za-z0-9._-]{1,200}$/;

/** A remote gateway `{ url, token }`, or the local one by its run id `{ local, approver? }` (its tokens stay in the backend). */
function gatewayTarget(v: unknown): GatewayTarget {
  const o = v as { url?: unknown; token?: unknown; local?: unknown; approver?: unknown } | null;
  if (!o || typeof o !== 'object') bad('gateway must be { url, token } or { local }');
  if (o.local !== undefined) {
    if (o.url !== undefined || o.token !== undefined) bad('a local gateway takes no url or token');
    const local = str(o.local, 'gateway.local', 64);
    if (!/^[0-9a-f]{1,64}$/.test(local)) bad('gateway.local must be a local gateway id');
    if (o.approver === undefined) return { local };
    const approver = str(o.approver, 'gateway.approver', 200);
    if (!IDENTITY.test(approver)) bad('gateway.approver must be an identity name');
    return { local, approver };
  }
  const url = str(o.url, 'gateway.url');
  if (!/^https?:\/\//.test(url)) bad('gateway.url must be an http(s) URL');
  return { url, token: str(o.token, 'gateway.token') };
}

/** A gateway, then what to revoke or lift: an identity or a token id, by its value (non-empty). */
function revocationArgs(a: readonly unknown[]): [GatewayTarget, 'identity' | 'tokenId', string] {
  if (a[1] !== 'identity' && a[1] !== 'tokenId') bad('by must be identity or tokenId');
  const value = str(a[2], 'value', 200);
  if (!value || /[\0-\x1f/]/.test(value)) bad('value must be an identity name or a token id');
  return [gatewayTarget(a[0]), a[1], value];
}

function configPath(v: unknown): string {
  const path = str(v, 'configPath');
  if (!path.trim() || path.includes('\0')) bad('configPath must be a file path');
  return path;
}

function uploads(v: unknown): UploadFile[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > 10_000) bad('files must be a non-empty list');
  let total = 0;
  return v.map((f: unknown, i) => {
    const o = f as Partial<UploadFile> | null;
    const name = str(o?.name, `files[${i}].name`, 255);
    if (!/^[\w.@+-][\w .@+-]*$/.test(name)) bad(`files[${i}].name is not a plain file name`);
    const text = str(o?.text, `files[${i}].text`, MAX_UPLOAD_CHARS);
    total += text.length;
    if (total > MAX_UPLOAD_CHARS) bad('the files are too large to upload at once (512 MiB); import them by path');
    return { name, text };
  });
}

export const CHANNELS: { readonly [K in ApiMethod]: Check<K> } = {
  caseInfo: (a) => (arity(a, 0, 'caseInfo'), []),
  openCase: (a) => (arity(a, 1, 'openCase'), [str(a[0], 'path')]),
  files: (a) => (arity(a, 0, 'files'), []),
  importPaths: (a) => (arity(a, 1, 'importPaths'), [strings(a[0], 'paths')]),
  importUpload: (a) => (arity(a, 1, 'importUpload'), [uploads(a[0])]),
  importStatus: (a) => (arity(a, 1, 'importStatus'), [str(a[0], 'id', 64)]),
  sessions: (a) => {
    arity(a, 1, 'sessions');
    const q = a[0] as { text?: unknown } | null;
    if (!q || typeof q !== 'object') bad('query must be an object');
    return [q.text === undefined ? {} : { text: str(q.text, 'query.text', 1000) }];
  },
  graph: (a) => (arity(a, 0, 'graph'), []),
  answers: (a) => (arity(a, 1, 'answers'), [a[0] === null ? null : str(a[0], 'session', 200)]),
  chainTimeline: (a) => (arity(a, 1, 'chainTimeline'), [a[0] === null ? null : str(a[0], 'session', 200)]),
  hop: (a) => (arity(a, 1, 'hop'), [str(a[0], 'session', 200)]),
  hopExchanges: (a) => {
    arity(a, 3, 'hopExchanges');
    const fromSeq = int(a[1], 'fromSeq');
    if (fromSeq < 0) bad('fromSeq must be a seq (0 or more)');
    const limit = int(a[2], 'limit');
    if (limit < 1 || limit > MAX_PAGE_ROWS) bad(`limit must be 1..${MAX_PAGE_ROWS}`);
    return [str(a[0], 'session', 200), fromSeq, limit];
  },
  screenAt: (a) => (arity(a, 2, 'screenAt'), [str(a[0], 'session', 200), int(a[1], 'time')]),
  terminalEvents: (a) => {
    arity(a, 3, 'terminalEvents');
    const limit = int(a[2], 'limit');
    if (limit < 1 || limit > 10_000) bad('limit must be 1..10000');
    return [str(a[0], 'session', 200), int(a[1], 'afterSeq'), limit];
  },
  exportCase: (a) => {
    arity(a, 1, 'exportCase');
    const r = a[0] as { format?: unknown; sessions?: unknown } | null;
    if (!r || typeof r !== 'object' || !EXPORT_FORMATS.includes(r.format as ExportFormat)) bad(`format must be one of ${EXPORT_FORMATS.join(', ')}`);
    return [{ format: r.format as ExportFormat, ...(r.sessions === undefined ? {} : { sessions: strings(r.sessions, 'sessions') }) }];
  },
  gatewaySessions: (a) => (arity(a, 1, 'gatewaySessions'), [gatewayTarget(a[0])]),
  gatewayApprovals: (a) => (arity(a, 1, 'gatewayApprovals'), [gatewayTarget(a[0])]),
  gatewayFleet: (a) => (arity(a, 1, 'gatewayFleet'), [gatewayTarget(a[0])]),
  gatewayDecide: (a) => {
    arity(a, 4, 'gatewayDecide');
    if (a[2] !== 'approve' && a[2] !== 'deny') bad('decision must be approve or deny');
    return [gatewayTarget(a[0]), str(a[1], 'id', 200), a[2], str(a[3], 'reason', 2000)];
  },
  gatewayRevoke: (a) => (arity(a, 3, 'gatewayRevoke'), revocationArgs(a)),
  gatewayUnrevoke: (a) => (arity(a, 3, 'gatewayUnrevoke'), revocationArgs(a)),
  localGatewayStart: (a) => (arity(a, 1, 'localGatewayStart'), [configPath(a[0])]),
  localGatewayStatus: (a) => (arity(a, 0, 'localGatewayStatus'), []),
  localGatewayStop: (a) => (arity(a, 0, 'localGatewayStop'), []),
  localGatewayImport: (a) => (arity(a, 0, 'localGatewayImport'), []),
};

export const API_METHODS = Object.keys(CHANNELS) as ApiMethod[];

/** The IPC channel of a method. */
export const channelOf = (method: ApiMethod): string => `hopscope:${method}`;

export function isApiMethod(name: string): name is ApiMethod {
  return Object.prototype.hasOwnProperty.call(CHANNELS, name);
}

/** Checks the arguments, calls the method and envelopes the outcome; an unexpected error is logged, not shown. */
export async function dispatch(api: WorkbenchApi, method: ApiMethod, args: readonly unknown[], log: (err: unknown) => void = console.error): Promise<ApiResult<unknown>> {
  try {
    const checked = (CHANNELS[method] as (a: readonly unknown[]) => unknown[])(args);
    const fn = api[method] as (...a: unknown[]) => Promise<unknown>;
    return { ok: true, value: await fn.apply(api, checked) };
  } catch (err) {
    return { ok: false, error: errorOf(err, log) };
  }
}

export function errorOf(err: unknown, log: (err: unknown) => void): { code: string; message: string } {
  const e = err as { code?: unknown; message?: unknown; name?: unknown };
  if (err instanceof ApiError || e?.name === 'ForensicsError' || e?.name === 'HopscopeError') {
    return { code: String(e.code ?? 'ERROR'), message: String(e.message) };
  }
  log(err);
  return { code: 'INTERNAL', message: 'the workbench backend failed on this request; see its log for the detail' };
}
