import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { FleetStatus } from '../../common/api/gateway.js';
import { ADMIN_TOKEN_FILE } from '../../gateway/admin/index.js';
import { loadConfig, parseHostPort } from '../../gateway/config.js';
import { UsageError } from '../main.js';

interface Reach { config?: string; gateway?: string; token?: string }
interface FleetKey { keyId: string; gateway: string; registeredAt: string; retiredAt: string | null; retiredBy: string | null }

/**
 * `fleet status|keys|retire-key`: the fleet a running gateway belongs to, through its admin API (admin token).
 * Reached with `--config` (admin.listen and keys.dir/admin.token, as `token revoke` does) or `--gateway URL --token T`.
 */
export function registerFleet(program: Command): void {
  const fleet = program.command('fleet').description('the gateways sharing a control plane: their health, live sessions, held operations and keys');
  const reach = (cmd: Command) => cmd
    .option('--config <file>', 'configuration of a gateway of the fleet (its admin listener and keys.dir/admin.token)')
    .option('--gateway <url>', 'or: the admin API of a gateway of the fleet, e.g. http://127.0.0.1:8099')
    .option('--token <token>', "with --gateway: the admin token (or - to read it from stdin)");

  reach(fleet.command('status').description('each gateway (state, health, last heartbeat, live sessions, admin URL, key), then every live session and held operation'))
    .option('--json', 'the gateway\'s answer: {self, state, gateways, sessions, approvals}')
    .action(async (opts: Reach & { json?: boolean }) => {
      const status = await admin<FleetStatus>(opts, 'GET', '/fleet');
      process.stdout.write(opts.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status, Date.now()));
    });

  reach(fleet.command('keys').description('the signing keys registered in the fleet, retired ones included'))
    .option('--json', 'an array of {keyId, gateway, registeredAt, retiredAt, retiredBy}')
    .action(async (opts: Reach & { json?: boolean }) => {
      const keys = await admin<FleetKey[]>(opts, 'GET', '/fleet/keys');
      if (opts.json) return void process.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
      process.stdout.write(table(['KEY', 'GATEWAY', 'REGISTERED', 'RETIRED'],
        keys.map((k) => [k.keyId, k.gateway, k.registeredAt, k.retiredAt ? `${k.retiredAt} by ${k.retiredBy ?? '?'}` : '-'])));
    });

  reach(fleet.command('retire-key <keyId>').description('retire a signing key fleet-wide: every gateway refuses the tokens and hop tokens it signed from now on'))
    .action(async (keyId: string, opts: Reach) => {
      if (!/^[0-9a-f]{16}$/.test(keyId)) throw new UsageError(`${keyId} is not a key id (16 hex digits, as \`fleet keys\` lists them)`);
      await admin(opts, 'POST', `/fleet/keys/${keyId}/retire`);
      process.stdout.write(`retired key ${keyId} fleet-wide: tokens it signed are refused by every gateway\n`);
    });
}

export function formatStatus(s: FleetStatus, now: number): string {
  const gateways = table(['GATEWAY', 'STATE', 'HEALTH', 'HEARTBEAT', 'SESSIONS', 'ADMIN', 'KEY', 'HOST', 'PID'], s.gateways.map((g) => [
    g.name === s.self ? `${g.name} *` : g.name, g.state, g.healthy ? 'healthy' : 'UNHEALTHY', age(g.heartbeatAt, now), String(g.sessions), g.adminUrl, g.keyId, g.host, String(g.pid),
  ]));
  const sessions = table(['SESSION', 'GATEWAY', 'PROTOCOL', 'IDENTITY', 'TARGET', 'STARTED', 'PARENT'], s.sessions.map((x) => [
    x.id, x.gateway ?? '-', x.protocol, x.identity, x.target, typeof x.startedAt === 'string' ? x.startedAt : '-', typeof x.parent === 'string' ? x.parent : '-',
  ]));
  const approvals = table(['ID', 'GATEWAY', 'IDENTITY', 'TARGET', 'REQUESTED', 'OPERATION'], s.approvals.map((a) => [
    a.id, a.gateway ?? '-', a.identity, a.target, a.requestedAt, oneLine(a.operation),
  ]));
  return `fleet of ${s.gateways.length} gateway(s), seen from ${s.self} (*), its control plane link ${s.state}\n${gateways}\n`
    + `live sessions (${s.sessions.length})\n${s.sessions.length ? sessions : ''}\npending approvals (${s.approvals.length})\n${s.approvals.length ? approvals : ''}`;
}

/** By this machine's clock; the heartbeat is stamped by the control plane's. */
function age(iso: string, now: number): string {
  const at = Date.parse(iso);
  return Number.isNaN(at) ? iso : `${(Math.max(0, now - at) / 1000).toFixed(1)}s ago`;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]!))).join('  ');
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 100 ? `${flat.slice(0, 97)}...` : flat;
}

/** Where the admin API is and its token: from the config (keys.dir/admin.token, written by the gateway on its first start) or the options. */
async function reachOf(opts: Reach): Promise<{ base: string; token: string }> {
  if (opts.config && (opts.gateway || opts.token)) throw new UsageError('give --config, or --gateway with --token, not both');
  if (opts.config) {
    const config = loadConfig(opts.config);
    let { host } = parseHostPort(config.admin.listen);
    const { port } = parseHostPort(config.admin.listen);
    if (host === '' || host === '0.0.0.0') host = '127.0.0.1';
    if (host === '::') host = '::1';
    let token: string;
    try {
      token = readFileSync(join(config.keys.dir, ADMIN_TOKEN_FILE), 'utf8').trim();
    } catch {
      throw new UsageError(`no admin token in ${config.keys.dir} (the gateway writes ${ADMIN_TOKEN_FILE} when it first starts)`);
    }
    return { base: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, token };
  }
  if (!opts.gateway || !opts.token) throw new UsageError('give --config FILE, or --gateway URL with --token TOKEN');
  const token = opts.token === '-' ? (await readStdin()).trim() : opts.token;
  if (!token) throw new UsageError('--token is empty');
  return { base: opts.gateway, token };
}

async function admin<T>(opts: Reach, method: string, path: string): Promise<T> {
  const { base, token } = await reachOf(opts);
  let url: URL;
  try {
    url = new URL(path, base);
  } catch {
    throw new UsageError(`--gateway ${base} is not a URL`);
  }
  const res = await fetch(url, { method, headers: { authorization: `Bearer ${token}`, 'x-hopscope-via': 'cli' }, signal: AbortSignal.timeout(10_000) })
    .catch((err: Error & { cause?: { code?: string } }) => {
      throw new Error(`cannot reach the gateway at ${base}: ${err.cause?.code ?? err.message}`);
    });
  const answer = (await res.json().catch(() => ({}))) as T & { error?: string };
  if (!res.ok) throw new Error(answer.error ?? `the gateway answered HTTP ${res.status}`);
  return answer;
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text;
}
