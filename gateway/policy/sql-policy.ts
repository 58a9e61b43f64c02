import { parseSync } from 'libpg-query';
import type { CatalogSnapshot, TargetCatalog } from './catalog.js';
import type { TextFacts } from './guardrails/facts.js';
import { LEXING_WORDS } from './guardrails/lexing-words.js';
import type { Edit } from './provenance/splice.js';
import { HoledText, shapeOf, verdictIndependentOfNumbers, type SqlShape } from './sql-shape.js';
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
  /** True when the verdict just given on `sql` depends on nothing the session did before (see SqlGuard.sessionFree). */
  sessionFree(sql: string, parsed: ParsedSql & { stmts: object[] }): boolean;
  /** What the session did that later texts depend on (prepared names, functions it created): facts, not verdicts. */
  memory?(): GuardMemory;
  /** Takes over another guard's memory of the same session (policies reloaded under it). */
  adopt?(memory: GuardMemory): void;
}

/** A session's prepared statements (name → the facts of each text prepared under it) and the functions it created. */
export interface GuardMemory {
  prepared: ReadonlyMap<string, readonly TextFacts[]>;
  created: ReadonlySet<string>;
}

/** Masking by provenance over one session's statements (gateway/policy/provenance/). */
export interface SessionProvenance {
  /** allow (with `forward` when rewritten), block, or refresh. */
  plan(parsed: ParsedSql & { stmts: object[] }, sql: string, catalog: CatalogSnapshot | undefined, refreshed: boolean): SqlVerdict;
  /** The masking rule protecting a table column, by its OID and attribute number (RowDescription). */
  protectedColumn(tableOid: number, attnum: number, catalog: CatalogSnapshot | undefined): string | undefined;
  /**
   * Of the plan just made: the rewrite's edits (byte ranges of the text) and
   * whether it depends on nothing the session did (no relation it created is
   * read or made); undefined when the last plan was not an allow or review.
   */
  readonly last: { edits: readonly Edit[]; sessionFree: boolean } | undefined;
}

const SEVERITY = { allow: 0, review: 1, block: 2 } as const;
const SHAPES_PER_SESSION = 1_000;
type Decided = Exclude<SqlVerdict, { action: 'refresh' }>;

/**
 * The SQL policy of one session: the text is parsed once; guardrails judge it,
 * masking by provenance plans the text to forward; the more severe answer wins,
 * and a review carries the rewritten text to send once approved. Text that does
 * not parse is refused (fail closed): the server would run what the gateway
 * cannot read.
 */
export class SqlSession implements SqlSessionPolicy {
  /** Verdicts by shape (sql-shape.ts), for the catalog version they were made under. */
  private readonly shapes = new Map<string, { version: number | undefined; verdict: Decided; forward: HoledText | undefined }>();
  /** Texts whose verdict came from an earlier text of their shape (not parsed again). */
  shapeHits = 0;

  constructor(
    readonly ctx: PolicyContext,
    readonly catalog: TargetCatalog | undefined,
    private readonly guard: SessionGuard | undefined,
    private readonly provenance: SessionProvenance | undefined,
  ) {}

  /** The same session under reloaded policies: what it prepared and created carries over, to be judged by the new rules. */
  carry(previous: SqlSessionPolicy): void {
    const memory = previous instanceof SqlSession ? previous.guard?.memory?.() : undefined;
    if (memory) this.guard?.adopt?.(memory);
  }

  protectedColumn(tableOid: number, attnum: number): string | undefined {
    return this.provenance?.protectedColumn(tableOid, attnum, this.catalog?.snapshot);
  }

  judge(sql: string, opts: { refreshed?: boolean; prepareAs?: string } = {}): SqlVerdict {
    if (!this.provenance && (!this.guard || this.guard.quiet?.(sql))) return { action: 'allow' };
    // A named Parse is remembered under its name by the guard, and texts that may change how the server lexes
    // are refused by built-in rules that read the text: both are judged in full every time.
    const shape = !opts.prepareAs && !LEXING_WORDS.test(sql) ? shapeOf(sql) : undefined;
    const version = this.catalog?.snapshot?.version;
    if (shape) {
      const hit = this.shapes.get(shape.key);
      if (hit && hit.version === version) {
        this.shapes.delete(shape.key); // LRU: recent shapes at the end
        this.shapes.set(shape.key, hit);
        this.shapeHits++;
        return hit.forward ? { ...hit.verdict, forward: hit.forward.fill(sql, shape) } : hit.verdict;
      }
    }
    const parsed = parseSql(sql);
    if (parsed.error !== undefined) return { action: 'block', rule: 'sql-parse', reason: `the SQL does not parse: ${parsed.error}` };
    const verdict = this.decide(parsed, sql, opts);
    if (shape && verdict.planned && verdict.verdict.action !== 'refresh' && this.catalog?.snapshot?.version === version) {
      this.rememberShape(sql, shape, parsed, verdict.verdict, version);
    }
    return verdict.verdict;
  }

  /** Guardrails and masking by provenance on one parsed text; `planned`: both ran (none stopped early). */
  private decide(parsed: ParsedSql & { stmts: object[] }, sql: string, opts: { refreshed?: boolean; prepareAs?: string }): { verdict: SqlVerdict; planned: boolean } {
    const refreshed = opts.refreshed ?? false;
    const snapshot = this.catalog?.snapshot;
    const guarded = this.guard?.judge(parsed, sql, snapshot, refreshed, opts.prepareAs) ?? { action: 'allow' };
    if (guarded.action === 'block') return { verdict: guarded, planned: !this.provenance };
    const planned = this.provenance?.plan(parsed, sql, snapshot, refreshed) ?? { action: 'allow' };
    if (guarded.action === 'refresh' || planned.action === 'refresh') {
      return refreshed
        ? { verdict: { action: 'block', rule: 'sql-catalog', reason: 'the statement names objects the gateway cannot resolve' }, planned: false }
        : { verdict: { action: 'refresh' }, planned: false };
    }
    if (planned.action === 'block') return { verdict: planned, planned: false };
    const forward = planned.forward;
    if (SEVERITY[guarded.action] >= SEVERITY[planned.action]) {
      return { verdict: forward === undefined ? guarded : { ...guarded, forward }, planned: true };
    }
    return { verdict: planned, planned: true };
  }

  /**
   * Keeps a verdict for the texts of its shape (the same text but for its numbers) when it holds for all
   * of them: it depends on no number (sql-shape.ts), on nothing the session did before, and its rewrite
   * touches no number.
   */
  private rememberShape(sql: string, shape: SqlShape, parsed: ParsedSql & { stmts: object[] }, verdict: Decided, version: number | undefined): void {
    if (this.guard && !this.guard.sessionFree(sql, parsed)) return;
    const plan = this.provenance?.last;
    if (this.provenance && !plan?.sessionFree) return;
    if (!verdictIndependentOfNumbers(sql, shape, parsed.stmts)) return;
    let forward: HoledText | undefined;
    if (verdict.forward !== undefined) {
      forward = HoledText.of(sql, shape, plan?.edits ?? []);
      // The rewrite rebuilt from its edits must be the one just planned, or it is not kept.
      if (!forward || forward.fill(sql, shape) !== verdict.forward) return;
    }
    const kept: Decided = { ...verdict };
    delete kept.forward;
    if (this.shapes.size >= SHAPES_PER_SESSION) this.shapes.delete(this.shapes.keys().next().value!);
    this.shapes.set(shape.key, { version, verdict: kept, forward });
  }
}
