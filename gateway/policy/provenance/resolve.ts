import type { CatalogColumn, CatalogRelation, CatalogSnapshot } from '../catalog.js';
import type { CompiledMasking } from '../rules.js';
import type { Protection, ProtectionRules } from './protection.js';
import { STATISTICS_RELATIONS } from './protection.js';

export interface RangeVarNode {
  catalogname?: string;
  schemaname?: string;
  relname: string;
  inh?: boolean;
  relpersistence?: string;
  alias?: { aliasname: string; colnames?: unknown[] };
  location?: number;
}

/** What a relation name means for masking. */
export type Resolution =
  | { kind: 'unknown'; name: string }
  | { kind: 'refused'; rule: string; reason: string }
  | { kind: 'plain' }
  | {
    kind: 'protected';
    relation: CatalogRelation;
    columns: readonly CatalogColumn[];
    /** Protected column name → rule. */
    rules: ReadonlyMap<string, string>;
    /** Of those, the columns masked by pattern rules at the source → the rules, in rule order. */
    patterns: ReadonlyMap<string, readonly CompiledMasking[]>;
  };

export function displayName(rv: RangeVarNode): string {
  return rv.schemaname ? `${rv.schemaname}.${rv.relname}` : rv.relname;
}

/**
 * Resolves a relation name against every schema: the search_path can change
 * mid-session, so an unqualified name is protected when a protected relation of
 * that name exists anywhere, and refused when the candidates' column lists
 * differ (the masked projection names columns).
 */
export function resolveRelation(rv: RangeVarNode, snapshot: CatalogSnapshot, protection: Protection, rules: ProtectionRules): Resolution {
  const name = displayName(rv);
  if (STATISTICS_RELATIONS.has(rv.relname) && (!rv.schemaname || rv.schemaname === 'pg_catalog')) {
    return { kind: 'refused', rule: rules.rules[0]?.name ?? 'masking', reason: `${name} shows column values (statistics)` };
  }
  const candidates = (snapshot.relationsByName.get(rv.relname) ?? []).filter((r) => !rv.schemaname || r.schema === rv.schemaname);
  if (candidates.length === 0) return { kind: 'unknown', name };
  for (const c of candidates) {
    const taint = protection.taintedViews.get(c.oid);
    if (taint) return { kind: 'refused', rule: taint.rule, reason: `view ${c.schema}.${c.name} ${taint.reason}` };
  }
  const protectedOnes = candidates.filter((c) => protection.columns.has(c.oid));
  if (protectedOnes.length === 0) return { kind: 'plain' };
  const first = protectedOnes[0]!;
  const signature = (r: CatalogRelation) => r.columns.map((c) => c.name).join('\u0000');
  if (candidates.some((c) => signature(c) !== signature(first))) {
    const rule = protection.columns.get(first.oid)!.values().next().value!;
    return { kind: 'refused', rule, reason: `${name} names relations with different columns in several schemas (${candidates.map((c) => c.schema).join(', ')}); qualify it with its schema` };
  }
  // One name, several schemas: a column rule in any wins (its constant masks more); else every pattern rule of any, in rule order.
  const byName = new Map<string, string>();
  const patterns = new Map<string, readonly CompiledMasking[]>();
  const constant = new Set<string>();
  for (const rel of protectedOnes) {
    const prot = protection.columns.get(rel.oid)!;
    for (const col of rel.columns) {
      const rule = prot.get(col.attnum);
      if (!rule || constant.has(col.name)) continue;
      const found = protection.patterns.get(rel.oid)?.get(col.attnum);
      if (!found) {
        constant.add(col.name);
        byName.set(col.name, rule);
        patterns.delete(col.name);
        continue;
      }
      const union = new Set([...(patterns.get(col.name) ?? []), ...found]);
      patterns.set(col.name, rules.rules.filter((r) => union.has(r)));
      if (!byName.has(col.name)) byName.set(col.name, rule);
    }
  }
  return { kind: 'protected', relation: first, columns: first.columns, rules: byName, patterns };
}
