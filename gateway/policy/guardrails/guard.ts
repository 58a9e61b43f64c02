import type { CatalogSnapshot } from '../catalog.js';
import { inScope, type CompiledGuardrail } from '../rules.js';
import type { CompiledSqlMatcher } from '../sql-matcher.js';
import { parseSql, type GuardMemory, type ParsedSql, type SessionGuard } from '../sql-policy.js';
import type { PolicyContext, SqlVerdict, Verdict } from '../types.js';
import { collectText } from './collect.js';
import { where, type StatementFacts, type TextFacts } from './facts.js';
import { LEXING_WORDS } from './lexing-words.js';
import { RoutineClassifier } from './routines.js';

export type GuardAction = 'allow' | 'review' | 'block';

export interface SqlGuardConfig {
  /** `sql.dynamic` of the configuration; unset: see SqlGuards.dynamicDefault. */
  dynamic?: GuardAction;
  trustedFunctions: readonly string[];
}

const SEVERITY = { allow: 0, review: 1, block: 2 } as const;
const FACTS_CACHE_SIZE = 10_000;
const MAX_PREPARED = 1_000;
/** Texts kept per prepared name (re-prepared after a Close the gateway does not see); beyond, the name counts as unknown. */
const MAX_TEXTS_PER_NAME = 4;
const MAX_EXECUTE_DEPTH = 8;

const factsCache = new Map<string, TextFacts>();

/** The facts of a parsed text, derived once per text (LRU): a repeated statement is a cache hit. */
export function factsOf(sql: string, stmts: NonNullable<ParsedSql['stmts']>): TextFacts {
  const hit = factsCache.get(sql);
  if (hit) {
    factsCache.delete(sql);
    factsCache.set(sql, hit);
    return hit;
  }
  const facts = collectText(sql, stmts, []);
  if (factsCache.size >= FACTS_CACHE_SIZE) factsCache.delete(factsCache.keys().next().value!);
  factsCache.set(sql, facts);
  return facts;
}

/** Statement types that change data or schema: a rule naming one makes unseen SQL matter. */
const CHANGING = /^(Insert|Update|Delete|Merge|Truncate|Drop|Alter|Rename|Copy|Reassign|Create|Define|Refresh|Reindex|Cluster|Vacuum|Grant|Comment|SecLabel|Import|Index|Rule|View|Do|Call|Execute|Lock|Load)/;

/** The SQL guardrails of one gateway: compiled rules and the `sql:` configuration; one guard per session. */
export class SqlGuards {
  private readonly rules: CompiledGuardrail[];
  private readonly routines: RoutineClassifier;

  constructor(rules: CompiledGuardrail[], private readonly config: SqlGuardConfig) {
    this.rules = rules.filter((r) => r.sql);
    this.routines = new RoutineClassifier(config.trustedFunctions);
  }

  /**
   * What SQL the gateway cannot see gets: `sql.dynamic` when set; otherwise
   * `review` when any block/review rule in scope guards data-changing or
   * destructive SQL (names a changing statement type, withoutWhere, copyProgram
   * or operations, or names no statement type at all, so it covers them), else `allow`.
   */
  dynamicDefault(identity: string, target: string): GuardAction {
    if (this.config.dynamic) return this.config.dynamic;
    const guarding = this.rules.some((r) => r.action !== 'allow' && inScope(r, identity, target) && changing(r.sql!));
    return guarding ? 'review' : 'allow';
  }

  /** The catalog tells user-defined functions from built-ins; it matters when unseen SQL is not allowed. */
  needsCatalog(ctx: Pick<PolicyContext, 'identity' | 'target'>): boolean {
    return this.dynamicDefault(ctx.identity, ctx.target) !== 'allow';
  }

  /** One session's guard (exists even with no rules: the built-in lexing rules always apply). */
  forSession(ctx: Pick<PolicyContext, 'identity' | 'target'>): SqlGuard {
    const rules = this.rules.filter((r) => inScope(r, ctx.identity, ctx.target));
    return new SqlGuard(rules, this.dynamicDefault(ctx.identity, ctx.target), this.routines);
  }

  /** Judges one text with no session state and no catalog (the interim `judgeSql`). */
  judgeText(ctx: Pick<PolicyContext, 'identity' | 'target'>, sql: string): Verdict {
    const parsed = parseSql(sql);
    if (parsed.error !== undefined) return { action: 'block', rule: 'sql-parse', reason: `the SQL does not parse: ${parsed.error}` };
    const verdict = this.forSession(ctx).judge(parsed, sql, undefined, true, undefined);
    return verdict.action === 'refresh' ? { action: 'allow' } : verdict.action === 'allow' ? { action: 'allow' } : verdict;
  }
}

function changing(m: CompiledSqlMatcher): boolean {
  return !m.statements || m.withoutWhere || m.copyProgram || !!m.operations || [...m.statements].some((s) => CHANGING.test(s));
}

interface Judgement {
  worst: Verdict;
  unknown: string[];
  /** PREPARE/DEALLOCATE of this text, applied to the session once judged: name → texts, null = deallocated. */
  overlay: Map<string, TextFacts[] | null>;
  cleared: boolean;
}

/**
 * The guardrails of one PostgreSQL session. Judges every statement of a text
 * (nested ones as if top level) against the rules in scope, refuses changes of
 * how the server reads the client's text (built-in rules `client-encoding`,
 * `standard-conforming-strings`), and gives SQL it cannot see the dynamic
 * default (rule `sql-dynamic`). It remembers what each prepared name (SQL
 * PREPARE or a protocol Parse) was judged as, so `EXECUTE name` is judged as
 * its statement; an unknown name gets the dynamic default.
 */
export class SqlGuard implements SessionGuard {
  private readonly prepared = new Map<string, TextFacts[]>();
  /** Functions this session created through the gateway (their bodies were judged then): triggers may run them. */
  private readonly created = new Set<string>();

  constructor(private readonly rules: CompiledGuardrail[], readonly dynamic: GuardAction, private readonly routines: RoutineClassifier) {}

  /**
   * True when judging `sql` cannot refuse it, decided without parsing: no rule
   * is in scope, unseen SQL is allowed, and the text cannot name client_encoding,
   * NAMES, standard_conforming_strings or set_config — not even through a
   * Unicode-escaped identifier (U&"…") or an escaped string body (a backslash).
   * A session with no SQL rules can then skip the parse (about 50 µs a text).
   */
  quiet(sql: string): boolean {
    return this.rules.length === 0 && this.dynamic === 'allow' && !LEXING_WORDS.test(sql);
  }

  /**
   * True when the verdict on `sql` (just judged) depends on nothing this session
   * did: it prepares, executes and deallocates nothing, creates no function and
   * runs no trigger (a trigger's function may be one this session created).
   */
  sessionFree(sql: string, parsed: ParsedSql & { stmts: object[] }): boolean {
    const facts = factsOf(sql, parsed.stmts as NonNullable<ParsedSql['stmts']>);
    return facts.steps.length === 0 && facts.created.size === 0 && !facts.calls.some((c) => c.trigger);
  }

  judge(parsed: ParsedSql & { stmts: object[] }, sql: string, catalog: CatalogSnapshot | undefined, refreshed: boolean, prepareAs: string | undefined): SqlVerdict {
    const facts = factsOf(sql, parsed.stmts as NonNullable<ParsedSql['stmts']>);
    const j: Judgement = { worst: { action: 'allow' }, unknown: [], overlay: new Map(), cleared: false };
    this.evaluate(facts, catalog, j, 0, '');
    if (j.worst.action !== 'block' && j.unknown.length > 0) {
      if (!refreshed) return { action: 'refresh' };
      for (const u of j.unknown) this.dynamicSql(j, `${u} (not in the target's catalog: treated as user-defined)`);
    }
    if (j.worst.action !== 'block') this.commit(j, prepareAs, facts);
    return j.worst;
  }

  private evaluate(facts: TextFacts, catalog: CatalogSnapshot | undefined, j: Judgement, depth: number, prefix: string): void {
    for (const l of facts.lexing) consider(j, { action: 'block', rule: l.rule, reason: prefix + l.reason });
    for (const f of facts.statements) {
      const rule = this.rules.find((r) => matches(r.sql!, f));
      if (rule && rule.action !== 'allow') consider(j, { action: rule.action, rule: rule.name, reason: prefix + describe(rule.sql!, f) });
    }
    if (this.dynamic !== 'allow') {
      for (const d of facts.dynamic) this.dynamicSql(j, prefix + d);
      for (const call of facts.calls) {
        // A trigger's function created through this session: its body was judged where it was created.
        if (call.trigger && (facts.created.has(call.name) || this.created.has(call.name))) continue;
        const kind = this.routines.classify(call, catalog);
        const name = call.schema ? `${call.schema}.${call.name}` : call.name;
        const what = `${prefix}${call.trigger ? 'a trigger running' : 'a call of'} user-defined function ${name}${where(call.via)}`;
        if (kind === 'user') this.dynamicSql(j, what);
        else if (kind === 'unknown') j.unknown.push(what);
      }
      for (const op of facts.operators) {
        const fn = this.routines.operatorCall(op, catalog);
        if (fn) this.dynamicSql(j, `${prefix}operator ${op}, which calls user-defined function ${fn}`);
      }
    }
    for (const step of facts.steps) {
      if (step.kind === 'prepare') {
        const known = this.lookup(j, step.name) ?? [];
        j.overlay.set(step.name, known.length >= MAX_TEXTS_PER_NAME ? [] : [...known, step.body]);
      } else if (step.kind === 'deallocate') {
        if (step.name === undefined) {
          j.overlay.clear();
          j.cleared = true;
        } else {
          j.overlay.set(step.name, null);
        }
      } else {
        const bodies = this.lookup(j, step.name);
        if (!bodies?.length || depth >= MAX_EXECUTE_DEPTH) {
          this.dynamicSql(j, `EXECUTE ${step.name}, a statement the gateway did not see prepared${where(step.via)}`);
        } else {
          for (const body of bodies) this.evaluate(body, catalog, j, depth + 1, `EXECUTE ${step.name} runs `);
        }
      }
    }
  }

  private dynamicSql(j: Judgement, what: string): void {
    if (this.dynamic !== 'allow') consider(j, { action: this.dynamic, rule: 'sql-dynamic', reason: `SQL the gateway cannot see: ${what}` });
  }

  private lookup(j: Judgement, name: string): TextFacts[] | undefined {
    if (j.overlay.has(name)) return j.overlay.get(name) ?? undefined;
    return j.cleared ? undefined : this.prepared.get(name);
  }

  /** Applies the text's PREPARE/DEALLOCATE (and a protocol Parse's name) to the session. */
  private commit(j: Judgement, prepareAs: string | undefined, facts: TextFacts): void {
    if (j.cleared) this.prepared.clear();
    for (const name of facts.created) {
      if (this.created.size >= MAX_PREPARED) this.created.delete(this.created.values().next().value!);
      this.created.add(name);
    }
    for (const [name, texts] of j.overlay) {
      this.prepared.delete(name);
      if (texts) this.remember(name, texts);
    }
    // The unnamed statement ('') cannot be run by SQL EXECUTE.
    if (prepareAs) {
      const known = this.prepared.get(prepareAs) ?? [];
      this.prepared.delete(prepareAs);
      this.remember(prepareAs, known.length >= MAX_TEXTS_PER_NAME ? [] : [...known, facts]);
    }
  }

  memory(): GuardMemory {
    return { prepared: new Map(this.prepared), created: new Set(this.created) };
  }

  adopt(memory: GuardMemory): void {
    for (const [name, texts] of memory.prepared) this.remember(name, [...texts]);
    for (const name of memory.created) this.created.add(name);
  }

  private remember(name: string, texts: TextFacts[]): void {
    // Forgetting a name is safe: EXECUTE of an unknown name gets the dynamic default.
    if (this.prepared.size >= MAX_PREPARED) this.prepared.delete(this.prepared.keys().next().value!);
    this.prepared.set(name, texts);
  }
}

function consider(j: Judgement, verdict: Verdict): void {
  if (SEVERITY[verdict.action] > SEVERITY[j.worst.action]) j.worst = verdict;
}

export function matches(m: CompiledSqlMatcher, f: StatementFacts): boolean {
  if (m.statements && !m.statements.has(f.type)) return false;
  if (m.withoutWhere && !f.unbounded) return false;
  if (m.functions && ![...f.functions].some((fn) => m.functions!.has(fn))) return false;
  if (m.tables && !f.tables.some((t) => m.tables!.some((g) => g.test(t) || g.test(t.split('.').pop()!)))) return false;
  if (m.copyProgram && !f.copyProgram) return false;
  if (m.operations && ![...m.operations].some((op) => f.operations.has(op))) return false;
  return true;
}

function describe(m: CompiledSqlMatcher, f: StatementFacts): string {
  const parts = [f.type];
  if (m.withoutWhere) parts.push('without a WHERE that restricts rows');
  if (m.operations) parts.push(`doing ${[...f.operations].filter((o) => m.operations!.has(o)).join(', ')}`);
  if (m.functions) parts.push(`calling ${[...f.functions].filter((x) => m.functions!.has(x)).join(', ')}`);
  if (m.tables) parts.push(`on ${[...new Set(f.tables)].join(', ')}`);
  if (m.copyProgram) parts.push('to or from a program');
  return parts.join(' ') + where(f.via);
}
