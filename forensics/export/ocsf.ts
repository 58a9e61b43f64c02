import type { CaseFile } from '../store/case.js';
import type { FileSink } from './sink.js';
import { messageOf, timelineRows, type TimelineRow } from './timeline.js';

/**
 * OCSF 1.3 events, one JSON object per line: SSH Activity (class 4007, Network
 * Activity category 4) for SSH sessions and Datastore Activity (class 6005,
 * Application Activity category 6) for PostgreSQL sessions. Each carries the
 * base event's required attributes (activity_id, category_uid, class_uid,
 * severity_id, time, type_uid, metadata.product/version) and the class's own
 * (SSH: an endpoint; Datastore: actor, src_endpoint, database).
 */
export const OCSF_VERSION = '1.3.0';
export const SSH_ACTIVITY = 4007;
export const DATASTORE_ACTIVITY = 6005;

const SEVERITY = { informational: 1, low: 2, medium: 3, high: 4 } as const;

type Ocsf = Record<string, unknown>;

/** Which events become OCSF events (the others are context, kept in jsonl). */
const SSH_ACTIVITY_OF: Record<string, number> = {
  'session.start': 1, 'session.end': 2, 'ssh.exec': 6, 'ssh.line': 6, 'ssh.sftp': 6, 'ssh.policy': 99,
};
const DB_ACTIVITY_OF: Record<string, number> = {
  'session.start': 3, 'pg.query': 4, 'pg.execute': 4, 'pg.error': 99, 'policy.block': 99, 'approval.requested': 99, 'approval.decided': 99,
};

/** Datastore activity of a SQL statement by its verb: Read, Update, Query, Write, Create, Delete. */
function sqlActivity(sql: string): number {
  const verb = /^\s*(?:\/\*[\s\S]*?\*\/\s*)*(\w+)/.exec(sql)?.[1]?.toUpperCase();
  switch (verb) {
    case 'SELECT': case 'SHOW': case 'TABLE': return 1;
    case 'UPDATE': return 2;
    case 'INSERT': case 'COPY': return 5;
    case 'CREATE': return 6;
    case 'DELETE': case 'DROP': case 'TRUNCATE': return 7;
    default: return 4;
  }
}

function endpoint(client: string | null): Ocsf {
  const m = client ? /^(.*):(\d+)$/.exec(client) : null;
  return m ? { ip: m[1]!.replace(/^::ffff:/, ''), port: Number(m[2]) } : { name: client ?? 'unknown' };
}

export function ocsfEvent(r: TimelineRow): Ocsf | undefined {
  const ssh = r.protocol === 'ssh';
  const pg = r.protocol === 'postgres';
  if (r.protocol === 'gateway') return gatewayEvent(r);
  if (!ssh && !pg) return undefined;
  let activity = (ssh ? SSH_ACTIVITY_OF : DB_ACTIVITY_OF)[r.type];
  if (activity === undefined) return undefined;
  const d = JSON.parse(r.data) as Record<string, unknown>;
  if (pg && (r.type === 'pg.query' || r.type === 'pg.execute')) activity = sqlActivity(String(d.sql ?? ''));
  const blocked = (r.policy_action ?? '').split(';').some((a) => a === 'block' || a === 'denied' || a === 'timeout');
  if (ssh && blocked) activity = 5; // Refuse
  const classUid = ssh ? SSH_ACTIVITY : DATASTORE_ACTIVITY;
  const failed = blocked || r.type === 'pg.error';
  const event: Ocsf = {
    activity_id: activity,
    category_uid: ssh ? 4 : 6,
    class_uid: classUid,
    type_uid: classUid * 100 + activity,
    severity_id: blocked ? SEVERITY.medium : r.masked_fields?.includes('UNMASKED') ? SEVERITY.low : SEVERITY.informational,
    time: Math.floor(r.t / 1000), // ms since the epoch
    message: messageOf(r),
    status_id: failed ? 2 : 1,
    metadata: {
      version: OCSF_VERSION,
      product: { name: 'hopscope', vendor_name: 'hopscope', feature: { name: 'gateway' } },
      uid: `${r.session}:${r.seq}`,
      original_time: String(r.t),
      log_name: `recording sha256:${r.sha256}`,
      correlation_uid: r.session,
    },
    actor: { user: { name: r.identity ?? 'unknown', type_id: 99 }, session: { uid: r.session } },
    src_endpoint: endpoint(r.client),
    dst_endpoint: { name: r.target ?? 'unknown' },
    unmapped: {
      hopscope_event_type: r.type, seq: r.seq, parent_session_id: r.parent, link_kind: r.link_kind, root_identity: r.root_identity,
      hop_depth: r.depth, policy_action: r.policy_action, policy_actor: r.policy_actor, approval_id: r.approval_id, masked_fields: r.masked_fields,
      integrity: r.integrity, end_cause: r.end_cause,
      ...(r.type === 'session.end' && typeof d.by === 'string' ? { revoked_by: d.by } : {}),
    },
  };
  if (ssh) {
    event.auth_type_id = 5; // Password (the gateway token)
    event.protocol_ver = '2.0';
    if (r.type === 'ssh.exec' || r.type === 'ssh.line') event.unmapped = { ...(event.unmapped as Ocsf), command: d.command ?? d.line };
    if (r.type === 'ssh.sftp') event.file = { name: String(d.path ?? ''), path: String(d.path ?? ''), type_id: 1, size: d.size };
  } else {
    event.database = { name: r.target ?? 'unknown', type_id: 1, type: 'Relational' };
    event.type_id = 1;
    if (typeof d.sql === 'string') event.query_info = { query_string: d.sql };
    if (typeof d.operation === 'string') event.query_info = { query_string: d.operation };
  }
  return event;
}

/** OCSF classes for the gateway's own recording: Authentication (3002) for refusals, Account Change (3001) for revocations. */
const AUTHENTICATION = 3002;
const ACCOUNT_CHANGE = 3001;

/**
 * The gateway's recording: a refusal before any session is a failed Logon
 * (Authentication, status Failure); a revocation disables the identity or token
 * (Account Change, Disable), lifting it enables it again; the actor is who did it.
 */
function gatewayEvent(r: TimelineRow): Ocsf | undefined {
  if (r.type !== 'refused' && r.type !== 'revoked' && r.type !== 'unrevoked') return undefined;
  const d = JSON.parse(r.data) as Record<string, unknown>;
  const refused = r.type === 'refused';
  const classUid = refused ? AUTHENTICATION : ACCOUNT_CHANGE;
  const activity = refused ? 1 : r.type === 'revoked' ? 5 : 2; // Logon | Disable | Enable
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const subject = str(d.identity) ?? str(d.tokenId) ?? 'unknown';
  return {
    activity_id: activity, category_uid: 3, class_uid: classUid, type_uid: classUid * 100 + activity,
    severity_id: refused ? SEVERITY.low : SEVERITY.medium, time: Math.floor(r.t / 1000), message: messageOf(r), status_id: refused ? 2 : 1,
    ...(refused ? { status_detail: str(d.reason) } : {}),
    metadata: {
      version: OCSF_VERSION, product: { name: 'hopscope', vendor_name: 'hopscope', feature: { name: 'gateway' } },
      uid: `${r.session}:${r.seq}`, original_time: String(r.t), log_name: `recording sha256:${r.sha256}`, correlation_uid: r.session,
    },
    actor: { user: { name: refused ? subject : str(d.by) ?? 'unknown', type_id: 99 } },
    user: { name: subject, type_id: 99, ...(str(d.tokenId) ? { uid: str(d.tokenId) } : {}) },
    ...(str(d.client) ? { src_endpoint: endpoint(str(d.client)!) } : {}),
    ...(str(d.target) ? { dst_endpoint: { name: str(d.target) } } : {}),
    unmapped: { hopscope_event_type: r.type, seq: r.seq, integrity: r.integrity, reason: str(d.reason) ?? null, policy_actor: r.policy_actor },
  };
}

export function writeOcsf(c: CaseFile, out: FileSink, session?: string): number {
  let n = 0;
  for (const r of timelineRows(c, session)) {
    const e = ocsfEvent(r);
    if (!e) continue;
    out.line(JSON.stringify(e));
    n++;
  }
  return n;
}
