import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { WorkbenchApi } from '../../common/api/index.js';
import { dispatch, isApiMethod } from '../common/contract.js';
import { CONTENT_SECURITY_POLICY } from './paths.js';

/*
 * The browser mode: the built UI and the API on 127.0.0.1, every path under
 * a random secret (`/<secret>/…`), so only who holds the printed URL reaches
 * the case. The Host header must name the loopback (no DNS rebinding), pages
 * send no Referer (the secret never leaks), and the API answers only POST.
 */

export interface WebServerOptions {
  api: WorkbenchApi;
  downloads: Downloads;
  staticDir: string;
  port?: number;
  secret?: string;
  log?: (err: unknown) => void;
}

export interface WebServer {
  url: string;
  port: number;
  secret: string;
  server: Server;
  close(): Promise<void>;
}

const MAX_BODY = 600 * 1024 * 1024;
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.woff2': 'font/woff2', '.json': 'application/json', '.ico': 'image/x-icon', '.map': 'application/json',
};

/** Exported files waiting to be downloaded, by an unguessable name. */
export class Downloads {
  private readonly files = new Map<string, { path: string; name: string }>();

  readonly deliver = async (path: string, name: string): Promise<{ href: string }> => {
    const token = randomBytes(12).toString('hex');
    this.files.set(token, { path, name });
    return { href: `download/${token}` };
  };

  get(token: string): { path: string; name: string } | undefined {
    return this.files.get(token);
  }
}

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const secret = opts.secret ?? randomBytes(24).toString('base64url');
  const log = opts.log ?? ((err: unknown) => console.error(err));
  const expected = Buffer.from(`/${secret}/`);
  const staticDir = resolve(opts.staticDir);
  let port = 0;
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log(err);
      if (!res.headersSent) send(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = req.headers.host ?? '';
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) return send(res, 421, { error: { code: 'BAD_HOST', message: 'unexpected Host header' } });
    const url = new URL(req.url ?? '/', `http://${host}`);
    const prefix = Buffer.from(url.pathname.slice(0, expected.length));
    if (prefix.length !== expected.length || !timingSafeEqual(prefix, expected)) {
      return send(res, 403, { error: { code: 'NO_SECRET', message: 'this workbench needs the secret URL it printed when it started' } });
    }
    const rest = url.pathname.slice(expected.length);
    if (rest.startsWith('api/')) {
      const method = rest.slice(4);
      if (req.method !== 'POST') return send(res, 405, { error: { code: 'METHOD', message: 'the API answers POST only' } });
      if (!isApiMethod(method)) return send(res, 404, { error: { code: 'NO_METHOD', message: `no API method ${method}` } });
      if (req.headers.origin && req.headers.origin !== `http://${host}`) return send(res, 403, { error: { code: 'ORIGIN', message: 'cross-origin request refused' } });
      let args: unknown;
      try {
        args = JSON.parse(await readBody(req));
      } catch (err) {
        return send(res, 400, { error: { code: 'BAD_REQUEST', message: `the body must be a JSON array of arguments (${(err as Error).message})` } });
      }
      if (!Array.isArray(args)) return send(res, 400, { error: { code: 'BAD_REQUEST', message: 'the body must be a JSON array of arguments' } });
      const result = await dispatch(opts.api, method, args, log);
      return send(res, result.ok ? 200 : result.error.code === 'INTERNAL' ? 500 : 400, result);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: { code: 'METHOD', message: 'GET only' } });
    if (rest.startsWith('download/')) {
      const file = opts.downloads.get(rest.slice('download/'.length));
      if (!file || !existsSync(file.path)) return send(res, 404, { error: { code: 'NO_FILE', message: 'no such export' } });
      return stream(res, file.path, 'application/octet-stream', { 'content-disposition': `attachment; filename="${file.name.replace(/[^\w.@+-]/g, '_')}"` });
    }
    const path = normalize(join(staticDir, rest === '' ? 'index.html' : decodeURIComponent(rest)));
    if (!path.startsWith(staticDir + sep) || !existsSync(path) || !statSync(path).isFile()) {
      return send(res, 404, { error: { code: 'NOT_FOUND', message: 'not found' } });
    }
    return stream(res, path, TYPES[extname(path)] ?? 'application/octet-stream', {});
  }

  const listen = (p: number) => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: p }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  if (opts.port !== undefined) {
    await listen(opts.port);
  } else {
    // A free port below the ephemeral range (32768 on Linux), so the URL never collides with one the
    // kernel hands to outgoing connections; a few tries, then whatever the kernel gives.
    let bound = false;
    for (let i = 0; i < 20 && !bound; i++) {
      bound = await listen(20_000 + Math.floor(Math.random() * 12_768)).then(() => true, (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EADDRINUSE') throw err;
        return false;
      });
    }
    if (!bound) await listen(0);
  }
  port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/${secret}/`, port, secret, server,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function headers(extra: Record<string, string>): Record<string, string> {
  return {
    'content-security-policy': CONTENT_SECURITY_POLICY, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin', 'cross-origin-resource-policy': 'same-origin', 'x-frame-options': 'DENY', ...extra,
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.req.resume(); // a refused request's body is drained, so a kept-alive connection stays usable
  const text = JSON.stringify(body);
  res.writeHead(status, headers({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': String(Buffer.byteLength(text)) }));
  res.end(text);
}

function stream(res: ServerResponse, path: string, type: string, extra: Record<string, string>): void {
  const size = statSync(path).size;
  res.writeHead(200, headers({ 'content-type': type, 'content-length': String(size), 'cache-control': 'no-cache', ...extra }));
  if (res.req.method === 'HEAD') return void res.end();
  createReadStream(path).pipe(res);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
