import type { ColumnInfo } from './frames.js';

/** Values masked in one result: by column when a row value was masked, without one in COPY data and messages. */
export interface MaskedField {
  column?: string;
  rule: string;
  count: number;
}

/** Counts of the values masked in the current result, by column index (-1: no column) and rule. */
export class MaskCounter {
  /** The columns of the current result, to name them in `take`. */
  columns: readonly ColumnInfo[] = [];
  private counts = new Map<number, Map<string, number>>();

  add(column: number, rule: string, n: number): void {
    let rules = this.counts.get(column);
    if (!rules) this.counts.set(column, (rules = new Map()));
    rules.set(rule, (rules.get(rule) ?? 0) + n);
  }

  addAll(counts: Record<string, number>): void {
    for (const [rule, n] of Object.entries(counts)) this.add(-1, rule, n);
  }

  /** Which fields of the result that just ended were masked by which rule, and a fresh start for the next. */
  take(): MaskedField[] {
    if (this.counts.size === 0) return [];
    const out: MaskedField[] = [];
    for (const [i, rules] of [...this.counts].sort((a, b) => a[0] - b[0])) {
      const column = i >= 0 ? this.columns[i]?.name ?? `#${i}` : undefined;
      for (const [rule, count] of rules) out.push(column === undefined ? { rule, count } : { column, rule, count });
    }
    this.counts.clear();
    return out;
  }
}
