import type { CatalogSnapshot } from '../catalog.js';
import { inScope, type CompiledMasking } from '../rules.js';
import type { ParsedSql, SessionProvenance } from '../sql-policy.js';
import type { SqlVerdict } from '../types.js';
import { ProtectionRules } from './protection.js';
import { SqlText, type Edit } from './splice.js';
import { Walker, type CreatedName } from './walk.js';

const PLAN_CACHE_SIZE = 10_000;

interface CachedPlan {
  version: number;
  verdict: SqlVerdict;
  creates: CreatedName[];
  edits: readonly Edit[];
}

/** The rules of one scope (identity × target) and the plans made under them, shared by its sessions. */
class ScopePlans {
  private readonly cache = new Map<string, CachedPlan>();

  constructor(readonly rules: ProtectionRules) {}

  get(sql: string, version: number): CachedPlan | undefined {
    const hit = this.cache.get(sql);
    if (hit?.version !== version) return undefined;
    this.cache.delete(sql); // LRU: keep recent entries at the end
    this.cache.set(sql, hit);
    return hit;
  }

  set(sql: string, plan: CachedPlan): void {
    if (this.cache.size >= PLAN_CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(sql, plan);
  }
}

/**
 * Masking by provenance for one session: each reference to a protected relation
 * is rewritten into a masked projection before the statement is forwarded, so
 * whatever the statement computes from a protected column it computes from the
 * mask. Plans are cached per (text, catalog version) and shared within a scope;
 * a statement that touches no protected relation is forwarded as it came.
 */
export class ProvenanceSession implements SessionProvenance {
  /** Relations this session's own statements created: their contents came through rewritten statements. */
  private readonly created: CreatedName[] = [];
  last: { edits: readonly Edit[]; sessionFree: boolean } | undefined;

  constructor(private readonly scope: ScopePlans) {}

  plan(parsed: ParsedSql & { stmts: object[] }, sql: string, catalog: CatalogSnapshot | undefined, refreshed: boolean): SqlVerdict {
    this.last = undefined;
    const rules = this.scope.rules;
    if (!catalog) {
      return refreshed
        ? { action: 'block', rule: 'masking-provenance', reason: `the target's catalog could not be read, so column masking (${rules.ruleNames}) cannot be applied` }
        : { action: 'refresh' };
    }
    const hit = this.scope.get(sql, catalog.version);
    if (hit) {
      this.created.push(...hit.creates);
      if (hit.verdict.action === 'allow') this.last = { edits: hit.edits, sessionFree: hit.creates.length === 0 };
      return hit.verdict;
    }
    const text = new SqlText(sql);
    const walker = new Walker(catalog, rules, text);
    let forward: string | undefined;
    try {
      for (const { stmt } of parsed.stmts as { stmt: object }[]) walker.walk(stmt, '', new Set());
      const { edits, refusal } = walker.found;
      if (!refusal && edits.length > 0) forward = text.apply(edits);
    } catch (err) {
      return { action: 'block', rule: 'masking-provenance', reason: `the gateway could not plan the masked rewrite: ${(err as Error).message}` };
    }
    const { refusal, unknownRelations, unknownFunctions, creates } = walker.found;
    if (refusal) {
      const verdict: SqlVerdict = { action: 'block', ...refusal };
      this.scope.set(sql, { version: catalog.version, verdict, creates: [], edits: [] });
      return verdict;
    }
    const known = [...this.created, ...creates];
    const unresolved = [
      ...unknownRelations.filter((u) => !known.some((c) => c.name === u.name && (!u.schema || !c.schema || c.schema === u.schema)))
        .map((u) => (u.schema ? `${u.schema}.${u.name}` : u.name)),
      ...unknownFunctions,
    ];
    if (unresolved.length > 0) {
      if (!refreshed) return { action: 'refresh' };
      return {
        action: 'block', rule: 'masking-provenance',
        reason: `the gateway cannot resolve ${unresolved.join(', ')}, so it cannot prove no protected column (${rules.ruleNames}) is read`,
      };
    }
    this.created.push(...creates);
    const verdict: SqlVerdict = forward === undefined ? { action: 'allow' } : { action: 'allow', forward };
    const edits = forward === undefined ? [] : walker.found.edits;
    this.last = { edits, sessionFree: unknownRelations.length === 0 && creates.length === 0 };
    // A plan that leaned on this session's own relations is this session's alone.
    if (unknownRelations.length === 0) this.scope.set(sql, { version: catalog.version, verdict, creates, edits });
    return verdict;
  }

  protectedColumn(tableOid: number, attnum: number, catalog: CatalogSnapshot | undefined): string | undefined {
    if (!catalog) return undefined;
    return this.scope.rules.protection(catalog).columns.get(tableOid)?.get(attnum);
  }
}

/** Masking by provenance for every session of a gateway: one rule set and plan cache per scope. */
export class Provenance {
  private readonly scopes = new Map<string, ScopePlans>();

  constructor(private readonly masking: readonly CompiledMasking[], private readonly trustedFunctions: readonly string[]) {}

  /** The session's provenance planner, or undefined when no column rule nor source-pattern rule is in scope for it. */
  forSession(identity: string, target: string): ProvenanceSession | undefined {
    const rules = this.masking.filter((r) => (r.source || r.sourceColumns) && inScope(r, identity, target));
    if (rules.length === 0) return undefined;
    const key = rules.map((r) => r.name).join('\u0000');
    let scope = this.scopes.get(key);
    if (!scope) this.scopes.set(key, (scope = new ScopePlans(new ProtectionRules(rules, this.trustedFunctions))));
    return new ProvenanceSession(scope);
  }
}
