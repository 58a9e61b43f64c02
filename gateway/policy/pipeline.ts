import type { Clock } from '../../common/clock.js';
import { parseDuration } from '../../common/tokens/index.js';
import type { LoadedConfig } from '../config.js';
import { ApprovalBroker } from './approvals.js';
import { loadSqlParser, SqlJudge } from './guardrails.js';
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
  const sql = new SqlJudge(guardrails);
  const columnRules = masking.some((r) => r.column);
  if (sql.hasRules || columnRules) await loadSqlParser();
  const masker = new Masker(masking);
  // SSH guardrails judge on the bash grammar (WebAssembly): loaded only when a rule or a shell default needs it.
  const shell = new ShellJudge(guardrails, config.shell);
  if (shell.needsParser) await loadShellParser();
  const provenance = new Provenance(masking, config.sql.trustedFunctions);
  const approvals = new ApprovalBroker(parseDuration(config.approvals.timeout) * 1000, clock);
  return {
    approvals,
    pipeline: {
      judgeSql: (ctx, text) => {
        const columnMasking = masker.hasColumnRules(ctx.identity, ctx.target);
        return sql.needed(columnMasking) ? sql.judge(ctx, text, columnMasking) : { action: 'allow' };
      },
      // Interim wiring: the pg-guardrails work package replaces the guard with one
      // that keeps session state; the pg-provenance one adds masking by provenance.
      sqlSession: (ctx, catalog) => new SqlSession(ctx, catalog,
        sql.hasRules ? { judge: (_parsed, text) => sql.judge(ctx, text, false) } : undefined,
        provenance.forSession(ctx.identity, ctx.target)),
      // Masking by provenance reads the target's catalog whenever a column rule is in scope.
      needsCatalog: (ctx) => masker.hasColumnRules(ctx.identity, ctx.target),
      judgeCommand: (ctx, command, opts) => shell.judge(ctx, command, opts),
      maskText: (text) => masker.maskText(text),
      masksText: masking.some((r) => r.pattern),
      maskerFor: (ctx) => masker.forSession(ctx.identity, ctx.target),
      requestApproval: (ctx, operation, rule, signal) => approvals.request(ctx, operation, rule, signal),
    },
  };
}
