/**
 * Readers for the policy notes of recordings, as the gateway writes them
 * (common/recording/format.ts), tolerant by design: the importer never fails
 * on a shape it does not know; it stores the event and derives what it can.
 *
 * - masking: `data.masked` on `pg.result` / `ssh.output` is `{ [rule]: count }`;
 *   which column a value came from is read off the `[masked:<rule>]` values in
 *   the recorded rows. `[{ column|field, rule, count }]` is accepted too.
 * - decisions: `policy.block` {statement, rule, reason, action}; `ssh.exec` and
 *   `ssh.line` with `action` block; `ssh.policy` {operation, rule, step: held |
 *   approved | denied | timeout | cancelled, approver, approvalId, waitedMicros};
 *   any `policy.*` / `guardrail.*` event; a `pg.error` carrying `rule`.
 * - approvals: `approval.requested` {statement, id, rule, reason, operation} and
 *   `approval.decided` {statement, id, decision, approver, reason, waitedMicros}.
 * - revocation: `revoked` (gateway audit file), `session.revoked`, or a
 *   `session.end` whose reason mentions revocation; `refused` (audit file).
 */

export interface MaskNote {
  field: string;
  rule: string | null;
  count: number;
}

/** Rule totals of a masking note; field is '*' when the note does not say which. */
export function maskNotes(masked: unknown): MaskNote[] {
  const out: MaskNote[] = [];
  if (Array.isArray(masked)) {
    for (const m of masked) {
      if (!m || typeof m !== 'object') continue;
      const r = m as Record<string, unknown>;
      out.push({ field: str(r.column) ?? str(r.field) ?? '*', rule: str(r.rule), count: num(r.count) ?? 1 });
    }
  } else if (masked && typeof masked === 'object') {
    for (const [rule, v] of Object.entries(masked as Record<string, unknown>)) {
      const count = num(v);
      if (count !== null) out.push({ field: '*', rule, count });
    }
  }
  return out;
}

const MASK_MARK = /\[masked(?::([^\]]*))?\]/g;

/**
 * Masked values per column, read from the recorded rows (the gateway writes
 * `[masked:<rule>]`); what the rows do not account for (rows beyond those
 * recorded, custom replacements) stays on field '*'. Runs on every recorded
 * result: plain loops, one regex reused.
 */
export function maskedFields(columns: unknown, rows: unknown, notes: MaskNote[]): MaskNote[] {
  let wildcards = 0;
  for (const n of notes) if (n.field === '*') wildcards++;
  if (wildcards === 0) return notes;
  const found = new Map<string, MaskNote>();
  if (Array.isArray(columns) && Array.isArray(rows)) {
    for (const row of rows) {
      if (!Array.isArray(row)) continue;
      for (let i = 0; i < row.length; i++) {
        const v: unknown = row[i];
        if (typeof v !== 'string' || !v.includes('[masked')) continue;
        const field = str((columns[i] as Record<string, unknown> | undefined)?.name) ?? `#${i}`;
        MASK_MARK.lastIndex = 0;
        for (let m = MASK_MARK.exec(v); m; m = MASK_MARK.exec(v)) {
          const rule = m[1] ?? null;
          const key = `${field}\0${rule}`;
          const note = found.get(key);
          if (note) note.count++;
          else found.set(key, { field, rule, count: 1 });
        }
      }
    }
  }
  const out: MaskNote[] = [];
  for (const n of notes) if (n.field !== '*') out.push(n);
  for (const f of found.values()) out.push(f);
  for (const n of notes) {
    if (n.field !== '*') continue;
    let seen = 0;
    for (const f of found.values()) if (f.rule === n.rule) seen += f.count;
    if (n.count > seen) out.push({ field: '*', rule: n.rule, count: n.count - seen });
  }
  return out;
}

export type PolicyAction = 'block' | 'review' | 'allow' | 'approved' | 'denied' | 'timeout' | 'revoked' | 'refused';

export interface Decision {
  action: PolicyAction | string;
  rule: string | null;
  statement: number | null;
  approvalId: string | null;
  actor: string | null;
  message: string | null;
}

export interface ApprovalStep {
  id: string;
  statement: number | null;
  operation: string | null;
  status: string; // pending | approved | denied | timeout | cancelled
  approver: string | null;
  requested: boolean;
  requestedT: number | null;
  decidedT: number | null;
  waitedMicros: number | null;
}

/** The decision an event records, if it records one. */
export function decisionOf(type: string, seq: number, data: Record<string, unknown>): Decision | undefined {
  const base = { rule: str(data.rule), statement: num(data.statement), approvalId: str(data.approvalId) ?? str(data.id),
    actor: str(data.approver), message: str(data.reason) ?? str(data.message) ?? str(data.operation) };
  const action = str(data.action);
  if (type === 'policy.block') return action === 'review' ? undefined : { ...base, action: 'block' }; // after a denial: the decision is recorded already
  if (/^(policy|guardrail)\./.test(type)) return { ...base, action: action ?? type.slice(type.indexOf('.') + 1) };
  if ((type === 'ssh.exec' || type === 'ssh.line') && action === 'block') return { ...base, action: 'block', statement: seq, message: str(data.command) ?? str(data.line) };
  if (type === 'ssh.policy') return { ...base, action: data.step === 'held' ? 'review' : (str(data.step) ?? 'review') };
  if (type === 'pg.error' && data.rule !== undefined) return { ...base, action: action === 'review' ? 'denied' : 'block', message: str(data.message) };
  if (type === 'approval.requested') return { ...base, action: 'review' };
  if (type === 'approval.decided') return { ...base, action: str(data.decision) ?? 'decided' };
  if (type === 'refused') return { ...base, action: 'refused', rule: str(data.reason), message: str(data.message) };
  if (type === 'revoked' || type === 'session.revoked' || (type === 'session.end' && /revok/i.test(String(data.reason ?? '')))) {
    return { ...base, action: 'revoked', rule: null, message: str(data.reason) ?? str(data.identity) ?? str(data.tokenId), actor: str(data.by) ?? str(data.revokedBy) };
  }
  return undefined;
}

/** An approval's request or decision, if the event records one. */
export function approvalOf(type: string, t: number, data: Record<string, unknown>): ApprovalStep | undefined {
  const id = str(data.approvalId) ?? str(data.id);
  if (!id) return undefined;
  const waited = num(data.waitedMicros);
  const base = { id, statement: num(data.statement), operation: str(data.operation), approver: str(data.approver), waitedMicros: waited };
  if (type === 'approval.requested') return { ...base, requested: true, status: 'pending', requestedT: t, decidedT: null };
  if (type === 'approval.decided' || (type === 'ssh.policy' && data.step !== 'held')) {
    const status = str(data.decision) ?? str(data.step) ?? 'decided';
    return { ...base, requested: false, status, requestedT: waited !== null ? t - waited : null, decidedT: t };
  }
  return undefined;
}

/** Column names that usually hold personal or secret data, for "returned unmasked" flags. */
const SENSITIVE_NAME = /e-?mail|ssn|social|national|passport|card|ccn|pan\b|iban|password|passwd|secret|token|api_?key|phone|birth|dob/i;
/** Values that look like an email, a US SSN or a card number. */
const SENSITIVE_VALUE = /[^\s@]+@[^\s@]+\.[a-z]{2,}|\b\d{3}-\d{2}-\d{4}\b|\b(?:\d[ -]?){13,19}\b/i;
const MASKED_VALUE = /\[masked|^\*+$|^<masked|^█+$|^x{3,}$/i;

/**
 * Columns of a result that look sensitive and were returned without a masking
 * note: a name that says so, or recorded values that look like it.
 */
export function unmaskedSensitive(columns: unknown, rows: unknown, masked: MaskNote[]): MaskNote[] {
  if (!Array.isArray(columns) || !Array.isArray(rows) || rows.length === 0) return [];
  const covered = new Set(masked.map((m) => m.field));
  const out: MaskNote[] = [];
  columns.forEach((c, i) => {
    const name = str((c as Record<string, unknown> | null)?.name) ?? `#${i}`;
    if (covered.has(name)) return;
    let values = 0;
    let looking = 0;
    for (const row of rows) {
      const v = Array.isArray(row) ? row[i] : undefined;
      if (typeof v !== 'string' || v === '' || MASKED_VALUE.test(v)) continue;
      values++;
      if (SENSITIVE_VALUE.test(v)) looking++;
    }
    if (looking > 0) out.push({ field: name, rule: 'looks-sensitive:value', count: looking });
    else if (values > 0 && SENSITIVE_NAME.test(name)) out.push({ field: name, rule: 'looks-sensitive:name', count: values });
  });
  return out;
}

export function str(v: unknown): string | null {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;
}

export function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
