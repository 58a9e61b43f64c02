import { loadModule } from 'libpg-query';

/** SQL guardrails: one guard per PostgreSQL session (gateway/policy/guardrails/). */
export { SqlGuard, SqlGuards, OPERATIONS, type GuardAction, type SqlGuardConfig } from './guardrails/index.js';

let loaded: Promise<void> | undefined;
/** The parser is WebAssembly: load it once before the first judgement. */
export function loadSqlParser(): Promise<void> {
  return (loaded ??= loadModule());
}
