/**
 * The policy pipeline both protocol adapters call: guardrails judge what a
 * client wants to run, masking rewrites what comes back before it reaches the
 * client or the disk, and `review` holds an operation until an approver decides.
 * A protocol adds an adapter, never a copy of a policy.
 */
export interface PolicyContext {
  session: string;
  identity: string;
  target: string;
  protocol: 'postgres' | 'ssh';
}

export type Verdict =
  | { action: 'allow' }
  | { action: 'block' | 'review'; rule: string; reason: string };

/** Counts of values masked, by rule name. */
export type MaskCounts = Record<string, number>;

export type ApprovalOutcome =
  | { decision: 'approved'; id: string; approver: string; reason?: string; waitedMicros: number }
  | { decision: 'denied' | 'timeout' | 'cancelled'; id: string; approver?: string; reason?: string; waitedMicros: number };

export interface PolicyPipeline {
  /** SQL text as sent (simple Query or an extended-protocol Parse): judged per statement, on the real parser. */
  judgeSql(ctx: PolicyContext, sql: string): Verdict;
  /** An SSH exec command or a shell line as typed. */
  judgeCommand(ctx: PolicyContext, command: string): Verdict;
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
  /** The column rule for each result column, by name. */
  columnRules(columns: readonly string[]): (string | undefined)[];
  /** The replacement text a column rule writes. */
  replacementFor(rule: string): string;
  /** Pattern and built-in rules over one text value. */
  maskText(text: string): { text: string; counts: MaskCounts };
}
