import { isDeepStrictEqual } from 'node:util';
import type { Clock } from '../../common/clock.js';
import { EventType } from '../../common/recording/index.js';
import { ConfigInvalid, describeProblem, readConfigDocument, type ConfigProblem, type LoadedConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { PolicyPipeline } from '../policy/index.js';
import type { AuditLog } from '../recording/index.js';
import { checkConfig } from './check.js';
import type { LivePolicies, Reach } from './live-policies.js';
import type { GatewayMetrics } from './metrics.js';

/** What a reload replaces; the other sections are bound at start (sockets, files, keys, upstreams) and need a restart. */
export const RELOADED_SECTIONS = ['masking', 'guardrails', 'identities', 'sql', 'shell', 'tokens'] as const;
const RESTART_SECTIONS = ['recording', 'keys', 'admin', 'listeners', 'tls', 'targets', 'approvals', 'controlPlane'] as const;

export type ReloadOutcome =
  | { applied: true; generation: number; file: string }
  | { applied: false; file: string; problem: ConfigProblem; message: string };

export interface ReloaderDeps {
  /** The running configuration: its reloaded sections are replaced in place (admission and SSH key checks read it live). */
  config: LoadedConfig;
  live: LivePolicies;
  audit: AuditLog;
  logger: Logger;
  metrics: GatewayMetrics;
  clock: Clock;
  /** Reads the catalog of each PostgreSQL target the new rules need one for, before they are put in force. */
  readCatalogs?: (policies: PolicyPipeline, config: LoadedConfig) => Promise<void>;
}

/** Who may reach which target under a configuration's identities. */
export function reachOf(config: Pick<LoadedConfig, 'identities'>): Reach {
  const pairs = new Set(config.identities.flatMap((i) => i.targets.map((t) => `${i.name}\u0000${t}`)));
  return (identity, target) => pairs.has(`${identity}\u0000${target}`);
}

/**
 * Reloads the policies from the configuration file the gateway started with
 * (SIGHUP). The whole file is checked as at start (`checkConfig`); a file that
 * does not check, or that changes a section only a restart applies, is refused:
 * logged with its file, line and rule, and the policies in force stay. Either
 * way the reload is recorded in the gateway's audit recording and counted.
 * Reloads run one at a time, in the order asked.
 */
export class PolicyReloader {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ReloaderDeps) {}

  reload(): Promise<ReloadOutcome> {
    const next = this.queue.then(() => this.reloadNow());
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async reloadNow(): Promise<ReloadOutcome> {
    const { config, live, logger, metrics } = this.deps;
    const file = config.source;
    let outcome: ReloadOutcome;
    try {
      const checked = await checkConfig(file, this.deps.clock);
      const running = config.fromFile ?? config;
      const changed = RESTART_SECTIONS.find((s) => !isDeepStrictEqual(comparable(checked.config, s), comparable(running, s)));
      if (changed) {
        const line = readConfigDocument(file).lineOf([changed]);
        const problem = `section ${changed} changed: a restart applies it (a reload applies ${RELOADED_SECTIONS.join(', ')})`;
        throw new ConfigInvalid(`${file}${line ? `:${line}` : ''}: ${problem}`, { file, line, where: changed, problem });
      }
      const mutable = config as { -readonly [K in (typeof RELOADED_SECTIONS)[number]]: LoadedConfig[K] };
      for (const section of RELOADED_SECTIONS) mutable[section] = checked.config[section] as never;
      await this.deps.readCatalogs?.(checked.policies.pipeline, checked.config);
      const generation = live.swap(checked.policies.pipeline, reachOf(config));
      outcome = { applied: true, generation, file };
      logger.info({ file, generation }, 'policies reloaded');
    } catch (err) {
      const problem: ConfigProblem = err instanceof ConfigInvalid
        ? err.first
        : { file, line: undefined, where: '(reload)', problem: (err as Error).message };
      outcome = { applied: false, file, problem, message: (err as Error).message };
      logger.error({ file, line: problem.line, rule: problem.where, problem: problem.problem }, 'policy reload refused: the policies in force stay');
    }
    metrics.policyReloadsTotal.inc({ result: outcome.applied ? 'applied' : 'refused' });
    if (outcome.applied) metrics.policyGeneration.set({}, outcome.generation);
    this.record(outcome);
    return outcome;
  }

  /**
   * The reload in the gateway's audit recording: an applied one is a `gateway.reload` event (file, the
   * policies' generation, the sections a reload applies); a refused one a `refused` event (reason
   * CONFIG_INVALID, client `SIGHUP`, the file, line and rule in `detail`).
   */
  private record(outcome: ReloadOutcome): void {
    if (outcome.applied) {
      this.deps.audit.record(EventType.GatewayReload, { file: outcome.file, generation: outcome.generation, sections: [...RELOADED_SECTIONS] });
      return;
    }
    this.deps.audit.refused({
      protocol: 'admin', reason: 'CONFIG_INVALID', message: `policy reload refused: ${outcome.problem.problem}`, client: 'SIGHUP',
      detail: describeProblem(outcome.problem),
    });
  }
}

/** A section as loaded, for comparison (absent optional sections compare equal to each other). */
function comparable(config: LoadedConfig, section: (typeof RESTART_SECTIONS)[number]): unknown {
  return JSON.parse(JSON.stringify(config[section] ?? null)) as unknown;
}

