export { SqlGuard, SqlGuards, factsOf, type GuardAction, type SqlGuardConfig } from './guard.js';
export { OPERATIONS } from './operations.js';
export type { StatementFacts, TextFacts } from './facts.js';
