export { Provenance, ProvenanceSession } from './session.js';
export { ProtectionRules, STATISTICS_RELATIONS, SYSTEM_SCHEMAS } from './protection.js';
