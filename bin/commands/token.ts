import type { Command } from 'commander';
import { systemClock } from '../../common/clock.js';
import { HopscopeError } from '../../common/errors.js';
import { loadOrCreateSigner } from '../../common/keys.js';
import { issueToken, parseDuration } from '../../common/tokens/index.js';
import { loadConfig } from '../../gateway/index.js';
import { loadOrCreateAdminToken } from '../../gateway/admin/index.js';
import { parseHostPort } from '../../gateway/config.js';
import { RevocationStore } from '../../gateway/policy/index.js';
import { UsageError } from '../main.js';

export function registerToken(program: Command): void {
  const token = program.command('token').description('issue signed, short-lived identity tokens');
  token
    .command('issue')
    .description('print a signed token for an identity (the token alone on stdout)')
    .requiredOption('--config <file>', 'gateway configuration (for keys.dir and identities)')
    .requiredOption('--identity <name>', 'identity named in the configuration')
    .option('--ttl <duration>', 'lifetime, e.g. 90s, 15m, 2h (default: tokens.defaultTtl)')
    .action((opts: { config: string; identity: string; ttl?: string }) => {
      const config = loadConfig(opts.config);
      if (!config.identities.some((i) => i.name === opts.identity)) {
        const known = config.identities.map((i) => i.name).join(', ') || 'none';
        throw new HopscopeError('IDENTITY_UNKNOWN', `unknown identity ${opts.identity} (configured: ${known})`);
      }
      const ttl = parseDuration(opts.ttl ?? config.tokens.defaultTtl);
      const max = parseDuration(config.tokens.maxTtl);
      if (ttl > max) throw new RangeError(`--ttl ${opts.ttl} exceeds tokens.maxTtl (${config.tokens.maxTtl})`);
      const signer = loadOrCreateSigner(config.keys.dir);
      const { token: text } = issueToken(signer, systemClock, { identity: opts.identity, ttlSeconds: ttl });
      process.stdout.write(`${text}\n`);
    });

  token
    .command('revoke')
    .description('revoke an identity or a token: live sessions under it and every hop derived from it are cut')
    .requiredOption('--config <file>', 'gateway configuration (keys.dir and the admin listener)')
    .option('--identity <name>', 'revoke every token issued to this identity until now')
    .option('--token-id <id>', 'revoke one token (and the hop tokens derived from it)')
    .action(async (opts: { config: string; identity?: string; tokenId?: string }) => {
      if (!opts.identity === !opts.tokenId) throw new UsageError('give exactly one of --identity or --token-id');
      const config = loadConfig(opts.config);
      if (opts.identity && !config.identities.some((i) => i.name === opts.identity)) {
        throw new HopscopeError('IDENTITY_UNKNOWN', `unknown identity ${opts.identity}`);
      }
      const body = opts.identity ? { identity: opts.identity } : { tokenId: opts.tokenId };
      const { host, port } = parseHostPort(config.admin.listen);
      const adminToken = loadOrCreateAdminToken(config.keys.dir);
      let cut: string[] | undefined;
      try {
        const res = await fetch(`http://${host}:${port}/revocations`, {
          method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
          signal: AbortSignal.timeout(5000),
        });
        const answer = (await res.json()) as { sessionsCut?: string[]; error?: string };
        if (!res.ok) throw new Error(answer.error ?? `HTTP ${res.status}`);
        cut = answer.sessionsCut ?? [];
      } catch (err) {
        if ((err as { cause?: { code?: string } }).cause?.code !== 'ECONNREFUSED') throw err;
        // No gateway running: persist it ourselves; the gateway reads it at start.
        new RevocationStore(config.keys.dir).add({ ...body, at: Math.floor(Date.now() / 1000), by: 'cli' });
      }
      const what = opts.identity ? `identity ${opts.identity}` : `token ${opts.tokenId}`;
      process.stdout.write(cut === undefined
        ? `revoked ${what} (no gateway answered on ${config.admin.listen}; it takes effect when the gateway starts)\n`
        : `revoked ${what}; ${cut.length} live session(s) cut${cut.length ? `: ${cut.join(', ')}` : ''}\n`);
    });
}
