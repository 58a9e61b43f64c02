import type { CaseFile } from '../store/case.js';
import type { FileSink } from './sink.js';
import { messageOf, microsToIso, timelineRows, timestampDesc, type TimelineRow, type TimelineScope } from './timeline.js';

/** The columns Timesketch requires first, then ours; CSV uses the same order. Rows come in time order (timelineRows). */
export const TIMESKETCH_COLUMNS = [
  'message', 'datetime', 'timestamp_desc', 'timestamp', 'data_type', 'session_id', 'parent_session_id', 'root_identity', 'identity', 'hop_depth',
  'target', 'protocol', 'event_type', 'seq', 'policy_action', 'approval_id', 'masked_fields', 'recording_sha256', 'integrity', 'intact',
  'policy_actor', 'end_cause',
] as const;
export type TimesketchRecord = Record<(typeof TIMESKETCH_COLUMNS)[number], string | number | boolean | null>;

export function timesketchRecord(r: TimelineRow): TimesketchRecord {
  return {
    message: messageOf(r),
    datetime: microsToIso(r.t),
    timestamp_desc: timestampDesc(r.type),
    timestamp: r.t, // µs since the epoch, as Timesketch stores it
    data_type: dataTypeOf(r.type),
    session_id: r.session,
    parent_session_id: r.parent,
    root_identity: r.root_identity,
    identity: r.identity,
    hop_depth: r.depth,
    target: r.target,
    protocol: r.protocol,
    event_type: r.type,
    seq: r.seq,
    policy_action: r.policy_action,
    approval_id: r.approval_id,
    masked_fields: r.masked_fields,
    recording_sha256: r.sha256,
    integrity: r.integrity,
    intact: r.intact === 1,
    policy_actor: r.policy_actor,
    end_cause: r.end_cause,
  };
}

/**
 * Timesketch's (and Plaso's) `data_type`: what kind of record this is, colon-separated from the
 * source, e.g. hopscope:pg:query, hopscope:ssh:output, hopscope:session:end, hopscope:revoked.
 */
export function dataTypeOf(eventType: string): string {
  return `hopscope:${eventType.replace(/[^a-z0-9]+/gi, ':').toLowerCase()}`;
}

/** Timesketch JSONL: one object per line, importable as is. */
export function writeTimesketch(c: CaseFile, out: FileSink, scope?: TimelineScope): number {
  let n = 0;
  for (const r of timelineRows(c, scope)) {
    out.line(JSON.stringify(timesketchRecord(r)));
    n++;
  }
  return n;
}

/** RFC 4180 CSV with the Timesketch columns (Timesketch imports this too). */
export function writeCsv(c: CaseFile, out: FileSink, scope?: TimelineScope): number {
  out.write(`${TIMESKETCH_COLUMNS.join(',')}\r\n`);
  let n = 0;
  for (const r of timelineRows(c, scope)) {
    const rec = timesketchRecord(r);
    out.write(`${TIMESKETCH_COLUMNS.map((k) => csvField(rec[k])).join(',')}\r\n`);
    n++;
  }
  return n;
}

export function csvField(v: string | number | boolean | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Full fidelity: every event as recorded, with its session's context and custody. */
export function writeJsonl(c: CaseFile, out: FileSink, scope?: TimelineScope): number {
  let n = 0;
  for (const r of timelineRows(c, scope)) {
    out.line(`{"session":${JSON.stringify(r.session)},"seq":${r.seq},"t":${r.t},"time":"${microsToIso(r.t)}","type":${JSON.stringify(r.type)},` +
      `"data":${r.data},"intact":${r.intact === 1},"protocol":${JSON.stringify(r.protocol)},"identity":${JSON.stringify(r.identity)},` +
      `"target":${JSON.stringify(r.target)},"parent":${JSON.stringify(r.parent)},"linkKind":${JSON.stringify(r.link_kind)},` +
      `"rootIdentity":${JSON.stringify(r.root_identity)},"depth":${r.depth},"policyAction":${JSON.stringify(r.policy_action)},` +
      `"approvalId":${JSON.stringify(r.approval_id)},"maskedFields":${JSON.stringify(r.masked_fields)},"recordingSha256":"${r.sha256}","integrity":"${r.integrity}",` +
      `"policyActor":${JSON.stringify(r.policy_actor)},"endCause":${JSON.stringify(r.end_cause)}}`);
    n++;
  }
  return n;
}
