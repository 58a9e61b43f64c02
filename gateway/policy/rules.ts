import { z } from 'zod';
import { configError, glob, regex } from './rule-support.js';
import { toAre, UntranslatablePattern, type AreForm } from './provenance/are.js';
import { BUILTIN_RECOGNIZERS } from './recognizers.js';
import { compileShellMatcher as compileSshMatcher, ShellMatcherSchema as SshMatcherSchema, type CompiledShellMatcher as CompiledSshMatcher } from './shell-matcher.js';
import { compileSqlMatcher, SqlMatcherSchema, type CompiledSqlMatcher } from './sql-matcher.js';

const Scope = {
  identities: z.array(z.string()).optional(),
  targets: z.array(z.string()).optional(),
};

export const MaskingRule = z.object({
  name: z.string().min(1),
  /**
   * Source columns, `[schema.]table.column` globs (case-insensitive, `*` and `?`
   * per part); a bare `column` means that column of any table.
   */
  column: z.string().min(1).optional(),
  pattern: z.string().min(1).optional(), // regex over text values and SSH output
  builtin: z.string().min(1).optional(),
  /**
   * With pattern or builtin: source columns (`[schema.]table.column` globs, as
   * for `column`) the pattern is applied to in SQL, before the statement reads
   * them, so no function over them can transform a value past the pattern.
   */
  columns: z.array(z.string().min(1)).min(1).optional(),
  replace: z.string().optional(),
  ...Scope,
}).strict();

export const GuardrailRule = z.object({
  name: z.string().min(1),
  sql: SqlMatcherSchema.optional(),
  ssh: SshMatcherSchema.optional(),
  action: z.enum(['allow', 'block', 'review']),
  ...Scope,
}).strict();

/** The source columns a column rule protects: a glob per part; an absent part matches any. */
export interface ColumnSource {
  schema: RegExp | undefined;
  table: RegExp | undefined;
  column: RegExp;
  /** The column part has a wildcard: a pattern rule then applies to text-like columns only. */
  columnGlob: boolean;
}

export interface CompiledMasking {
  name: string;
  /** The rule's column part (any table's column when `source` has no table part). */
  column: RegExp | undefined;
  source: ColumnSource | undefined;
  pattern: RegExp | undefined;
  /** A recognizer's own validity check (e.g. Luhn for card numbers), applied to each match. */
  accept: ((match: string) => boolean) | undefined;
  /** A recognizer's cheap necessary condition for a match (recognizers.ts); a user pattern has none and always runs. */
  mayMatch: ((text: string) => boolean) | undefined;
  /** A pattern or built-in rule's source columns (`columns:`): the pattern is applied there, in SQL. */
  sourceColumns: ColumnSource[] | undefined;
  /** The pattern as a PostgreSQL regular expression, for `sourceColumns`. */
  sqlPattern: AreForm | undefined;
  replacement: string;
  identities: string[] | undefined;
  targets: string[] | undefined;
}

export interface CompiledGuardrail {
  name: string;
  action: 'allow' | 'block' | 'review';
  sql: CompiledSqlMatcher | undefined;
  ssh: CompiledSshMatcher | undefined;
  identities: string[] | undefined;
  targets: string[] | undefined;
}

/** Compiles masking rules; any problem stops the gateway with the file, the rule and the problem. */
export function compileMasking(raw: unknown[], source: string): CompiledMasking[] {
  return raw.map((entry, i) => {
    const rule = parseRule(MaskingRule, entry, source, 'masking', i);
    const where = `${source}: masking rule ${rule.name}`;
    const kinds = [rule.column, rule.pattern, rule.builtin].filter((k) => k !== undefined).length;
    if (kinds !== 1) throw configError(`${where}: give exactly one of column, pattern or builtin`);
    if (rule.columns && rule.column !== undefined) throw configError(`${where}: columns goes with pattern or builtin (a column rule names its columns in column)`);
    let pattern: RegExp | undefined;
    let accept: CompiledMasking['accept'];
    let mayMatch: CompiledMasking['mayMatch'];
    let sqlPattern: AreForm | undefined;
    if (rule.builtin !== undefined) {
      const builtin = BUILTIN_RECOGNIZERS[rule.builtin];
      if (!builtin) throw configError(`${where}: unknown builtin ${rule.builtin} (known: ${Object.keys(BUILTIN_RECOGNIZERS).join(', ')})`);
      pattern = builtin.pattern;
      accept = builtin.accept;
      mayMatch = builtin.mayMatch;
      if (rule.columns) sqlPattern = { source: builtin.sql, flags: 'g' };
    } else if (rule.pattern !== undefined) {
      pattern = regex(withoutWordBoundaries(rule.pattern), 'g', where);
      if (rule.columns) sqlPattern = sqlForm(pattern, where);
    }
    const columns = rule.column === undefined ? undefined : columnSource(rule.column, where);
    return {
      name: rule.name,
      column: columns?.column,
      source: columns,
      pattern,
      accept,
      mayMatch,
      sourceColumns: rule.columns?.map((spec) => columnSource(spec, where)),
      sqlPattern,
      replacement: rule.replace ?? `[masked:${rule.name}]`,
      identities: rule.identities,
      targets: rule.targets,
    };
  });
}

function columnSource(spec: string, where: string): ColumnSource {
  const parts = spec.split('.');
  if (parts.length > 3 || parts.some((p) => p === '')) throw configError(`${where}: column must be [schema.]table.column or a column name, got ${spec}`);
  const columnPart = parts.at(-1)!;
  const [column, table, schema] = [...parts].reverse().map(glob);
  return { schema, table, column: column!, columnGlob: /[*?]/.test(columnPart) };
}

/** A pattern's PostgreSQL form; a pattern that has none is refused here, at load, naming the rule. */
function sqlForm(pattern: RegExp, where: string): AreForm {
  try {
    return toAre(pattern.source, pattern.flags);
  } catch (err) {
    if (err instanceof UntranslatablePattern) throw configError(`${where}: the pattern cannot be applied at the source columns (columns): ${err.message}`);
    throw err;
  }
}

export function compileGuardrails(raw: unknown[], source: string): CompiledGuardrail[] {
  return raw.map((entry, i) => {
    const rule = parseRule(GuardrailRule, entry, source, 'guardrails', i);
    const where = `${source}: guardrail ${rule.name}`;
    if (!rule.sql && !rule.ssh) throw configError(`${where}: give an sql or an ssh matcher`);
    return {
      name: rule.name,
      action: rule.action,
      sql: rule.sql && compileSqlMatcher(rule.sql, where),
      ssh: rule.ssh && compileSshMatcher(rule.ssh, where),
      identities: rule.identities,
      targets: rule.targets,
    };
  });
}

function parseRule<T extends z.ZodTypeAny>(schema: T, entry: unknown, source: string, list: string, i: number): z.infer<T> {
  const parsed = schema.safeParse(entry);
  if (parsed.success) return parsed.data;
  const name = (entry as { name?: unknown } | null)?.name;
  const label = typeof name === 'string' ? name : `#${i + 1}`;
  const problems = parsed.error.issues.map((x) => `${x.path.join('.') || '(rule)'}: ${x.message}`).join('; ');
  throw configError(`${source}: ${list} rule ${label}: ${problems}`);
}

export function inScope(rule: { identities: string[] | undefined; targets: string[] | undefined }, identity: string, target: string): boolean {
  return (!rule.identities || rule.identities.includes(identity)) && (!rule.targets || rule.targets.includes(target));
}

/**
 * A user pattern's `\b` assertions are dropped: a value glued to a letter or a
 * digit (`'x' || ssn`, `ssn || '1'`) has no word boundary there, and a rule that
 * asked for one would let it pass. Without them a rule matches at least what it
 * matched before (it may mask more, never less). `[\b]` (backspace in a class) stays.
 */
export function withoutWordBoundaries(source: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      if (next === 'b' && !inClass) { i++; continue; }
      out += c + next;
      i++;
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    out += c;
  }
  return out;
}
