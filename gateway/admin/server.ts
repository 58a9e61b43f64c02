import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
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
}

export interface AdminDeps {
  token: string;
  metrics: GatewayMetrics;
  sessions: () => LiveSession[];
}

/**
 * The admin listener. `/healthz` answers without credentials and says nothing
 * but "ok" (for liveness probes); every other route needs the bearer token.
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
    if (!authorized(req)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="hopscope-admin"');
      return send(res, 401, 'application/json', JSON.stringify({ error: 'a valid bearer token is required' }));
    }
    if (req.method === 'GET' && url.pathname === '/metrics') {
      return send(res, 200, 'text/plain; version=0.0.4', deps.metrics.render());
    }
    if (req.method === 'GET' && url.pathname === '/sessions') {
      return send(res, 200, 'application/json', JSON.stringify(deps.sessions()));
    }
    return send(res, 404, 'application/json', JSON.stringify({ error: `no route ${req.method} ${url.pathname}` }));
  });
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
