/**
 * The policy pipeline both protocol adapters call: guardrails judge what a
 * client wants to run, masking rewrites what comes back before it reaches the
 * client or the disk, and `review` holds an operation until an approver decides.
 * A protocol adds an adapter, never a copy of a policy.
 */
import type { TargetCatalog } from './catalog.js';

export interface PolicyContext {
  session: string;
  identity: string;
  target: string;
  protocol: 'postgres' | 'ssh';
  /** SSH: files uploaded in this session (sftp, scp), by the path written → SHA-256 (hex). */
  uploads?: ReadonlyMap<string, string>;
}

export type Verdict =
  | { action: 'allow' }
  | { action: 'block' | 'review'; rule: string; reason: string };

/**
 * The SQL policy's answer for one SQL text (a simple Query or a Parse):
 * - `allow`, with `forward` when masking by provenance rewrote the text: the
 *   session sends `forward` (encoded in the session's client encoding) instead
 *   of the client's text, and records both;
 * - `block` / `review` as Verdict (`forward`: the text to send once approved);
 * - `refresh`: the text names a relation or function the catalog snapshot does
 *   not know; the session awaits `catalog.refresh()` and judges again with
 *   `{ refreshed: true }`, which never answers `refresh`.
 */
export type SqlVerdict =
  | { action: 'allow'; forward?: string }
  | { action: 'block' | 'review'; rule: string; reason: string; forward?: string }
  | { action: 'refresh' };

/** The SQL policy of one PostgreSQL session: it keeps what the session prepared (SQL PREPARE) and reads the target's catalog. */
export interface SqlSessionPolicy {
  /**
   * `prepareAs`: the text is an extended-protocol Parse of this statement name
   * ('' for the unnamed one), which SQL `EXECUTE name` can run later: the policy
   * keeps what it judged under that name.
   */
  judge(sql: string, opts?: { refreshed?: boolean; prepareAs?: string }): SqlVerdict;
  /**
   * The second line of masking by provenance: the rule protecting a result column
   * whose RowDescription names a table column (table OID, attribute number), or
   * undefined. A column the rewrite should have masked but that still arrives
   * straight from a protected column is masked by the session on this answer.
   */
  protectedColumn(tableOid: number, attnum: number): string | undefined;
  /** The target's catalog this session's policy reads (undefined when no rule needs one). */
  readonly catalog: TargetCatalog | undefined;
  /**
   * The generation of the policies this session judges by, when they can change under it (a SIGHUP reload):
   * what was judged under another generation (an extended-protocol statement prepared before the reload) is
   * judged again before it runs. Undefined: the policies never change.
   */
  readonly generation?: number;
  /** Takes over what `previous` (this session under the policies before a reload) remembers of the session. */
  carry?(previous: SqlSessionPolicy): void;
}

/** Counts of values masked, by rule name. */
export type MaskCounts = Record<string, number>;

export type ApprovalOutcome =
  | { decision: 'approved'; id: string; approver: string; reason?: string; waitedMicros: number }
  | { decision: 'denied' | 'timeout' | 'cancelled'; id: string; approver?: string; reason?: string; waitedMicros: number };

export interface PolicyPipeline {
  /** SQL text as sent (simple Query or an extended-protocol Parse): judged per statement, on the real parser. */
  judgeSql(ctx: PolicyContext, sql: string): Verdict;
  /**
   * The SQL policy of one PostgreSQL session (guardrails, masking by provenance,
   * the dynamic-SQL default), over `catalog` when the target has one.
   */
  sqlSession(ctx: PolicyContext, catalog: TargetCatalog | undefined): SqlSessionPolicy;
  /** Whether sessions of this identity and target need the target's catalog (column masking in scope, or rules on user functions). */
  needsCatalog(ctx: Pick<PolicyContext, 'identity' | 'target'>): boolean;
  /**
   * An SSH exec command or a completed shell line. `uncertain`: the gateway could
   * not reconstruct the typed line for sure (history recall, completion, an
   * unmodelled key); the `shell.uncertain` default judges it when any SSH rule applies.
   */
  judgeCommand(ctx: PolicyContext, command: string, opts?: { uncertain?: boolean }): Verdict;
  /** Masks free text (SSH output, a PostgreSQL text value) by pattern and built-in recognizers. */
  maskText(text: string): { text: string; counts: MaskCounts };
  /** False when no pattern or built-in rule exists: free text passes as it is, with no hold for a split value. */
  readonly masksText: boolean;
  /** A masker for one session's result columns (PostgreSQL), with the rules in scope for it. */
  maskerFor(ctx: PolicyContext): SessionMasker;
  /**
   * Holds an operation for an approver: returns its id at once (to tell the
   * client) and the outcome, which settles when one decides, when the timeout
   * passes (denied) or when `signal` aborts (the client cancelled).
   */
  requestApproval(ctx: PolicyContext, operation: string, rule: string, signal?: AbortSignal): { id: string; outcome: Promise<ApprovalOutcome> };
}

export interface SessionMasker {
  /** False when no rule applies to this session: results pass through untouched. */
  readonly active: boolean;
  /** Column rules (masking by provenance) apply to this session. */
  readonly columns: boolean;
  /** The replacement text of each column rule in scope → its rule: a value the rewrite masked at the source reads exactly so. */
  readonly columnReplacements: ReadonlyMap<string, string>;
  /** The column rule for each result column, by name. */
  columnRules(columns: readonly string[]): (string | undefined)[];
  /** The replacement text a column rule writes. */
  replacementFor(rule: string): string;
  /** Pattern and built-in rules over one text value. */
  maskText(text: string): { text: string; counts: MaskCounts };
  /** Replacement text → rule of the pattern rules the rewrite applies at source columns: how results count those masks. */
  readonly sourcePatternReplacements: ReadonlyMap<string, string>;
}
