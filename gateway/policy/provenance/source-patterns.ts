import type { CatalogColumn } from '../catalog.js';
import type { CompiledMasking } from '../rules.js';
import { replacementText } from './are.js';
import { quoteIdent, quoteLiteral } from './splice.js';

/**
 * Types a wildcard in a pattern rule's `columns` reaches (`customers.*`): the ones
 * that hold free text. A column named exactly is reached whatever its type.
 */
const TEXT_LIKE = /^(?:[a-z_][a-z0-9_$]*\.)?(?:text|character varying|character|name|citext|json|jsonb|xml)(?:\(\d+\))?(?:\[\])*$/;
/** Types cast back after masking, so their operators (`->>`, `@>`) keep working; any other column becomes text. */
const CAST_BACK = new Set(['json', 'jsonb']);

/** Whether a pattern rule's column source reaches this column: a wildcard column part reaches text-like columns only. */
export function patternReaches(rule: CompiledMasking, column: CatalogColumn, table: { schema: string; name: string }): boolean {
  return (rule.sourceColumns ?? []).some((s) => s.column.test(column.name)
    && (!s.table || s.table.test(table.name)) && (!s.schema || s.schema.test(table.schema))
    && (!s.columnGlob || TEXT_LIKE.test(column.type)));
}

/**
 * A column masked by pattern rules at the source, as SQL: one regexp_replace per
 * rule in rule order (the first rule innermost), over the column cast to text, so
 * every function over the projection's column computes from masked text. The
 * projection's column is text (json and jsonb are cast back; bytea becomes its
 * escape-format text).
 * `pg_catalog.regexp_replace(pg_catalog.regexp_replace("notes"::pg_catalog.text, E'…', '[masked:ssn]', 'g'), …)`
 */
export function patternExpression(column: string, type: string | undefined, rules: readonly CompiledMasking[]): string {
  // Qualified: a session may create its own regexp_replace or text and put its schema before pg_catalog.
  // bytea in its escape form, where ASCII bytes read as themselves (its ::text form is hex, which no pattern matches).
  let expr = type === 'bytea' ? `pg_catalog.encode(${quoteIdent(column)}, 'escape')` : `${quoteIdent(column)}::pg_catalog.text`;
  for (const rule of rules) {
    const are = rule.sqlPattern!;
    expr = `pg_catalog.regexp_replace(${expr}, ${quoteLiteral(are.source)}, ${quoteLiteral(replacementText(rule.replacement))}, '${are.flags}')`;
  }
  return type !== undefined && CAST_BACK.has(type) ? `(${expr})::pg_catalog.${type}` : expr;
}

/** A column masked by a column rule: its replacement, a constant. */
export function constantExpression(replacement: string): string {
  return `${quoteLiteral(replacement)}::text`;
}
