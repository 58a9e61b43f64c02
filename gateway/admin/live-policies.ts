import type { TargetCatalog } from '../policy/catalog.js';
import type { PolicyContext, PolicyPipeline, SessionMasker, Verdict } from '../policy/index.js';
import type { SqlSessionPolicy, SqlVerdict } from '../policy/types.js';
import type { GatewayMetrics } from './metrics.js';

/** Who may reach which target under one generation of the configuration. */
export type Reach = (identity: string, target: string) => boolean;
/** The shared catalog of a PostgreSQL target by name (the one the listener gives sessions that need one). */
export type CatalogOf = (target: string) => TargetCatalog | undefined;

interface Generation {
  number: number;
  pipeline: PolicyPipeline;
  reach: Reach;
}

/** What a session set up at its start from the policies then in force, and that a reload cannot change under it. */
interface SessionSetup {
  /** Result masking was built (PostgreSQL RowMasker) or SSH output masking was on. */
  masking: boolean | undefined;
  /** Free-text patterns were part of that masking. */
  textPatterns: boolean;
  /** The target's catalog was read (PostgreSQL: masking by provenance, rules on user functions). */
  catalog: TargetCatalog | undefined;
  /** The generation this session's refusal below was worked out for. */
  checked: number;
  /** Set when the policies in force need what the session did not set up: every new statement is refused (fail closed). */
  refusal: Verdict & { action: 'block' } | undefined;
}

const RELOAD_RULE = 'policy-reload';

/**
 * The policy pipeline the protocol adapters hold for the gateway's lifetime,
 * delegating to the policies in force. A reload (SIGHUP) swaps them; a live
 * session switches to the new ones at its next statement or command: its SQL
 * policy is made afresh from the new rules (verdicts cached under the old
 * rules are dropped), its masker reads the new rules, and its identity's reach
 * is checked again. Where the new rules need what a session set up only at its
 * start (result masking, text patterns, the target's catalog) and it did not,
 * that session's new statements are refused — it stays open, and a reconnect
 * gets the new rules in full. Approvals stay with the broker of the first
 * generation (pending holds survive a reload).
 *
 * Each judgement is timed into hopscope_policy_step_seconds.
 */
export class LivePolicies implements PolicyPipeline {
  private current: Generation;
  private readonly first: PolicyPipeline;
  private readonly sessions = new WeakMap<PolicyContext, SessionSetup>();
  private readonly sqlStep: { observe(s: number): void };
  private readonly commandStep: { observe(s: number): void };

  constructor(pipeline: PolicyPipeline, reach: Reach, metrics: GatewayMetrics, private readonly catalogOf: CatalogOf = () => undefined) {
    this.first = pipeline;
    this.current = { number: 1, pipeline, reach };
    this.sqlStep = metrics.policyStepSeconds.series({ protocol: 'postgres', step: 'sql' });
    this.commandStep = metrics.policyStepSeconds.series({ protocol: 'ssh', step: 'command' });
  }

  get generation(): number {
    return this.current.number;
  }

  /** Puts new policies in force; returns their generation number. */
  swap(pipeline: PolicyPipeline, reach: Reach): number {
    this.current = { number: this.current.number + 1, pipeline, reach };
    return this.current.number;
  }

  judgeSql(ctx: PolicyContext, sql: string): Verdict {
    return this.refusalFor(ctx) ?? this.current.pipeline.judgeSql(ctx, sql);
  }

  sqlSession(ctx: PolicyContext, catalog: TargetCatalog | undefined): SqlSessionPolicy {
    this.setupOf(ctx).catalog = catalog;
    let made = this.current.number;
    // A reload between the listener's catalog decision and this call: the shared catalog, as after a switch.
    let inner = this.current.pipeline.sqlSession(ctx, this.catalogFor(ctx));
    const step = this.sqlStep;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- read by the returned object's getter
    const live = this;
    return {
      catalog,
      judge: (sql, opts): SqlVerdict => {
        const refusal = this.refusalFor(ctx);
        if (refusal) return refusal;
        if (made !== this.current.number) {
          made = this.current.number;
          const previous = inner;
          inner = this.current.pipeline.sqlSession(ctx, this.catalogFor(ctx));
          inner.carry?.(previous); // what it prepared stays prepared at the server: EXECUTE is judged by the new rules
        }
        const t0 = performance.now();
        const verdict = inner.judge(sql, opts);
        step.observe((performance.now() - t0) / 1000);
        return verdict;
      },
      protectedColumn: (oid, attnum) => inner.protectedColumn(oid, attnum),
      get generation() { return live.current.number; },
    };
  }

  needsCatalog(ctx: Pick<PolicyContext, 'identity' | 'target'>): boolean {
    return this.current.pipeline.needsCatalog(ctx);
  }

  judgeCommand(ctx: PolicyContext, command: string, opts?: { uncertain?: boolean }): Verdict {
    const refusal = this.refusalFor(ctx);
    if (refusal) return refusal;
    const t0 = performance.now();
    const verdict = this.current.pipeline.judgeCommand(ctx, command, opts);
    this.commandStep.observe((performance.now() - t0) / 1000);
    return verdict;
  }

  maskText(text: string): ReturnType<PolicyPipeline['maskText']> {
    return this.current.pipeline.maskText(text);
  }

  get masksText(): boolean {
    return this.current.pipeline.masksText;
  }

  maskerFor(ctx: PolicyContext): SessionMasker {
    const setup = this.setupOf(ctx);
    let made = this.current.number;
    let inner = this.current.pipeline.maskerFor(ctx);
    setup.masking = inner.active;
    setup.textPatterns = inner.active && this.current.pipeline.masksText;
    const now = (): SessionMasker => {
      if (made !== this.current.number) {
        made = this.current.number;
        inner = this.current.pipeline.maskerFor(ctx);
      }
      return inner;
    };
    // `active` is what the session set up at its start (it is read once); the rest follows the rules in force.
    const active = inner.active;
    return {
      active,
      get columns() { return now().columns; },
      get columnReplacements() { return now().columnReplacements; },
      columnRules: (columns) => now().columnRules(columns),
      replacementFor: (rule) => now().replacementFor(rule),
      maskText: (text) => now().maskText(text),
      get sourcePatternReplacements() { return now().sourcePatternReplacements; },
    };
  }

  requestApproval(...args: Parameters<PolicyPipeline['requestApproval']>): ReturnType<PolicyPipeline['requestApproval']> {
    return this.first.requestApproval(...args);
  }

  /**
   * The catalog a session's SQL policy reads: its own, or — when new rules need one and it started
   * without — the target's shared catalog, if it has been read (the reload reads it before swapping).
   * The session cannot refresh an adopted catalog: names it does not know are refused (`sql-catalog`).
   */
  private catalogFor(ctx: PolicyContext): TargetCatalog | undefined {
    const setup = this.setupOf(ctx);
    if (!setup.catalog && this.current.pipeline.needsCatalog(ctx)) {
      const shared = this.catalogOf(ctx.target);
      if (shared?.snapshot) setup.catalog = shared;
    }
    return setup.catalog;
  }

  private setupOf(ctx: PolicyContext): SessionSetup {
    let setup = this.sessions.get(ctx);
    if (!setup) {
      setup = { masking: undefined, textPatterns: false, catalog: undefined, checked: this.current.number, refusal: undefined };
      this.sessions.set(ctx, setup);
    }
    return setup;
  }

  /** After a reload, once per session: whether the policies in force can still be applied to it. */
  private refusalFor(ctx: PolicyContext): (Verdict & { action: 'block' }) | undefined {
    const setup = this.sessions.get(ctx);
    if (!setup || setup.checked === this.current.number) return setup?.refusal;
    setup.checked = this.current.number;
    const { pipeline, reach, number } = this.current;
    const block = (reason: string) => ({ action: 'block' as const, rule: RELOAD_RULE, reason: `policies reloaded (generation ${number}): ${reason}` });
    if (!reach(ctx.identity, ctx.target)) {
      setup.refusal = block(`identity ${ctx.identity} may no longer reach target ${ctx.target}`);
    } else if (setup.masking !== undefined && !setup.masking && pipeline.maskerFor(ctx).active) {
      setup.refusal = block('masking now applies to this session, which started without it; reconnect to get it');
    } else if (setup.masking && !setup.textPatterns && pipeline.masksText) {
      setup.refusal = block('text masking patterns now apply to this session, which started without them; reconnect to get them');
    } else if (ctx.protocol === 'postgres' && !setup.catalog && pipeline.needsCatalog(ctx) && !this.catalogOf(ctx.target)?.snapshot) {
      setup.refusal = block('the new rules read the target\'s catalog, which could not be read; reconnect');
    } else {
      setup.refusal = undefined;
    }
    return setup.refusal;
  }
}
