import type { CatalogColumn, CatalogFunction, CatalogRelation, CatalogSnapshot } from '../catalog.js';
import { glob } from '../rule-support.js';
import type { CompiledMasking } from '../rules.js';
import { patternReaches } from './source-patterns.js';

/** Schemas whose objects are PostgreSQL's own: never protected, their functions built in. */
export const SYSTEM_SCHEMAS = new Set(['pg_catalog', 'information_schema']);

/**
 * Built-ins that run SQL given as text or read a relation by name: what they
 * read is out of the rewrite's reach (`ts_rewrite` only in its query form).
 */
const SQL_RUNNING = /^(query_to_xml.*|table_to_xml.*|cursor_to_xml.*|schema_to_xml.*|database_to_xml.*|ts_stat|dblink.*)$/;

/** Catalog relations that show column values (most common values, histograms). */
export const STATISTICS_RELATIONS = new Set(['pg_stats', 'pg_stats_ext', 'pg_stats_ext_exprs', 'pg_statistic', 'pg_statistic_ext_data']);

/** What one catalog snapshot means under one session's column rules. */
export interface Protection {
  /**
   * By relation OID: attnum → rule, for relations with at least one protected
   * column: a column rule's, or (no column rule) the first pattern rule applied
   * at the source. Both are protected alike (writes, DDL, views, RowDescription).
   */
  readonly columns: ReadonlyMap<number, ReadonlyMap<number, string>>;
  /** Columns whose projection is pattern rules' expression rather than a constant: attnum → the rules, in rule order. */
  readonly patterns: ReadonlyMap<number, ReadonlyMap<number, readonly CompiledMasking[]>>;
  /** Views and materialized views that read a protected column or call an untrusted function → why. */
  readonly taintedViews: ReadonlyMap<number, { rule: string; reason: string }>;
}

/** The column rules and source-pattern rules in scope for a session, and the functions its operator trusts. */
export class ProtectionRules {
  private readonly trusted: { schema: RegExp | undefined; name: RegExp }[];
  private cached: { version: number; protection: Protection } | undefined;

  constructor(readonly rules: readonly CompiledMasking[], trustedFunctions: readonly string[]) {
    this.trusted = trustedFunctions.map((spec) => {
      const [name, schema] = spec.split('.').reverse();
      return { name: glob(name!), schema: schema === undefined ? undefined : glob(schema) };
    });
  }

  get ruleNames(): string {
    return this.rules.map((r) => r.name).join(', ');
  }

  /** The column rule protecting a column of a relation (its own name or any ancestor's: partitions and children inherit). */
  ruleFor(snapshot: CatalogSnapshot, relation: CatalogRelation, column: string): string | undefined {
    for (const rel of lineage(snapshot, relation)) {
      const rule = this.rules.find(({ source }) => source && source.column.test(column)
        && (!source.table || source.table.test(rel.name)) && (!source.schema || source.schema.test(rel.schema)));
      if (rule) return rule.name;
    }
    return undefined;
  }

  /** The pattern rules applied at the source to a column (by its relation's name or any ancestor's), in rule order. */
  patternsFor(snapshot: CatalogSnapshot, relation: CatalogRelation, column: CatalogColumn): CompiledMasking[] {
    const rels = lineage(snapshot, relation);
    return this.rules.filter((r) => r.sourceColumns && r.sqlPattern && rels.some((rel) => patternReaches(r, column, rel)));
  }

  /** Built in: PostgreSQL's own schemas, or a member of an installed extension. */
  builtIn(fn: CatalogFunction): boolean {
    return SYSTEM_SCHEMAS.has(fn.schema) || fn.extension;
  }

  get hasTrusted(): boolean {
    return this.trusted.length > 0;
  }

  /** Whether a name would be trusted in some schema (an unqualified CREATE lands in whichever comes first). */
  trustsName(name: string): boolean {
    return this.trusted.some((t) => t.name.test(name));
  }

  isTrusted(schema: string, name: string): boolean {
    return this.trusted.some((t) => t.name.test(name) && (!t.schema || t.schema.test(schema)));
  }

  /** Why a call of this function cannot be proven not to read protected columns, or undefined. */
  functionProblem(fn: CatalogFunction, args: number): string | undefined {
    if (SQL_RUNNING.test(fn.name) || (fn.name === 'ts_rewrite' && args === 2)) {
      return `${fn.name}() runs SQL or reads a relation given as text`;
    }
    if (this.builtIn(fn) || this.isTrusted(fn.schema, fn.name)) return undefined;
    return `${fn.schema}.${fn.name}() is a user-defined function not listed in sql.trustedFunctions`;
  }

  /** The snapshot's meaning under these rules, computed once per catalog version. */
  protection(snapshot: CatalogSnapshot): Protection {
    if (this.cached?.version === snapshot.version) return this.cached.protection;
    const columns = new Map<number, Map<number, string>>();
    const patterns = new Map<number, Map<number, CompiledMasking[]>>();
    const set = <T>(into: Map<number, Map<number, T>>, rel: number, attnum: number, value: T) => {
      let map = into.get(rel);
      if (!map) into.set(rel, (map = new Map()));
      map.set(attnum, value);
    };
    const withPatterns = this.rules.some((r) => r.sourceColumns);
    for (const rel of snapshot.relations.values()) {
      if (SYSTEM_SCHEMAS.has(rel.schema)) continue;
      for (const col of rel.columns) {
        const rule = this.ruleFor(snapshot, rel, col.name);
        if (rule) {
          set(columns, rel.oid, col.attnum, rule); // a column rule's constant masks the column whole, patterns or not
          continue;
        }
        const found = withPatterns ? this.patternsFor(snapshot, rel, col) : [];
        if (found.length === 0) continue;
        set(columns, rel.oid, col.attnum, found[0]!.name);
        set(patterns, rel.oid, col.attnum, found);
      }
    }
    const protection = { columns, patterns, taintedViews: this.taintedViews(snapshot, columns) };
    this.cached = { version: snapshot.version, protection };
    return protection;
  }

  private taintedViews(snapshot: CatalogSnapshot, columns: Map<number, Map<number, string>>): Map<number, { rule: string; reason: string }> {
    const tainted = new Map<number, { rule: string; reason: string } | null>();
    const firstRule = this.rules[0]?.name ?? 'masking';
    const visit = (view: number): { rule: string; reason: string } | null => {
      if (tainted.has(view)) return tainted.get(view)!;
      tainted.set(view, null); // a cycle is not a taint by itself
      const deps = snapshot.viewDependencies.get(view);
      let found: { rule: string; reason: string } | null = null;
      for (const { relation, attnum } of deps?.columns ?? []) {
        const prot = columns.get(relation);
        const rel = snapshot.relations.get(relation);
        const rule = prot && (attnum === 0 ? prot.values().next().value : prot.get(attnum));
        if (rule) found = { rule, reason: `reads protected ${rel ? `${rel.schema}.${rel.name}` : relation}` };
        else if (snapshot.viewDependencies.has(relation)) {
          const inner = visit(relation);
          if (inner) found = { rule: inner.rule, reason: `reads ${rel?.schema}.${rel?.name}, which ${inner.reason}` };
        }
        if (found) break;
      }
      for (const oid of found ? [] : deps?.functions ?? []) {
        const fn = snapshot.functions.get(oid);
        const problem = fn ? this.functionProblem(fn, -1) : `calls function ${oid}, unknown to the gateway`;
        if (problem) {
          found = { rule: firstRule, reason: `calls ${problem}` };
          break;
        }
      }
      tainted.set(view, found);
      return found;
    };
    const result = new Map<number, { rule: string; reason: string }>();
    for (const view of snapshot.viewDependencies.keys()) {
      const t = visit(view);
      if (t) result.set(view, t);
    }
    return result;
  }
}

/** A relation and its ancestors (inheritance, partitions), each once; PostgreSQL's own schemas left out. */
function lineage(snapshot: CatalogSnapshot, relation: CatalogRelation): CatalogRelation[] {
  const out: CatalogRelation[] = [];
  const seen = new Set<number>();
  const visit = (rel: CatalogRelation) => {
    if (seen.has(rel.oid)) return;
    seen.add(rel.oid);
    if (!SYSTEM_SCHEMAS.has(rel.schema)) out.push(rel);
    for (const parent of rel.parents) {
      const p = snapshot.relations.get(parent);
      if (p) visit(p);
    }
  };
  visit(relation);
  return out;
}
