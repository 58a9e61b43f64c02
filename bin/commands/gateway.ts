import type { Command } from 'commander';
import { systemClock } from '../../common/clock.js';
import { ConfigInvalid, describeProblem, type LoadedConfig } from '../../gateway/config.js';
import { checkConfig, loadConfig, startGateway, type RunningGateway } from '../../gateway/index.js';
import { createLogger } from '../../gateway/log.js';
import { asWorker, isWorkerProcess, prepareSharedKeys, runWorkerPool, type WorkerReady } from '../../gateway/workers.js';
import { ExitStatus, UsageError } from '../main.js';

export function registerGateway(program: Command): void {
  program
    .command('gateway')
    .description('run the gateway headless until SIGTERM (drains, seals recordings); SIGHUP reloads its policies')
    .requiredOption('--config <file>', 'gateway configuration (YAML)')
    .option('--check', 'validate the configuration (rules compiled, secret files present) and exit: 0 and a summary, or 1 and the first problem')
    .option('--workers <n>', 'run N gateway processes behind the same listeners, each a member of the fleet (needs controlPlane)', '1')
    .action(async (opts: { config: string; check?: boolean; workers: string }) => {
      if (opts.check) return check(opts.config);
      const workers = Number(opts.workers);
      if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new UsageError(`--workers takes a whole number from 1 to 256, not ${opts.workers}`);
      const config = loadConfig(opts.config);
      // A forked worker runs this same command line (the cluster module re-runs the CLI).
      if (isWorkerProcess()) return serveAsWorker(config);
      if (workers > 1) return serveWithWorkers(config, opts.config, workers);
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

/**
 * The primary of `--workers N` (gateway/workers.ts). Workers above one are only consistent as members of a fleet
 * (revocations, approvals, lineage and live sessions cross processes through the control plane), so without
 * controlPlane nothing is started. The shared keys are created here, before any worker exists.
 */
async function serveWithWorkers(config: LoadedConfig, path: string, count: number): Promise<void> {
  if (!config.controlPlane) {
    throw new UsageError(`--workers ${count} needs a fleet: ${path} has no controlPlane section. Each worker is a member of the fleet `
      + '(revocations, approvals and sessions cross workers through the control plane); add controlPlane, or run without --workers');
  }
  prepareSharedKeys(config);
  const logger = createLogger();
  const say = (line: string) => process.stderr.write(`hopscope: ${line}\n`);
  const status = await runWorkerPool(config, count, logger, {
    say,
    running: (workers) => printWorkers(workers),
  });
  say(status === 0 ? 'every worker stopped, recordings sealed' : 'every worker stopped; the lines above say which one could not start or did not stop cleanly');
  if (status !== 0) throw new ExitStatus(status);
}

/**
 * One worker: its gateway under its own fleet name and recording folder. Signals are caught before it starts
 * (the primary forwards SIGTERM and SIGHUP at any time, and their default would end the process with its
 * recordings open) and acted on once it runs.
 */
async function serveAsWorker(config: LoadedConfig): Promise<void> {
  const worker = asWorker(config);
  const signals = catchSignals(true);
  let gateway: RunningGateway;
  try {
    gateway = await startGateway(worker.config, { logger: createLogger().child({ worker: worker.name }) });
  } catch (err) {
    signals.release();
    await worker.failed(err);
    throw new ExitStatus(1); // the primary says why, with the worker's name
  }
  await worker.ready(gateway);
  await untilSignal(gateway, undefined, { signals, label: `${worker.name}: ` });
  worker.leave();
}

function printWorkers(workers: WorkerReady[]): void {
  const first = workers[0]!;
  printListening({ postgres: first.postgres, ssh: first.ssh, admin: { url: first.admin }, signer: { keyId: first.keyId } }, `${workers.length} workers`);
  const lines = workers.map((w) => `  worker ${w.name}  pid ${w.pid}  recordings ${w.recordings}`);
  process.stderr.write(`${lines.join('\n')}\n`);
}

type Listening = Pick<RunningGateway, 'postgres' | 'ssh'> & { admin: { url: string }; signer: { keyId: string } };

export function printListening(gateway: Listening, what?: string): void {
  const lines = [`hopscope gateway running${what ? `, ${what}` : ''}`];
  if (gateway.postgres) lines.push(`  postgres  ${gateway.postgres.host}:${gateway.postgres.port}`);
  if (gateway.ssh) lines.push(`  ssh       ${gateway.ssh.host}:${gateway.ssh.port}`);
  lines.push(`  admin     ${gateway.admin.url}  (bearer token in keys.dir/admin.token)`);
  lines.push(`  signing key ${gateway.signer.keyId}`);
  process.stderr.write(`${lines.join('\n')}\n`);
}

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
type Signal = (typeof SIGNALS)[number];

/**
 * Catches SIGTERM, SIGINT and SIGHUP from now on; those that come before `handle` are held for it. `repeat`:
 * keep catching a stop signal after the first (a worker may get SIGTERM twice, from its process group and from
 * the primary); otherwise a second one of a kind has its default effect (a second Ctrl-C ends the process).
 */
function catchSignals(repeat = false) {
  const held: Signal[] = [];
  let handler: ((signal: Signal) => void) | undefined;
  const on = (signal: Signal) => {
    if (!repeat && signal !== 'SIGHUP') process.removeListener(signal, on);
    if (handler) handler(signal);
    else held.push(signal);
  };
  for (const s of SIGNALS) process.on(s, on);
  return {
    handle(h: (signal: Signal) => void) {
      handler = h;
      for (const s of held.splice(0)) h(s);
    },
    release() {
      for (const s of SIGNALS) process.removeListener(s, on);
    },
  };
}

/** Resolves after SIGTERM or SIGINT once the gateway has sealed its recordings. */
export function untilSignal(gateway: RunningGateway, onStop?: () => Promise<void>, opts: { signals?: ReturnType<typeof catchSignals>; label?: string } = {}): Promise<void> {
  const signals = opts.signals ?? catchSignals();
  const say = (line: string) => process.stderr.write(`hopscope: ${opts.label ?? ''}${line}\n`);
  let stopping = false;
  return new Promise<void>((resolve) => {
    signals.handle((signal) => {
      // SIGHUP reloads the policies; the gateway logs the outcome, and this line says it where a person reads.
      if (signal === 'SIGHUP') {
        void gateway.reload().then((outcome) => say(outcome.applied
          ? `SIGHUP: policies reloaded from ${outcome.file} (generation ${outcome.generation})`
          : `SIGHUP: reload refused, the policies in force stay: ${describeProblem(outcome.problem)}`));
        return;
      }
      if (stopping) return;
      stopping = true;
      say(`${signal} received, ending sessions and sealing recordings`);
      void gateway.stop().then(() => onStop?.()).finally(resolve);
    });
  }).finally(() => signals.release());
}
