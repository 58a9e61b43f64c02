/**
 * The incident's answers for the case or one chain (forensics/chain answersOf): who triggered it, what each
 * hop ran, sensitive fields returned (masked or not), policy decisions with who decided, how each hop ended
 * and who revoked, the gateway's own facts, and the integrity of every recording.
 */
export interface CaseAnswers {
  /** 1. Which identity triggered each chain, and through which hops. */
  triggeredBy: { identity: string; rootSessions: string[]; hops: number; maxDepth: number }[];
  /** 2. Which commands each hop issued (counts here; the list is on each hop). */
  commands: { session: string; identity: string | null; target: string | null; depth: number; statements: number; commands: number }[];
  /** 3. Sensitive fields returned, to which hop, masked or not. */
  sensitive: { session: string; identity: string | null; target: string | null; field: string; rule: string | null; masked: boolean; count: number }[];
  /** 4. Blocked, held, approved (by whom), denied or timed-out operations. */
  policy: { session: string; seq: number; time: string; action: string; rule: string | null; approvalId: string | null; actor: string | null; statement: string | null; message: string | null }[];
  /** How each hop ended (cause, reason) and, when revoked, by whom. */
  ends: { session: string; cause: string | null; reason: string | null; actor: string | null }[];
  /** Refusals before any session, revocations and their lifting (the gateway's recordings), with who did them. */
  gateway: { recording: string; seq: number; time: string; action: string; rule: string | null; actor: string | null; message: string | null }[];
  /** 5. Is the evidence intact. */
  integrity: { session: string; integrity: string; sealed: boolean }[];
}
