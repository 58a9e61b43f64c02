import type { KnownEvent, MaskNote as RecordedMaskNote } from '../../common/recording/index.js';

/**
 * The policy rows of a session, read off its decoded events
 * (common/recording/decode.ts): every shape here is the current version's, so
 * nothing is guessed from free text.
 *
 * - masking: `masked` on `pg.result` / `ssh.output` / `ssh.sftp` is
 *   `[{column?, rule, count}]`; a note without a column is placed by the
 *   `[masked:<rule>]` values in the recorded rows where it can be.
 * - decisions: `policy.block`; `ssh.exec` / `ssh.line` with action block;
 *   `approval.requested` / `approval.decided` (version-1 `ssh.policy` steps are
 *   decoded as these); `refused` and `revoked` / `unrevoked` (the gateway's
 *   recording) with their actor; a `session.end` caused by a revocation, with
 *   who revoked.
 * - approvals: `approval.requested` and `approval.decided` (approver, reason).
 */

export interface MaskNote {
  field: string;
  rule: string | null;
  count: number;
}

/** The recorded notes as rows; field is '*' when the note names no column. */
export function maskNotes(masked: readonly RecordedMaskNote[] | undefined): MaskNote[] {
  const out: MaskNote[] = [];
  if (masked) for (const m of masked) out.push({ field: m.column ?? '*', rule: m.rule, count: m.count });
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

export type PolicyAction = 'block' | 'review' | 'allow' | 'approved' | 'denied' | 'timeout' | 'cancelled' | 'revoked' | 'unrevoked' | 'refused';

export interface Decision {
  action: PolicyAction;
  rule: string | null;
  statement: number | null;
  approvalId: string | null;
  /** Who decided: the approver, who revoked, or who was refused. */
  actor: string | null;
  message: string | null;
}

export interface ApprovalStep {
  id: string;
  statement: number | null;
  operation: string | null;
  status: string; // pending | approved | denied | timeout | cancelled
  approver: string | null;
  reason: string | null;
  requested: boolean;
  requestedT: number | null;
  decidedT: number | null;
  waitedMicros: number | null;
}

const NONE = { rule: null, statement: null, approvalId: null, actor: null, message: null };

/** The decision an event records, if it records one. */
export function decisionOf(e: KnownEvent, seq: number): Decision | undefined {
  switch (e.type) {
    case 'policy.block': {
      const d = e.data;
      // A refusal after a denial (action review): the denial is the decision, recorded already.
      if (d.action === 'review') return undefined;
      return { ...NONE, action: 'block', rule: d.rule, statement: d.statement, approvalId: d.approval ?? null, message: d.reason };
    }
    case 'ssh.exec':
    case 'ssh.line': {
      const d = e.data;
      if (d.action !== 'block') return undefined;
      return { ...NONE, action: 'block', rule: d.rule ?? null, statement: seq, message: e.type === 'ssh.exec' ? e.data.command : e.data.line };
    }
    case 'approval.requested':
      return { ...NONE, action: 'review', rule: e.data.rule, statement: e.data.statement, approvalId: e.data.id || null, message: e.data.reason ?? e.data.operation };
    case 'approval.decided':
      return { ...NONE, action: e.data.decision, rule: e.data.rule ?? null, statement: e.data.statement, approvalId: e.data.id || null, actor: e.data.approver,
        message: e.data.reason ?? e.data.operation ?? null };
    case 'refused':
      return { ...NONE, action: 'refused', rule: e.data.reason, actor: e.data.identity ?? null, message: e.data.message };
    case 'revoked':
    case 'unrevoked':
      return { ...NONE, action: e.type, actor: e.data.by, message: e.data.reason ?? describeTarget(e.data) };
    case 'session.end':
      if (e.data.cause !== 'revoked' && e.data.cause !== 'ancestor-revoked') return undefined;
      return { ...NONE, action: 'revoked', actor: e.data.by ?? e.data.revocation?.by ?? null,
        message: e.data.revocation?.reason ?? e.data.reason };
    default:
      return undefined;
  }
}

function describeTarget(t: { identity?: string; tokenId?: string }): string | null {
  return t.identity !== undefined ? `identity ${t.identity}` : t.tokenId !== undefined ? `token ${t.tokenId}` : null;
}

/** An approval's request or decision, if the event records one (with an id: a version-1 `ssh.policy` step may have none). */
export function approvalOf(e: KnownEvent, t: number): ApprovalStep | undefined {
  if ((e.type === 'approval.requested' || e.type === 'approval.decided') && e.data.id === '') return undefined;
  if (e.type === 'approval.requested') {
    const d = e.data;
    return { id: d.id, statement: d.statement, operation: d.operation, status: 'pending', approver: null, reason: null, requested: true,
      requestedT: t, decidedT: null, waitedMicros: null };
  }
  if (e.type === 'approval.decided') {
    const d = e.data;
    return { id: d.id, statement: d.statement, operation: d.operation ?? null, status: d.decision, approver: d.approver, reason: d.reason,
      requested: false, requestedT: d.waitedMicros !== null ? t - d.waitedMicros : null, decidedT: t, waitedMicros: d.waitedMicros };
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
