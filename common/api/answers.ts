/**
 * The incident's answers for the case or one chain (forensics/chain answersOf): who triggered it, what each
 * hop ran, sensitive fields returned (masked or not), policy decisions with who decided, how each hop ended
 * and who revoked, the gateway's own facts, and the integrity of every recording.
 */
export interface CaseAnswers {
  triggeredBy: { identity: string; rootSessions: string[]; hops: number; maxDepth: number }[];
  commands: { session: string; identity: string | null; target: string | null; depth: number; statements: number; commands: number }[];
  sensitive: { session: string; identity: string | null; target: string | null; field: string; rule: string | null; masked: boolean; count: number }[];
  policy: { session: string; seq: number; time: string; action: string; rule: string | null; approvalId: string | null; actor: string | null; statement: string | null; message: string | null }[];
  ends: { session: string; cause: string | null; reason: string | null; actor: string | null }[];
  gateway: { recording: string; seq: number; time: string; action: string; rule: string | null; actor: string | null; message: string | null }[];
  integrity: { session: string; integrity: string; sealed: boolean }[];
}
