import type { Command } from 'commander';
import { loadConfig, startGateway, type RunningGateway } from '../../gateway/index.js';
import { createLogger } from '../../gateway/log.js';

export function registerGateway(program: Command): void {
  program
    .command('gateway')
    .description('run the gateway headless until SIGTERM (drains, seals recordings)')
    .requiredOption('--config <file>', 'gateway configuration (YAML)')
    .action(async (opts: { config: string }) => {
      const config = loadConfig(opts.config);
      const gateway = await startGateway(config, { logger: createLogger() });
      printListening(gateway);
      await untilSignal(gateway);
    });
}

export function printListening(gateway: RunningGateway): void {
  const lines = ['hopscope gateway running'];
  if (gateway.postgres) lines.push(`  postgres  ${gateway.postgres.host}:${gateway.postgres.port}`);
  lines.push(`  admin     ${gateway.admin.url}  (bearer token in keys.dir/admin.token)`);
  lines.push(`  signing key ${gateway.signer.keyId}`);
  process.stderr.write(`${lines.join('\n')}\n`);
}

/** Resolves after SIGTERM or SIGINT once the gateway has sealed its recordings. */
export function untilSignal(gateway: RunningGateway, onStop?: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`hopscope: ${signal} received, ending sessions and sealing recordings\n`);
      void gateway.stop().then(() => onStop?.()).finally(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
