import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Clock } from '../../common/clock.js';
import { ConfigInvalid, parseConfig, readConfigDocument, type ConfigDocument, type LoadedConfig, type Secret } from '../config.js';
import { compileGuardrails, compileMasking, createPolicies, type Policies } from '../policy/index.js';

export interface CheckedConfig {
  config: LoadedConfig;
  policies: Policies;
  /** One line: what the configuration holds. */
  summary: string;
}

/**
 * Validates a configuration file as the gateway would load it — the schema,
 * targets and identities, every masking rule and guardrail compiled (the SQL
 * and shell parsers loaded as needed), the TLS files present — and
 * throws ConfigInvalid located at the first problem: file, line, rule or path.
 * Secrets from environment variables are not read (the service's environment
 * may differ from the checker's); they are counted in the summary.
 */
export async function checkConfig(path: string, clock: Clock): Promise<CheckedConfig> {
  const doc = readConfigDocument(path);
  const config = parseConfig(doc.raw, dirname(doc.source), path, doc.lineOf);
  locateRuleProblem(doc, config, path);
  let policies: Policies;
  try {
    policies = await createPolicies(config, clock);
  } catch (err) {
    if (err instanceof ConfigInvalid) throw err;
    const problem = withoutFile((err as Error).message, path);
    throw new ConfigInvalid(`${path}: ${problem}`, { file: path, line: undefined, where: '(policies)', problem });
  }
  const { fromEnv, missing } = checkSecretFiles(doc, config, path);
  const listeners = Object.entries(config.listeners).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`);
  const summary = `${path}: ok: ${config.targets.length} targets, ${config.identities.length} identities, `
    + `${config.masking.length} masking rules, ${config.guardrails.length} guardrails; `
    + `listeners ${listeners.join(', ') || 'none'}, admin ${config.admin.listen}`
    + `${config.controlPlane ? `; fleet member ${config.controlPlane.gatewayName} (control plane not contacted here)` : ''}`
    + `${fromEnv ? `; ${fromEnv} secrets from the environment (not read here)` : ''}`
    + `${missing.length ? `; target secret files missing (sessions to those targets will fail): ${missing.join(', ')}` : ''}`;
  return { config, policies, summary };
}

/** Compiles each rule alone, so that the first one that does not compile is named with its line. */
function locateRuleProblem(doc: ConfigDocument, config: LoadedConfig, path: string): void {
  const lists = [['masking', config.masking, compileMasking], ['guardrails', config.guardrails, compileGuardrails]] as const;
  for (const [list, rules, compile] of lists) {
    rules.forEach((rule, i) => {
      try {
        compile([rule], path);
      } catch (err) {
        const name = typeof rule.name === 'string' ? ` (rule ${rule.name})` : '';
        const problem = withoutFile((err as Error).message, path).replace(/ rule #1:/, ` rule #${i + 1}:`);
        const line = doc.lineOf([list, i]);
        throw new ConfigInvalid(`${path}${line ? `:${line}` : ''}: ${problem}`, { file: path, line, where: `${list}[${i}]${name}`, problem });
      }
    });
  }
}

/**
 * TLS files must exist (the gateway reads them at start). A target's secret file is read when a session
 * connects: one missing is named in the summary (the target is unusable until it exists), not an error.
 * Returns how many secrets come from the environment, and the target secret files missing.
 */
function checkSecretFiles(doc: ConfigDocument, config: LoadedConfig, path: string): { fromEnv: number; missing: string[] } {
  let fromEnv = 0;
  const missing: string[] = [];
  const check = (secret: Secret | undefined, at: (string | number)[], required: boolean) => {
    if (!secret) return;
    if ('env' in secret) {
      fromEnv++;
      return;
    }
    if (existsSync(secret.file)) return;
    const where = at.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('').slice(1);
    if (!required) {
      missing.push(`${where} ${secret.file}`);
      return;
    }
    const line = doc.lineOf(at);
    const problem = `secret file not found: ${secret.file}`;
    throw new ConfigInvalid(`${path}${line ? `:${line}` : ''}: ${where}: ${problem}`, { file: path, line, where, problem });
  };
  if (config.tls) {
    check(config.tls.cert, ['tls', 'cert'], true);
    check(config.tls.key, ['tls', 'key'], true);
  }
  // The gateway reads the control plane's connection string at start: a missing file stops it there.
  const cp = config.controlPlane?.postgres;
  if (cp !== undefined && typeof cp !== 'string') check(cp, ['controlPlane', 'postgres'], true);
  config.targets.forEach((t, i) => check(t.type === 'ssh' ? t.privateKey : t.password, ['targets', i, t.type === 'ssh' ? 'privateKey' : 'password'], false));
  return { fromEnv, missing };
}

const withoutFile = (message: string, path: string) => (message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message);
