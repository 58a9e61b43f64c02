import { caseDb, type CaseFile } from '../store/case.js';
import {
  ACCOUNT_CHANGE, APPLICATION_LIFECYCLE, AUTHENTICATION, BASE_EVENT, DATASTORE_ACTIVITY, OTHER, SSH_ACTIVITY, isDenied, securityControlOf,
  sqlActivity, sqlVerb, sshEndActivity, type OcsfClass, type SecurityControl,
} from './ocsf-activity.js';
import type { FileSink } from './sink.js';
import { messageOf, timelineRows, timestampDesc, type TimelineRow, type TimelineScope } from './timeline.js';

/**
 * OCSF 1.3.0 events, one JSON object per line, one per timeline event (every
 * event of every session, in time order; see ocsf-activity.ts for the class and
 * activity of each): SSH sessions are SSH Activity (4007), PostgreSQL sessions
 * Datastore Activity (6005); the gateway's own recording gives Authentication
 * (3002) for refused logins, Account Change (3001) for revocations and their
 * lifting, Application Lifecycle (6002) for its start and stop, and Base Event
 * (0) for anything else. Policy decisions add the Security Control profile.
 * Every event declares in metadata.profiles each profile its attributes come
 * from (`host` for actor on SSH Activity, `security_control`). Validated
 * against the vendored schema (ocsf-schema/) by ocsf.test.ts.
 */
export const OCSF_VERSION = '1.3.0';
export { DATASTORE_ACTIVITY, SSH_ACTIVITY };

type Ocsf = Record<string, unknown>;
type Data = Record<string, unknown>;

const SEVERITY = { 1: 'Informational', 2: 'Low', 3: 'Medium' } as const;
const SSH_AUTH: Record<string, [number, string]> = { password: [5, 'Password'], 'keyboard-interactive': [4, 'Keyboard Interactive'], publickey: [6, 'Public Key'] };
const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

/** The SQL of a statement an event refers to (`statement`: its seq), for events that answer or judge it. */
export type StatementLookup = (session: string, seq: number) => string | undefined;

/** A client address ("10.0.0.5:50122", "[::1]:5000") as a network endpoint. */
function endpoint(client: string | null | undefined): Ocsf {
  const m = client ? /^\[?(.*?)\]?:(\d+)$/.exec(client) : null;
  return m ? { ip: m[1]!.replace(/^::ffff:/, ''), port: Number(m[2]) } : { name: client ?? 'unknown' };
}

/** The attributes every class shares: classification, time, message, status, metadata, unmapped context. */
function envelope(r: TimelineRow, cls: OcsfClass, activity: number, otherName: string, o: {
  severity?: 1 | 2 | 3; failed?: boolean; profiles?: string[]; unmapped?: Ocsf;
}): Ocsf {
  const activityName = cls.activities[activity] ?? otherName;
  const severity = o.severity ?? 1;
  return {
    activity_id: activity, activity_name: activityName,
    category_uid: cls.categoryUid, category_name: cls.categoryCaption,
    class_uid: cls.uid, class_name: cls.caption,
    type_uid: cls.uid * 100 + activity, ...(activity === OTHER ? {} : { type_name: `${cls.caption}: ${activityName}` }),
    severity_id: severity, severity: SEVERITY[severity],
    time: Math.floor(r.t / 1000), // ms since the epoch
    message: messageOf(r),
    ...(o.failed === undefined ? {} : { status_id: o.failed ? 2 : 1, status: o.failed ? 'Failure' : 'Success' }),
    metadata: {
      version: OCSF_VERSION,
      product: { name: 'hopscope', vendor_name: 'hopscope', feature: { name: 'gateway' } },
      uid: `${r.session}:${r.seq}`, original_time: String(r.t), log_name: `recording sha256:${r.sha256}`, correlation_uid: r.session,
      ...(o.profiles?.length ? { profiles: o.profiles } : {}),
    },
    unmapped: {
      hopscope_event_type: r.type, seq: r.seq, intact: r.intact === 1, integrity: r.integrity, parent_session_id: r.parent, link_kind: r.link_kind,
      root_identity: r.root_identity, hop_depth: r.depth, policy_action: r.policy_action, policy_rule: r.policy_rule, policy_actor: r.policy_actor,
      approval_id: r.approval_id, masked_fields: r.masked_fields, end_cause: r.end_cause, ...o.unmapped,
    },
  };
}

/** The Security Control profile's attributes, with the rule that decided as firewall_rule. */
function controlAttributes(c: SecurityControl, r: TimelineRow, d: Data): Ocsf {
  const rule = str(d.rule) ?? r.policy_rule?.split(';').pop();
  const why = r.type === 'approval.decided' ? undefined : str(d.reason); // a decision's reason is the approver's, not the rule's
  return { ...c, ...(rule ? { firewall_rule: { name: rule, uid: rule, ...(why ? { desc: why } : {}) } } : {}) };
}

function sessionEvent(r: TimelineRow, d: Data, statementSql: StatementLookup): Ocsf {
  const ssh = r.protocol === 'ssh';
  // A policy.block that repeats a denial records no decision of its own (the denial is it), yet says the statement was refused.
  const control = securityControlOf(r.policy_action) ??
    (r.type === 'policy.block' ? securityControlOf(d.action === 'review' ? 'denied' : 'block') : undefined);
  const ended = r.type === 'session.end';
  let activity: number;
  let otherName = timestampDesc(r.type) === 'Event Recorded' ? r.type : timestampDesc(r.type);
  let query: Ocsf | undefined;
  if (ssh) activity = r.type === 'session.start' ? 1 : ended ? sshEndActivity(r.end_cause) : 6; // Traffic: everything said on the connection
  else {
    const own = r.type === 'pg.query' || r.type === 'pg.execute' || r.type === 'pg.parse' ? str(d.sql) : undefined;
    const ref = typeof d.statement === 'number' ? d.statement : undefined;
    const sql = own ?? (ref === undefined ? undefined : statementSql(r.session, ref)) ?? str(d.operation);
    if (sql !== undefined) query = { uid: `${r.session}:${own !== undefined || ref === undefined ? r.seq : ref}`, query_string: sql };
    if (r.type === 'session.start') activity = 3; // Connect
    else if (ended) [activity, otherName] = [OTHER, 'Disconnect'];
    else if (r.type === 'pg.parse') [activity, otherName] = [OTHER, 'Prepare'];
    else if (sql !== undefined) {
      activity = sqlActivity(sql) ?? OTHER;
      if (activity === OTHER) otherName = sqlVerb(sql) ?? 'Statement';
    } else activity = OTHER;
  }
  // Held for approval: whether it ran is not known from this event, so no status.
  const failed = control?.action_id === 0 ? undefined : isDenied(control) || r.type === 'pg.error' || (ended && sshEndActivity(r.end_cause) !== 2);
  const profiles = [...(ssh ? ['host'] : []), ...(control ? ['security_control'] : [])];
  const event = envelope(r, ssh ? SSH_ACTIVITY : DATASTORE_ACTIVITY, activity, otherName, {
    severity: isDenied(control) ? 3 : r.masked_fields?.includes('UNMASKED') ? 2 : 1, failed, profiles,
    unmapped: {
      ...(ended && str(d.by) ? { revoked_by: str(d.by) } : {}),
      ...(ssh && (str(d.command) ?? str(d.line) ?? str(d.operation)) ? { command: str(d.command) ?? str(d.line) ?? str(d.operation) } : {}),
    },
  });
  Object.assign(event, {
    actor: { user: { name: r.identity ?? 'unknown' }, session: { uid: r.session } },
    src_endpoint: endpoint(r.client),
    dst_endpoint: { name: r.target ?? 'unknown' },
    ...(control ? controlAttributes(control, r, d) : {}),
  });
  if (ssh) {
    // How the client gave the gateway its token (a registered key stands for one); older recordings do not say.
    const auth = SSH_AUTH[r.auth ?? ''];
    Object.assign(event, { ...(auth ? { auth_type_id: auth[0], auth_type: auth[1] } : {}), protocol_ver: '2.0' });
    const path = str(d.path);
    if (path && (r.type === 'ssh.sftp' || r.type === 'ssh.upload')) {
      event.file = { name: path.split('/').pop() || path, path, type_id: 1, type: 'Regular File', ...(typeof d.size === 'number' ? { size: d.size } : {}) };
    }
  } else {
    Object.assign(event, { database: { name: r.target ?? 'unknown', type_id: 1, type: 'Relational' }, type_id: 1, type: 'Database' });
    if (query) event.query_info = query;
  }
  return event;
}

/** The gateway's own recording: refusals before any session, revocations, its start and stop. */
function gatewayEvent(r: TimelineRow, d: Data): Ocsf {
  const src = str(d.client) ? { src_endpoint: endpoint(str(d.client)) } : {};
  const subject = { ...(str(d.identity) ? { name: str(d.identity) } : {}), ...(str(d.tokenId) ? { uid: str(d.tokenId) } : {}) };
  const user = Object.keys(subject).length ? subject : { name: 'unknown' };
  switch (r.type) {
    case 'refused': // a failed Logon: the identity is the user who tried
      return {
        ...envelope(r, AUTHENTICATION, 1, '', { severity: 2, failed: true, unmapped: { reason: str(d.reason) ?? null, revocation: d.revocation ?? null } }),
        status_detail: [str(d.reason), str(d.message)].filter(Boolean).join(': '), user,
        dst_endpoint: { name: str(d.target) ?? (str(d.protocol) ? `hopscope ${str(d.protocol)!} listener` : 'hopscope') }, ...src,
      };
    case 'revoked': case 'unrevoked': // the identity (or token) Disabled / Enabled again; the actor is who did it
      return {
        ...envelope(r, ACCOUNT_CHANGE, r.type === 'revoked' ? 5 : 2, '', {
          severity: 3, failed: false, unmapped: { reason: str(d.reason) ?? null, via: str(d.via) ?? null, sessions_cut: d.sessionsCut ?? null, lifted: d.lifted ?? null },
        }),
        user, actor: { user: { name: str(d.by) ?? 'unknown' } }, ...src,
      };
    case 'gateway.start': case 'gateway.stop':
      return { ...envelope(r, APPLICATION_LIFECYCLE, r.type === 'gateway.start' ? 3 : 4, '', { failed: false }), app: { name: 'hopscope', vendor_name: 'hopscope' } };
    default:
      return envelope(r, BASE_EVENT, OTHER, r.type, {});
  }
}

/** One OCSF event per timeline row: no row is left out. */
export function ocsfEvent(r: TimelineRow, statementSql: StatementLookup = () => undefined): Ocsf {
  const d = JSON.parse(r.data) as Data;
  const { unmapped, ...event } = r.protocol === 'ssh' || r.protocol === 'postgres' ? sessionEvent(r, d, statementSql) : gatewayEvent(r, d);
  return { ...event, unmapped }; // the schema's attributes first, hopscope's own last
}

export function writeOcsf(c: CaseFile, out: FileSink, scope?: TimelineScope): number {
  const stmt = caseDb(c).prepare('SELECT data FROM events WHERE session = ? AND seq = ?');
  const statementSql: StatementLookup = (s, seq) => {
    const row = stmt.get(s, seq) as { data: string } | undefined;
    return row ? str((JSON.parse(row.data) as Data).sql) : undefined;
  };
  let n = 0;
  for (const r of timelineRows(c, scope)) {
    out.line(JSON.stringify(ocsfEvent(r, statementSql)));
    n++;
  }
  return n;
}
