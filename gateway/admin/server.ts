import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { GatewayRevocation } from '../../common/api/gateway.js';
import type { HopscopeError } from '../../common/errors.js';
import type { ApprovalDesk, Revocation } from '../policy/index.js';
import type { RevocationActions, RevocationTarget } from '../revocation.js';
import type { GatewayMetrics } from './metrics.js';

export const ADMIN_TOKEN_FILE = 'admin.token';

/** Reads the admin bearer token from keys.dir, creating it (0600) on first start. */
export function loadOrCreateAdminToken(keysDir: string): string {
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const path = join(keysDir, ADMIN_TOKEN_FILE);
  if (!existsSync(path)) {
    writeFileSync(path, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
  }
  return readFileSync(path, 'utf8').trim();
}

export interface LiveSession {
  id: string;
  protocol: string;
  identity: string;
  target: string;
  client: string;
  parent: string | undefined;
  linkKind: string | undefined;
  startedAt: string;
  /** The gateway holding it (a fleet's listing). */
  gateway?: string;
}

/** What `GET /fleet` answers and `POST /fleet/keys/ID/retire` does (gateway/fleet): absent on a lone gateway. */
export interface FleetAdmin {
  status(): Promise<unknown>;
  keys(): Promise<unknown>;
  retireKey(keyId: string, by: string): Promise<boolean>;
}

export interface AdminDeps {
  token: string;
  metrics: GatewayMetrics;
  /** This gateway's live sessions, or in a fleet every gateway's. */
  sessions: () => LiveSession[] | Promise<LiveSession[]>;
  /** This gateway's held operations, or in a fleet every gateway's. */
  approvals: ApprovalDesk;
  fleet?: FleetAdmin;
  /** The approver identity of a bearer token; throws when it may not approve. */
  approverOf: (token: string) => string;
  /** List, revoke and lift (gateway/revocation.ts), each recorded by the gateway with the actor. */
  revocations: RevocationActions;
  /** Every refused call is recorded (the gateway's audit recording) with its reason. */
  refused: (refusal: { reason: string; message: string; client: string; route: string; identity?: string }) => void;
}

/**
 * The admin listener. `/healthz` answers without credentials and says nothing
 * but "ok" (for liveness probes). `/approvals` take an approver's identity token
 * (an approver decides in their own name) or, to list them only, the admin
 * token; every other route needs the admin token from keys.dir.
 */
export function createAdminServer(deps: AdminDeps): Server {
  const expected = Buffer.from(`Bearer ${deps.token}`);
  const authorized = (req: IncomingMessage) => {
    const got = Buffer.from(req.headers.authorization ?? '');
    return got.length === expected.length && timingSafeEqual(got, expected);
  };
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, 'text/plain', 'ok\n');
    if (url.pathname === '/approvals' || url.pathname.startsWith('/approvals/')) {
      return void handleApprovals(req, res, url, deps, authorized(req)).catch((err: Error) => json(res, 500, { error: err.message }));
    }
    if (!authorized(req)) {
      deps.refused({ reason: 'ADMIN_UNAUTHORIZED', message: 'a valid bearer token is required', client: clientOf(req), route: `${req.method} ${url.pathname}` });
      res.setHeader('WWW-Authenticate', 'Bearer realm="hopscope-admin"');
      return send(res, 401, 'application/json', JSON.stringify({ error: 'a valid bearer token is required' }));
    }
    if (req.method === 'GET' && url.pathname === '/metrics') {
      return void deps.metrics.render().then((text) => send(res, 200, deps.metrics.contentType, text), (err: Error) => json(res, 500, { error: err.message }));
    }
    if (req.method === 'GET' && url.pathname === '/sessions') return answer(res, 503, async () => json(res, 200, await deps.sessions()));
    if (url.pathname === '/fleet' || url.pathname.startsWith('/fleet/')) return fleetRoutes(req, res, url, deps);
    if (url.pathname === '/revocations' || url.pathname.startsWith('/revocations/')) return revocationRoutes(req, res, url, deps);
    return send(res, 404, 'application/json', JSON.stringify({ error: `no route ${req.method} ${url.pathname}` }));
  });
}

/**
 * GET /revocations lists what is revoked; POST /revocations `{identity}` or
 * `{tokenId}` (with an optional `reason`) revokes; DELETE /revocations/identity/NAME or
 * /revocations/token/ID lifts it (404 when it is not revoked). Revoking and
 * lifting are recorded with the actor (the admin token's holder), the client
 * address and the tool it says it is (`x-hopscope-via`, a label).
 */
function revocationRoutes(req: IncomingMessage, res: ServerResponse, url: URL, deps: AdminDeps): void {
  const actor = { by: 'admin', client: clientOf(req), ...viaOf(req) };
  if (req.method === 'GET' && url.pathname === '/revocations') {
    return answer(res, 500, async () => json(res, 200, (await deps.revocations.list()).map(toApi)));
  }
  if (req.method === 'POST' && url.pathname === '/revocations') {
    return void readJson(req).then((body) => {
      const b = body as { identity?: unknown; tokenId?: unknown; reason?: unknown };
      const which = target(typeof b.identity === 'string' && b.identity ? b.identity : undefined, typeof b.tokenId === 'string' && b.tokenId ? b.tokenId : undefined);
      if (!which) return json(res, 400, { error: 'revoke exactly one of an identity or a token id' });
      const reason = typeof b.reason === 'string' && b.reason ? { reason: b.reason } : {};
      answer(res, 400, async () => json(res, 200, { sessionsCut: await deps.revocations.revoke({ ...which, ...actor, ...reason }) }));
    }, (err: Error) => json(res, 400, { error: err.message }));
  }
  const m = /^\/revocations\/(identity|token)\/([^/]+)$/.exec(url.pathname);
  if (req.method === 'DELETE' && m) {
    let value: string;
    try {
      value = decodeURIComponent(m[2]!);
    } catch {
      return json(res, 400, { error: 'the name is not valid URL encoding' });
    }
    const which: RevocationTarget = m[1] === 'identity' ? { identity: value } : { tokenId: value };
    return answer(res, 400, async () => {
      const lifted = await deps.revocations.unrevoke({ ...which, ...actor });
      if (lifted.length === 0) return json(res, 404, { error: `${m[1] === 'identity' ? 'identity' : 'token'} ${value} is not revoked` });
      json(res, 200, { lifted: lifted.map(toApi) });
    });
  }
  return send(res, 404, 'application/json', JSON.stringify({ error: `no route ${req.method} ${url.pathname}` }));
}

function target(identity: string | undefined, tokenId: string | undefined): RevocationTarget | undefined {
  if (identity !== undefined && tokenId === undefined) return { identity };
  if (tokenId !== undefined && identity === undefined) return { tokenId };
  return undefined;
}

/** Runs a handler; an error it throws is answered with `status` and its message (503 when the fleet's control plane is away). */
function answer(res: ServerResponse, status: number, handle: () => void | Promise<void>): void {
  const failed = (err: Error) => json(res, (err as HopscopeError).code === 'CONTROL_PLANE_UNAVAILABLE' ? 503 : status, { error: err.message });
  try {
    void Promise.resolve(handle()).catch(failed);
  } catch (err) {
    failed(err as Error);
  }
}

/** GET /fleet: gateways, their health, live sessions and held operations of the fleet; GET /fleet/keys; POST /fleet/keys/ID/retire. */
function fleetRoutes(req: IncomingMessage, res: ServerResponse, url: URL, deps: AdminDeps): void {
  const fleet = deps.fleet;
  if (!fleet) return json(res, 404, { error: 'this gateway is not a member of a fleet (no controlPlane in its configuration)' });
  if (req.method === 'GET' && url.pathname === '/fleet') return answer(res, 503, async () => json(res, 200, await fleet.status()));
  if (req.method === 'GET' && url.pathname === '/fleet/keys') return answer(res, 503, async () => json(res, 200, await fleet.keys()));
  const m = /^\/fleet\/keys\/([0-9a-f]{16})\/retire$/.exec(url.pathname);
  if (req.method === 'POST' && m) {
    return answer(res, 503, async () => {
      const retired = await fleet.retireKey(m[1]!, 'admin');
      json(res, retired ? 200 : 404, retired ? { retired: m[1] } : { error: `no active key ${m[1]} in the fleet` });
    });
  }
  return json(res, 404, { error: `no route ${req.method} ${url.pathname}` });
}

/** The tool the caller declares (`x-hopscope-via: workbench`): recorded beside the actor, never trusted for anything. */
function viaOf(req: IncomingMessage): { via?: string } {
  const via = req.headers['x-hopscope-via'];
  return typeof via === 'string' && /^[a-z0-9._-]{1,40}$/.test(via) ? { via } : {};
}

function toApi(r: Revocation): GatewayRevocation {
  return { ...r, revokedAt: new Date(r.at * 1000).toISOString() };
}

async function handleApprovals(req: IncomingMessage, res: ServerResponse, url: URL, deps: AdminDeps, admin: boolean): Promise<void> {
  // The operator's admin token shows what is held; deciding is done in an approver's own name.
  if (admin && req.method === 'GET' && url.pathname === '/approvals') return json(res, 200, await deps.approvals.list());
  if (admin) {
    const message = "the admin token lists held operations but cannot decide them: a decision is made in an approver's name (use that approver's token: hopscope token issue --identity NAME)";
    deps.refused({ reason: 'APPROVAL_FORBIDDEN', message, client: clientOf(req), route: `${req.method} ${url.pathname}` });
    return json(res, 403, { error: `refused: ${message}` });
  }
  const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
  let approver: string;
  try {
    if (!bearer) throw new Error('an approver token is required');
    approver = deps.approverOf(bearer);
  } catch (err) {
    deps.refused({ reason: (err as HopscopeError).code ?? 'APPROVAL_FORBIDDEN', message: (err as Error).message, client: clientOf(req), route: `${req.method} ${url.pathname}` });
    res.setHeader('WWW-Authenticate', 'Bearer realm="hopscope-approvals"');
    return json(res, 403, { error: `refused: ${(err as Error).message}` });
  }
  if (req.method === 'GET' && url.pathname === '/approvals') return json(res, 200, await deps.approvals.list());
  const m = /^\/approvals\/([A-Za-z0-9-]+)\/(approve|deny)$/.exec(url.pathname);
  if (req.method !== 'POST' || !m) return json(res, 404, { error: `no route ${req.method} ${url.pathname}` });
  const body = (await readJson(req)) as { reason?: unknown };
  try {
    const decided = await deps.approvals.decide(m[1]!, approver, m[2] === 'approve' ? 'approved' : 'denied',
      typeof body.reason === 'string' ? body.reason : undefined);
    return json(res, 200, { ...decided, decision: m[2] === 'approve' ? 'approved' : 'denied', approver });
  } catch (err) {
    const code = (err as HopscopeError).code;
    deps.refused({ reason: code ?? 'APPROVAL_INVALID', message: (err as Error).message, client: clientOf(req), route: `${req.method} ${url.pathname}`, identity: approver });
    return json(res, code === 'APPROVAL_FORBIDDEN' ? 403 : code === 'APPROVAL_UNKNOWN' ? 409 : code === 'CONTROL_PLANE_UNAVAILABLE' ? 503 : 400,
      { error: (err as Error).message, code });
  }
}

function clientOf(req: IncomingMessage): string {
  return `${req.socket.remoteAddress}:${req.socket.remotePort}`;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 65_536) throw new Error('request body too large');
  }
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new Error('request body is not JSON');
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json', JSON.stringify(body));
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
