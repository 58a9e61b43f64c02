import type { Command } from 'commander';
import { systemClock } from '../../common/clock.js';
import { HopscopeError } from '../../common/errors.js';
import { loadOrCreateSigner } from '../../common/keys.js';
import { issueToken, parseDuration } from '../../common/tokens/index.js';
import { loadConfig } from '../../gateway/config.js';
import { registerRevocations } from './token-revocations.js';

export function registerToken(program: Command): void {
  const token = program.command('token').description('issue signed, short-lived identity tokens; revoke, unrevoke and list revocations');
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

  registerRevocations(token);
}
