export { createPolicies, type Policies } from './pipeline.js';
export { ApprovalBroker, type ApprovalDesk, type ApprovalObserver, type PendingApproval } from './approvals.js';
export { RevocationStore, readRevocations, REVOCATIONS_FILE, type Revocation } from './revocations.js';
export { compileGuardrails, compileMasking } from './rules.js';
export { SqlGuards, loadSqlParser } from './guardrails.js';
export { Masker, addCounts } from './masking.js';
export type { PolicyContext, PolicyPipeline, Verdict, MaskCounts, ApprovalOutcome, SessionMasker } from './types.js';
