import type { Command } from 'commander';
import type { GatewayRevocation } from '../../common/api/gateway.js';
import { HopscopeError } from '../../common/errors.js';
import { loadConfig, parseHostPort, type LoadedConfig } from '../../gateway/config.js';
import { loadOrCreateAdminToken } from '../../gateway/admin/index.js';
import { RevocationStore, type Revocation } from '../../gateway/policy/revocations.js';
import { UsageError } from '../main.js';

interface Which { identity?: string; tokenId?: string }

/**
 * `token revoke|unrevoke|revocations`: through the running gateway's admin API
 * (it acts at once and records who did it); with no gateway answering, on
 * keys.dir/revocations.json directly, which the gateway reads when it starts.
 */
export function registerRevocations(token: Command): void {
  const which = (cmd: Command, verb: string) => cmd
    .requiredOption('--config <file>', 'gateway configuration (keys.dir and the admin listener)')
    .option('--identity <name>', `${verb} the identity: every login of it (token, keyboard-interactive, registered key, hop token)`)
    .option('--token-id <id>', `${verb} one token (and the hop tokens derived from it)`);

  which(token.command('revoke'), 'revoke')
    .description('revoke an identity or a token until unrevoked: live sessions under it and every hop derived from it are cut')
    .action(async (opts: { config: string } & Which) => {
      const { config, body, what } = selection(opts);
      const answer = await admin<{ sessionsCut?: string[] }>(config, 'POST', '/revocations', body);
      if (answer === undefined) {
        new RevocationStore(config.keys.dir).add({ ...body, at: Math.floor(Date.now() / 1000), by: 'cli' });
        process.stdout.write(`revoked ${what} (no gateway answered on ${config.admin.listen}; it takes effect when the gateway starts)\n`);
        return;
      }
      const cut = answer.sessionsCut ?? [];
      process.stdout.write(`revoked ${what}; ${cut.length} live session(s) cut${cut.length ? `: ${cut.join(', ')}` : ''}\n`);
    });

  which(token.command('unrevoke'), 'unrevoke')
    .description('lift a revocation: on the running gateway (recorded in its audit) and in keys.dir/revocations.json')
    .action(async (opts: { config: string } & Which) => {
      const { config, body, what } = selection(opts);
      const path = body.identity !== undefined ? `/revocations/identity/${encodeURIComponent(body.identity)}` : `/revocations/token/${encodeURIComponent(body.tokenId!)}`;
      const answer = await admin<{ lifted?: GatewayRevocation[] }>(config, 'DELETE', path);
      if (answer === undefined) {
        const lifted = new RevocationStore(config.keys.dir).remove(body);
        if (lifted.length === 0) throw new HopscopeError('CONFIG_INVALID', `${what} is not revoked`);
        process.stdout.write(`unrevoked ${what} (no gateway answered on ${config.admin.listen}; it takes effect when the gateway starts)\n`);
        return;
      }
      process.stdout.write(`unrevoked ${what}\n`);
    });

  token.command('revocations')
    .description('list what is revoked: the running gateway\'s list, or keys.dir/revocations.json when none answers')
    .requiredOption('--config <file>', 'gateway configuration (keys.dir and the admin listener)')
    .option('--json', 'an array of {identity|tokenId, at, revokedAt, by}')
    .action(async (opts: { config: string; json?: boolean }) => {
      const config = loadConfig(opts.config);
      const list = await admin<GatewayRevocation[]>(config, 'GET', '/revocations')
        ?? new RevocationStore(config.keys.dir).list().map((r: Revocation) => ({ ...r, revokedAt: new Date(r.at * 1000).toISOString() }));
      if (opts.json) return void process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      for (const r of list) {
        process.stdout.write(`${r.identity !== undefined ? `identity ${r.identity}` : `token ${r.tokenId}`}  revoked ${r.revokedAt}${r.by ? ` by ${r.by}` : ''}\n`);
      }
      if (!list.length) process.stderr.write('nothing is revoked\n');
    });
}

function selection(opts: { config: string } & Which): { config: LoadedConfig; body: Which; what: string } {
  if (!opts.identity === !opts.tokenId) throw new UsageError('give exactly one of --identity or --token-id');
  const config = loadConfig(opts.config);
  if (opts.identity && !config.identities.some((i) => i.name === opts.identity)) {
    throw new HopscopeError('IDENTITY_UNKNOWN', `unknown identity ${opts.identity}`);
  }
  return {
    config,
    body: opts.identity ? { identity: opts.identity } : { tokenId: opts.tokenId! },
    what: opts.identity ? `identity ${opts.identity}` : `token ${opts.tokenId}`,
  };
}

/** The admin API's answer, or undefined when no gateway listens there (connection refused). */
async function admin<T>(config: LoadedConfig, method: string, path: string, body?: unknown): Promise<T | undefined> {
  const { host, port } = parseHostPort(config.admin.listen);
  const adminToken = loadOrCreateAdminToken(config.keys.dir);
  try {
    const res = await fetch(`http://${host}:${port}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(5000),
    });
    const answer = (await res.json().catch(() => ({}))) as T & { error?: string };
    if (!res.ok) throw new Error(answer.error ?? `the gateway answered HTTP ${res.status}`);
    return answer;
  } catch (err) {
    if ((err as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED') return undefined;
    throw err;
  }
}
