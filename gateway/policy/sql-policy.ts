import { parseSync } from 'libpg-query';
import type { CatalogSnapshot, TargetCatalog } from './catalog.js';
import type { PolicyContext, SqlSessionPolicy, SqlVerdict } from './types.js';

/**
 * One SQL text as the real parser (libpg-query, the PostgreSQL 18 grammar) reads
 * it: its raw statements with their byte ranges in the UTF-8 text, or the
 * parser's error. Parsed once, shared by guardrails and masking.
 */
export type ParsedSql =
  | { stmts: { stmt: Record<string, unknown>; stmt_location?: number; stmt_len?: number }[]; error?: undefined }
  | { error: string; stmts?: undefined };

const PARSE_CACHE_SIZE = 10_000;
const parseCache = new Map<string, ParsedSql>();

/** Parses a SQL text (cached by text, LRU): a prepared or repeated statement is parsed once. */
export function parseSql(sql: string): ParsedSql {
  const hit = parseCache.get(sql);
  if (hit) {
    parseCache.delete(sql);
    parseCache.set(sql, hit);
    return hit;
  }
  let parsed: ParsedSql;
  try {
    const tree = parseSync(sql) as { stmts?: { stmt: Record<string, unknown>; stmt_location?: number; stmt_len?: number }[] };
    parsed = { stmts: tree.stmts ?? [] };
  } catch (err) {
    parsed = { error: (err as Error).message };
  }
  if (parseCache.size >= PARSE_CACHE_SIZE) parseCache.delete(parseCache.keys().next().value!);
  parseCache.set(sql, parsed);
  return parsed;
}

/** Guardrails over one session's statements (gateway/policy/guardrails.ts). */
export interface SessionGuard {
  /** allow, block, review — or refresh when a name the catalog does not know decides the verdict. */
  judge(parsed: ParsedSql & { stmts: object[] }, sql: string, catalog: CatalogSnapshot | undefined, refreshed: boolean, prepareAs: string | undefined): SqlVerdict;
  /**
   * True when judging this text cannot refuse it (no rule in scope, unseen SQL
   * allowed, nothing in the text that a built-in refusal looks at): the text is
   * then forwarded without a parse (pgbench -S sends a new text every time).
   */
  quiet?(sql: string): boolean;
}

/** Masking by provenance over one session's statements (gateway/policy/provenance/). */
export interface SessionProvenance {
  /** allow (with `forward` when rewritten), block, or refresh. */
  plan(parsed: ParsedSql & { stmts: object[] }, sql: string, catalog: CatalogSnapshot | undefined, refreshed: boolean): SqlVerdict;
  /** The masking rule protecting a table column, by its OID and attribute number (RowDescription). */
  protectedColumn(tableOid: number, attnum: number, catalog: CatalogSnapshot | undefined): string | undefined;
}

const SEVERITY = { allow: 0, review: 1, block: 2 } as const;

/**
 * The SQL policy of one session: the text is parsed once; guardrails judge it,
 * masking by provenance plans the text to forward; the more severe answer wins,
 * and a review carries the rewritten text to send once approved. Text that does
 * not parse is refused (fail closed): the server would run what the gateway
 * cannot read.
 */
export class SqlSession implements SqlSessionPolicy {
  constructor(
    readonly ctx: PolicyContext,
    readonly catalog: TargetCatalog | undefined,
    private readonly guard: SessionGuard | undefined,
    private readonly provenance: SessionProvenance | undefined,
  ) {}

  protectedColumn(tableOid: number, attnum: number): string | undefined {
    return this.provenance?.protectedColumn(tableOid, attnum, this.catalog?.snapshot);
  }

  judge(sql: string, opts: { refreshed?: boolean; prepareAs?: string } = {}): SqlVerdict {
    if (!this.provenance && (!this.guard || this.guard.quiet?.(sql))) return { action: 'allow' };
    const parsed = parseSql(sql);
    if (parsed.error !== undefined) return { action: 'block', rule: 'sql-parse', reason: `the SQL does not parse: ${parsed.error}` };
    const refreshed = opts.refreshed ?? false;
    const snapshot = this.catalog?.snapshot;
    const guarded = this.guard?.judge(parsed, sql, snapshot, refreshed, opts.prepareAs) ?? { action: 'allow' };
    if (guarded.action === 'block') return guarded;
    const planned = this.provenance?.plan(parsed, sql, snapshot, refreshed) ?? { action: 'allow' };
    if (guarded.action === 'refresh' || planned.action === 'refresh') {
      return refreshed ? { action: 'block', rule: 'sql-catalog', reason: 'the statement names objects the gateway cannot resolve' } : { action: 'refresh' };
    }
    if (planned.action === 'block') return planned;
    const forward = planned.action === 'allow' ? planned.forward : planned.forward;
    if (SEVERITY[guarded.action] >= SEVERITY[planned.action]) {
      return forward === undefined ? guarded : { ...guarded, forward };
    }
    return planned;
  }
}
