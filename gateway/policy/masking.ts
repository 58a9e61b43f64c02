import { replacePattern } from './masking-pass.js';
import { inScope, type CompiledMasking } from './rules.js';
import type { MaskCounts, SessionMasker } from './types.js';

/** Applies masking rules; rules are chosen per session by identity and target scope. */
export class Masker {
  constructor(private readonly rules: CompiledMasking[]) {}

  /** Whether masking by provenance applies to a session: a column rule, or a pattern rule with source columns, in scope. */
  hasColumnRules(identity: string, target: string): boolean {
    return this.rules.some((r) => (r.column || r.sourceColumns) && inScope(r, identity, target));
  }

  /** The rules masking by provenance applies for a session: column rules and pattern rules with source columns. */
  columnRulesFor(identity: string, target: string): CompiledMasking[] {
    return this.rules.filter((r) => (r.source || r.sourceColumns) && inScope(r, identity, target));
  }

  forSession(identity: string, target: string): SessionMasker {
    return new ScopedMasker(this.rules.filter((r) => inScope(r, identity, target)));
  }

  /** Pattern rules over free text for every session (SSH output is masked by pattern only). */
  maskText(text: string): { text: string; counts: MaskCounts } {
    return maskWith(this.rules, text);
  }
}

class ScopedMasker implements SessionMasker {
  readonly active: boolean;
  readonly columns: boolean;
  readonly columnReplacements: ReadonlyMap<string, string>;
  /**
   * The replacement text of each pattern rule applied at source columns → its
   * rule: a value masked there contains it (once per match). Empty when no such
   * rule is in scope, so counting costs nothing then.
   */
  readonly sourcePatternReplacements: ReadonlyMap<string, string>;
  private readonly byName: Map<string, CompiledMasking>;

  constructor(private readonly rules: CompiledMasking[]) {
    this.active = rules.length > 0;
    this.columns = rules.some((r) => r.column || r.sourceColumns);
    this.columnReplacements = new Map(rules.filter((r) => r.column).map((r) => [r.replacement, r.name]));
    this.sourcePatternReplacements = new Map(rules.filter((r) => r.sourceColumns && r.replacement !== '').map((r) => [r.replacement, r.name]));
    this.byName = new Map(rules.map((r) => [r.name, r]));
  }

  /**
   * By result column name: only bare rules (`email`: that column of any table)
   * can say anything from a name; `schema.table.column` rules are applied by
   * provenance (the rewrite and RowDescription's table column).
   */
  columnRules(columns: readonly string[]): (string | undefined)[] {
    return columns.map((c) => this.rules.find((r) => r.source && !r.source.table && r.source.column.test(c))?.name);
  }

  replacementFor(rule: string): string {
    return this.byName.get(rule)?.replacement ?? '[masked]';
  }

  maskText(text: string): { text: string; counts: MaskCounts } {
    return maskWith(this.rules, text);
  }
}

/**
 * Each pattern rule in order, over the text as the rules before it left it. A
 * built-in's `mayMatch` is asked first, on that same text: when it says no match
 * is possible the pass would change and count nothing, so it is skipped.
 */
export function maskWith(rules: CompiledMasking[], input: string): { text: string; counts: MaskCounts } {
  const counts: MaskCounts = {};
  let text = input;
  for (const rule of rules) {
    if (!rule.pattern) continue;
    if (rule.mayMatch && !rule.mayMatch(text)) continue;
    text = replacePattern(rule.pattern, rule, text, counts);
  }
  return { text, counts };
}

export function addCounts(into: MaskCounts, from: MaskCounts): void {
  for (const [rule, n] of Object.entries(from)) into[rule] = (into[rule] ?? 0) + n;
}
