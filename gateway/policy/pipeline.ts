import type { Clock } from '../../common/clock.js';
import { parseDuration } from '../../common/tokens/index.js';
import type { LoadedConfig } from '../config.js';
import { ApprovalBroker } from './approvals.js';
import { loadSqlParser, SqlGuards } from './guardrails.js';
import { Masker } from './masking.js';
import { Provenance } from './provenance/index.js';
import { compileGuardrails, compileMasking } from './rules.js';
import { loadShellParser, ShellJudge } from './shell/index.js';
import { SqlSession } from './sql-policy.js';
import type { PolicyPipeline } from './types.js';

export interface Policies {
  pipeline: PolicyPipeline;
  approvals: ApprovalBroker;
}

/** Compiles the rules of a configuration (stopping at the first bad one) and loads the SQL parser. */
export async function createPolicies(config: LoadedConfig, clock: Clock): Promise<Policies> {
  const masking = compileMasking(config.masking, config.source);
  const guardrails = compileGuardrails(config.guardrails, config.source);
  const sql = new SqlGuards(guardrails, config.sql);
  // Every PostgreSQL session is judged (the built-in client-encoding rule holds with no rules at all).
  await loadSqlParser();
  const masker = new Masker(masking);
  // SSH guardrails judge on the bash grammar (WebAssembly): loaded only when a rule or a shell default needs it.
  const shell = new ShellJudge(guardrails, config.shell);
  if (shell.needsParser) await loadShellParser();
  const provenance = new Provenance(masking, config.sql.trustedFunctions);
  const approvals = new ApprovalBroker(parseDuration(config.approvals.timeout) * 1000, clock);
  return {
    approvals,
    pipeline: {
      // Stateless and without a catalog (EXECUTE of a name → the dynamic default); sessions use sqlSession.
      judgeSql: (ctx, text) => sql.judgeText(ctx, text),
      // The guard always exists: its built-in rules (client-encoding, standard-conforming-strings) hold with no SQL rules.
      sqlSession: (ctx, catalog) => new SqlSession(ctx, catalog,
        sql.forSession(ctx),
        provenance.forSession(ctx.identity, ctx.target)),
      // Masking by provenance reads the target's catalog whenever a column rule is in scope.
      // Guardrails read it to tell user-defined functions from built-ins when unseen SQL is not allowed.
      needsCatalog: (ctx) => masker.hasColumnRules(ctx.identity, ctx.target) || sql.needsCatalog(ctx),
      judgeCommand: (ctx, command, opts) => shell.judge(ctx, command, opts),
      maskText: (text) => masker.maskText(text),
      masksText: masking.some((r) => r.pattern),
      maskerFor: (ctx) => masker.forSession(ctx.identity, ctx.target),
      requestApproval: (ctx, operation, rule, signal) => approvals.request(ctx, operation, rule, signal),
    },
  };
}
