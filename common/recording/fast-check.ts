import type { EventName } from './events.js';

/**
 * Plain checks for the hot events, which the importer meets by the million:
 * true only when the data matches the event's schema in events.ts (a test holds
 * the two to the same answers). False means "ask the schema": the caller then
 * runs zod, so a check that is unsure may say false, never true.
 */
export function fastCheck(type: EventName, d: Record<string, unknown>): boolean {
  switch (type) {
    case 'pg.result': return pgResult(d);
    case 'ssh.output':
    case 'ssh.input': return sshData(d);
    case 'pg.query': return pgQuery(d);
    case 'pg.error':
    case 'pg.notice': return pgNotice(d);
    case 'ssh.line': return sshLine(d);
    default: return false;
  }
}

const int = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const seqRef = (v: unknown) => v === null || int(v);
const optString = (v: unknown) => v === undefined || typeof v === 'string';

function pgResult(d: Record<string, unknown>): boolean {
  if (!seqRef(d.statement) || typeof d.command !== 'string' || !int(d.rowCount) || !int(d.rowsRecorded) || !seqRef(d.durationMicros)) return false;
  if (d.copyBytes !== undefined && !int(d.copyBytes)) return false;
  if (d.suspended !== undefined && d.suspended !== true) return false;
  if (d.masked !== undefined && !maskNotes(d.masked)) return false;
  const { columns, rows } = d;
  if (!Array.isArray(columns) || !Array.isArray(rows)) return false;
  for (const c of columns as unknown[]) {
    if (typeof c !== 'object' || c === null || Array.isArray(c)) return false;
    const col = c as Record<string, unknown>;
    if (typeof col.name !== 'string' || !int(col.typeOid) || (col.format !== 'text' && col.format !== 'binary')) return false;
  }
  for (const r of rows as unknown[]) if (!Array.isArray(r)) return false;
  return true;
}

function sshData(d: Record<string, unknown>): boolean {
  if (!int(d.channel) || d.channel < 0 || typeof d.data !== 'string' || !int(d.bytes) || d.bytes < 0) return false;
  if (d.encoding !== 'utf8' && d.encoding !== 'base64') return false;
  if (d.stream !== undefined && d.stream !== 'stdout' && d.stream !== 'stderr') return false;
  return d.masked === undefined || maskNotes(d.masked);
}

function pgQuery(d: Record<string, unknown>): boolean {
  return optString(d.sql) && optString(d.forwarded) && (d.functionCall === undefined || d.functionCall === true);
}

const NOTICE_FIELDS = ['severity', 'code', 'message', 'detail', 'hint', 'position'] as const;

function pgNotice(d: Record<string, unknown>): boolean {
  if (d.statement !== undefined && !seqRef(d.statement)) return false;
  for (const k of NOTICE_FIELDS) if (!optString(d[k])) return false;
  return optString(d.reason);
}

function sshLine(d: Record<string, unknown>): boolean {
  if (!int(d.channel) || d.channel < 0 || typeof d.line !== 'string' || typeof d.uncertain !== 'boolean' || typeof d.action !== 'string') return false;
  if (!optString(d.judged) || !optString(d.rule) || !optString(d.reason)) return false;
  if (d.partial !== undefined && typeof d.partial !== 'boolean') return false;
  if (d.lines !== undefined && !int(d.lines)) return false;
  const reasons = d.uncertainReasons;
  if (reasons !== undefined && !(Array.isArray(reasons) && reasons.every((r) => typeof r === 'string'))) return false;
  return true;
}

function maskNotes(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (const m of v as unknown[]) {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return false;
    const n = m as Record<string, unknown>;
    if (!optString(n.column) || typeof n.rule !== 'string' || !int(n.count) || n.count < 0) return false;
  }
  return true;
}
