import type { Command } from 'commander';
import { systemClock } from '../../common/clock.js';
import { ConfigInvalid, describeProblem } from '../../gateway/config.js';
import { checkConfig, loadConfig, startGateway, type RunningGateway } from '../../gateway/index.js';
import { createLogger } from '../../gateway/log.js';
import { ExitStatus } from '../main.js';

export function registerGateway(program: Command): void {
  program
    .command('gateway')
    .description('run the gateway headless until SIGTERM (drains, seals recordings); SIGHUP reloads its policies')
    .requiredOption('--config <file>', 'gateway configuration (YAML)')
    .option('--check', 'validate the configuration (rules compiled, secret files present) and exit: 0 and a summary, or 1 and the first problem')
    .action(async (opts: { config: string; check?: boolean }) => {
      if (opts.check) return check(opts.config);
      const config = loadConfig(opts.config);
      const gateway = await startGateway(config, { logger: createLogger() });
      printListening(gateway);
      await untilSignal(gateway);
    });
}

/** `--check`: one line on stdout when the configuration is valid; the file, line and rule of the first problem otherwise. */
async function check(path: string): Promise<void> {
  try {
    const { summary } = await checkConfig(path, systemClock);
    process.stdout.write(`${summary}\n`);
  } catch (err) {
    if (!(err instanceof ConfigInvalid)) throw err;
    process.stderr.write(`hopscope: ${describeProblem(err.first)}\n`);
    throw new ExitStatus(1);
  }
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
  return new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`hopscope: ${signal} received, ending sessions and sealing recordings\n`);
      void gateway.stop().then(() => onStop?.()).finally(resolve);
    };
    // SIGHUP reloads the policies; the gateway logs the outcome, and this line says it where a person reads.
    const reload = () => {
      void gateway.reload().then((outcome) => process.stderr.write(outcome.applied
        ? `hopscope: SIGHUP: policies reloaded from ${outcome.file} (generation ${outcome.generation})\n`
        : `hopscope: SIGHUP: reload refused, the policies in force stay: ${describeProblem(outcome.problem)}\n`));
    };
    process.on('SIGHUP', reload);
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  }).finally(() => process.removeAllListeners('SIGHUP'));
}
