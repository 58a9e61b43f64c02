/**
 * Which OCSF 1.3.0 class and activity each recorded event is, by the schema's
 * meaning of the activity, and how a policy decision is told: the Security
 * Control profile (action + disposition + firewall_rule), which the schema
 * defines "to augment activities … with an outcome where a security control
 * has intervened" and which both SSH Activity and Datastore Activity declare.
 * So a blocked command stays the SSH Traffic it was (activity 6) with action
 * Denied / disposition Blocked, instead of SSH "Refuse" (5), which the schema
 * reserves for a refused network connection.
 *
 * Captions are the schema's own words (checked against the vendored schema by
 * forensics/export/ocsf.test.ts): activity_name, class_name, category_name and
 * type_name are derived from them.
 */
export interface OcsfClass { uid: number; caption: string; categoryUid: number; categoryCaption: string; activities: Record<number, string> }

export const SSH_ACTIVITY: OcsfClass = {
  uid: 4007, caption: 'SSH Activity', categoryUid: 4, categoryCaption: 'Network Activity',
  activities: { 1: 'Open', 2: 'Close', 3: 'Reset', 4: 'Fail', 5: 'Refuse', 6: 'Traffic' },
};
export const DATASTORE_ACTIVITY: OcsfClass = {
  uid: 6005, caption: 'Datastore Activity', categoryUid: 6, categoryCaption: 'Application Activity',
  activities: { 1: 'Read', 2: 'Update', 3: 'Connect', 4: 'Query', 5: 'Write', 6: 'Create', 7: 'Delete' },
};
export const APPLICATION_LIFECYCLE: OcsfClass = {
  uid: 6002, caption: 'Application Lifecycle', categoryUid: 6, categoryCaption: 'Application Activity', activities: { 3: 'Start', 4: 'Stop' },
};
export const AUTHENTICATION: OcsfClass = {
  uid: 3002, caption: 'Authentication', categoryUid: 3, categoryCaption: 'Identity & Access Management', activities: { 1: 'Logon' },
};
export const ACCOUNT_CHANGE: OcsfClass = {
  uid: 3001, caption: 'Account Change', categoryUid: 3, categoryCaption: 'Identity & Access Management', activities: { 2: 'Enable', 5: 'Disable' },
};
/** "Could be used to log events that are not otherwise defined by the schema." */
export const BASE_EVENT: OcsfClass = { uid: 0, caption: 'Base Event', categoryUid: 0, categoryCaption: 'Uncategorized', activities: {} };

export const OTHER = 99;

/** SSH Activity of a session's end, by its cause: Reset is "closed by a middle device", which the gateway is when it cuts a session. */
export function sshEndActivity(cause: string | null): number {
  switch (cause) {
    case 'revoked': case 'ancestor-revoked': case 'gateway-shutdown': case 'recording-failed': case 'protocol-violation': case 'crash-recovery':
      return 3; // Reset
    case 'client-error': case 'target-error': case 'target-unavailable': case 'timeout': case 'session-error':
      return 4; // Fail
    case 'refused':
      return 5; // Refuse: admitted, then refused before the session started
    default:
      return 2; // Close
  }
}

/** Datastore Activity of a SQL statement by its verb (undefined: none of the schema's activities fits). */
export function sqlActivity(sql: string): number | undefined {
  switch (sqlVerb(sql)) {
    case 'SHOW': return 1; // Read: "specific data record details"
    case 'SELECT': case 'TABLE': case 'WITH': case 'VALUES': case 'FETCH': return 4; // Query: "a filtered subset of data"
    case 'UPDATE': return 2;
    case 'INSERT': case 'COPY': case 'MERGE': return 5; // Write
    case 'CREATE': return 6;
    case 'DELETE': case 'DROP': case 'TRUNCATE': return 7;
    default: return undefined;
  }
}

/** The statement's first keyword, after comments (the activity_name of a statement no activity fits). */
export function sqlVerb(sql: string): string | undefined {
  return /^\s*(?:(?:\/\*[\s\S]*?\*\/|--[^\n]*\n)\s*)*(\w+)/.exec(sql)?.[1]?.toUpperCase();
}

export interface SecurityControl {
  action_id: number; action: string; disposition_id: number; disposition: string;
}

const control = (action_id: number, action: string, disposition_id: number, disposition: string): SecurityControl =>
  ({ action_id, action, disposition_id, disposition });

/**
 * The outcome of the policy decisions recorded on an event (`;`-joined
 * policy_decisions actions), strongest first: a block or a denial wins over
 * the hold that preceded it. `allow` (and no decision) is no intervention.
 */
export function securityControlOf(actions: string | null): SecurityControl | undefined {
  const a = new Set((actions ?? '').split(';').filter(Boolean));
  if (a.has('block')) return control(2, 'Denied', 2, 'Blocked');
  if (a.has('denied')) return control(2, 'Denied', 25, 'Rejected'); // "a request or submission was rejected": the approver said no
  if (a.has('timeout') || a.has('cancelled')) return control(2, 'Denied', 2, 'Blocked'); // nobody approved: not executed
  if (a.has('revoked')) return control(2, 'Denied', 24, 'Access Revoked');
  if (a.has('approved')) return control(1, 'Allowed', 8, 'Approved');
  if (a.has('review')) return control(0, 'Unknown', 14, 'Delayed'); // held for approval: the outcome is not known yet
  return undefined;
}

/** A decision that kept the operation from running. */
export const isDenied = (c: SecurityControl | undefined) => c?.action_id === 2;
