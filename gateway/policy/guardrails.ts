import { loadModule, parseSync } from 'libpg-query';
import { inScope, type CompiledGuardrail } from './rules.js';
import type { CompiledSqlMatcher } from './sql-matcher.js';
import type { PolicyContext, Verdict } from './types.js';

/** What a guardrail can ask of one parsed statement. */
interface StatementFacts {
  type: string;
  hasWhere: boolean;
  functions: Set<string>;
  tables: string[];
  copyProgram: boolean;
  /** COPY ... TO STDOUT: rows reach the client as raw text, without column names to mask by. */
  copyToClient: boolean;
}

type Parsed = StatementFacts[] | { error: string };

const SEVERITY = { allow: 0, review: 1, block: 2 } as const;
const CACHE_SIZE = 10_000;

let loaded: Promise<void> | undefined;
/** The parser is WebAssembly: load it once before the first judgement. */
export function loadSqlParser(): Promise<void> {
  return (loaded ??= loadModule());
}

/**
 * Judges SQL with the real PostgreSQL parser. A string is judged statement by
 * statement and gets the most severe verdict; text that does not parse is
 * blocked with the parser's message (fail closed). Parses are cached by text,
 * so a prepared or repeated statement is parsed once.
 */
export class SqlJudge {
  private readonly cache = new Map<string, Parsed>();

  constructor(private readonly rules: CompiledGuardrail[]) {}

  get hasRules(): boolean {
    return this.rules.some((r) => r.sql);
  }

  /** Whether judging needs the parser at all for a session (rules, or COPY under column masking). */
  needed(columnMasking: boolean): boolean {
    return columnMasking || this.hasRules;
  }

  /**
   * `columnMasking`: the session has column masking rules, which COPY TO STDOUT
   * would bypass (its rows carry no column names): such a COPY is refused.
   */
  judge(ctx: PolicyContext, sql: string, columnMasking = false): Verdict {
    const parsed = this.parse(sql);
    if ('error' in parsed) return { action: 'block', rule: 'sql-parse', reason: `the SQL does not parse: ${parsed.error}` };
    let verdict: Verdict = { action: 'allow' };
    for (const facts of parsed) {
      if (columnMasking && facts.copyToClient) {
        return { action: 'block', rule: 'masking-copy-out', reason: 'COPY TO STDOUT would bypass column masking; use SELECT' };
      }
      const rule = this.rules.find((r) => r.sql && inScope(r, ctx.identity, ctx.target) && matches(r.sql, facts));
      if (rule && SEVERITY[rule.action] > SEVERITY[verdict.action]) {
        verdict = rule.action === 'allow' ? verdict : { action: rule.action, rule: rule.name, reason: describe(rule, facts) };
      }
    }
    return verdict;
  }

  private parse(sql: string): Parsed {
    const hit = this.cache.get(sql);
    if (hit) {
      this.cache.delete(sql); // keep recently used entries at the end (LRU)
      this.cache.set(sql, hit);
      return hit;
    }
    let parsed: Parsed;
    try {
      const tree = parseSync(sql) as { stmts?: { stmt: Record<string, unknown> }[] };
      parsed = (tree.stmts ?? []).map(({ stmt }) => factsOf(stmt));
    } catch (err) {
      parsed = { error: (err as Error).message };
    }
    if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(sql, parsed);
    return parsed;
  }
}

function matches(sql: CompiledSqlMatcher, f: StatementFacts): boolean {
  if (sql.statements && !sql.statements.has(f.type)) return false;
  if (sql.withoutWhere && f.hasWhere) return false;
  if (sql.functions && ![...f.functions].some((fn) => sql.functions!.has(fn))) return false;
  if (sql.tables && !f.tables.some((t) => sql.tables!.some((g) => g.test(t) || g.test(t.split('.').pop()!)))) return false;
  if (sql.copyProgram && !f.copyProgram) return false;
  return true;
}

function describe(rule: CompiledGuardrail, f: StatementFacts): string {
  const parts = [f.type];
  if (rule.sql?.withoutWhere) parts.push('without WHERE');
  if (rule.sql?.functions) parts.push(`calling ${[...f.functions].filter((x) => rule.sql!.functions!.has(x)).join(', ')}`);
  if (rule.sql?.tables) parts.push(`on ${f.tables.join(', ')}`);
  if (rule.sql?.copyProgram) parts.push('to or from a program');
  return parts.join(' ');
}

function factsOf(stmt: Record<string, unknown>): StatementFacts {
  const type = Object.keys(stmt)[0] ?? 'Unknown';
  const body = stmt[type] as Record<string, unknown>;
  const facts: StatementFacts = {
    type,
    hasWhere: body?.whereClause !== undefined,
    functions: new Set(),
    tables: [],
    copyProgram: type === 'CopyStmt' && body?.is_program === true,
    copyToClient: type === 'CopyStmt' && body?.is_from !== true && body?.filename === undefined,
  };
  walk(stmt, facts);
  if (type === 'DropStmt') {
    // DROP names its objects as qualified-name lists, not RangeVars.
    for (const obj of (body?.objects as { List?: { items?: { String?: { sval?: string } }[] } }[] | undefined) ?? []) {
      const name = obj.List?.items?.map((i) => i.String?.sval).filter(Boolean).join('.');
      if (name) facts.tables.push(name);
    }
  }
  return facts;
}

/** Collects called functions and referenced relations from anywhere in the tree (subqueries, CTEs, ...). */
function walk(node: unknown, facts: StatementFacts): void {
  if (Array.isArray(node)) {
    for (const item of node) walk(item, facts);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const obj = node as Record<string, unknown>;
  const call = obj.FuncCall as { funcname?: { String?: { sval?: string } }[] } | undefined;
  if (call?.funcname) {
    const name = call.funcname.map((p) => p.String?.sval ?? '').at(-1);
    if (name) facts.functions.add(name.toLowerCase());
  }
  // A RangeVar appears wrapped ({RangeVar: {...}}) in FROM lists and bare as a statement's `relation`.
  if (typeof obj.relname === 'string') {
    facts.tables.push(typeof obj.schemaname === 'string' ? `${obj.schemaname}.${obj.relname}` : obj.relname);
  }
  for (const value of Object.values(obj)) walk(value, facts);
}
