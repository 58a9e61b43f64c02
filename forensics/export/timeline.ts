import { microsToIso } from '../../common/clock.js';
import { caseDb, type CaseFile } from '../store/case.js';
import { terminalBytes } from '../replay/emulator.js';
import { plain } from '../replay/emulator.js';

/** One event with the context every timeline format carries. */
export interface TimelineRow {
  session: string;
  seq: number;
  t: number;
  type: string;
  data: string; // JSON
  intact: number;
  parent: string | null;
  link_kind: string | null;
  root_identity: string | null;
  identity: string | null;
  depth: number;
  target: string | null;
  protocol: string;
  client: string | null;
  sha256: string;
  integrity: string;
  policy_action: string | null;
  /** Who decided (approver, revoker, refused identity), per decision on this event. */
  policy_actor: string | null;
  approval_id: string | null;
  /** The rules of those decisions (`;`-joined). */
  policy_rule: string | null;
  /** How the session ended (END_CAUSES), on every row of the session. */
  end_cause: string | null;
  masked_fields: string | null;
  /** How the session's client authenticated (session.start `auth`: password, keyboard-interactive, publickey). */
  auth: string | null;
}

/** Event types that are bookkeeping of the format, not activity. */
const SKIP = "('checkpoint', 'seal')";

/** Which sessions a timeline covers: all (undefined), one, or a list (the workbench's filter). */
export type TimelineScope = string | readonly string[] | undefined;

/**
 * Rows of the whole case (or of the sessions of `scope`) in time order, lazily: a timeline
 * across hops interleaves their events. Equal times keep session start order,
 * then each session's own order (seq). SQLite sorts (spilling to disk when the
 * case is large), so memory stays bounded.
 */
export function* timelineRows(c: CaseFile, scope?: TimelineScope): Generator<TimelineRow> {
  const ids = scope === undefined ? undefined : typeof scope === 'string' ? [scope] : [...scope];
  const sql = `SELECT e.session, e.seq, e.t, e.type, e.data, e.intact, s.parent, s.link_kind, s.root_identity, s.identity, s.depth,
      s.target, s.protocol, s.client, f.sha256, f.integrity, s.end_cause, json_extract(s.start_data, '$.auth') AS auth,
      (SELECT group_concat(p.action, ';') FROM policy_decisions p WHERE p.session = e.session AND (p.seq = e.seq OR p.statement = e.seq)) AS policy_action,
      (SELECT group_concat(p.actor, ';') FROM policy_decisions p WHERE p.session = e.session AND (p.seq = e.seq OR p.statement = e.seq) AND p.actor IS NOT NULL) AS policy_actor,
      (SELECT group_concat(r, ';') FROM (SELECT coalesce(p.rule, (SELECT q.rule FROM policy_decisions q WHERE q.session = p.session
         AND q.approval_id = p.approval_id AND q.rule IS NOT NULL LIMIT 1)) AS r FROM policy_decisions p
         WHERE p.session = e.session AND (p.seq = e.seq OR p.statement = e.seq)) WHERE r IS NOT NULL) AS policy_rule, -- a decision names the rule its request did
      (SELECT group_concat(p.approval_id, ';') FROM policy_decisions p WHERE p.session = e.session AND (p.seq = e.seq OR p.statement = e.seq) AND p.approval_id IS NOT NULL) AS approval_id,
      (SELECT group_concat(m.field || ':' || coalesce(m.rule, '') || '=' || m.count || CASE m.masked WHEN 1 THEN '' ELSE ' UNMASKED' END, ';')
         FROM sensitive_fields m WHERE m.session = e.session AND m.seq = e.seq) AS masked_fields
    FROM sessions s JOIN files f ON f.id = s.file_id AND f.state = 'complete' JOIN events e ON e.session = s.id
    WHERE e.type NOT IN ${SKIP} ${ids ? 'AND s.id IN (SELECT value FROM json_each(?))' : ''}
    ORDER BY e.t, s.start_t, s.id, e.seq`;
  const stmt = caseDb(c).prepare(sql);
  yield* (ids ? stmt.iterate(JSON.stringify(ids)) : stmt.iterate()) as Iterable<TimelineRow>;
}

const DESC: Record<string, string> = {
  'session.start': 'Session Start', 'session.end': 'Session End', 'pg.query': 'Statement Sent', 'pg.execute': 'Statement Sent',
  'pg.result': 'Result Returned', 'pg.error': 'Error Returned', 'pg.notice': 'Notice Returned', 'pg.cancel': 'Cancel Requested',
  'ssh.exec': 'Command Sent', 'ssh.line': 'Line Typed', 'ssh.input': 'Input Sent', 'ssh.output': 'Output Returned', 'ssh.exit': 'Command Exited',
  'ssh.sftp': 'File Transfer', 'ssh.resize': 'Terminal Resized', 'policy.block': 'Policy Decision', 'ssh.policy': 'Policy Decision',
  'approval.requested': 'Approval Requested', 'approval.decided': 'Approval Decided', refused: 'Connection Refused', revoked: 'Access Revoked',
  unrevoked: 'Revocation Lifted',
};

export function timestampDesc(type: string): string {
  return DESC[type] ?? 'Event Recorded';
}

const clip = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** A one-line human description of an event, for `message` columns. */
export function messageOf(row: Pick<TimelineRow, 'type' | 'data' | 'identity' | 'target'>): string {
  const d = JSON.parse(row.data) as Record<string, unknown>;
  const s = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));
  switch (row.type) {
    case 'session.start': return `${s(d.identity ?? row.identity)} connected to ${s(d.target ?? row.target)} (${s(d.protocol)})${d.parent ? ` as a hop of ${s(d.parent)} via ${s(d.linkKind)}` : ''}`;
    case 'session.end': return `session ended${d.cause ? ` (${s(d.cause)}${d.by ? ` by ${s(d.by)}` : ''})` : ''}: ${s(d.reason)}`;
    case 'pg.query': case 'pg.execute': return `SQL: ${clip(s(d.sql))}`;
    case 'pg.result': return `result ${s(d.command)} (${s(d.rowCount)} rows)`;
    case 'pg.error': case 'pg.notice': return `${s(d.severity)} ${s(d.code)}: ${clip(s(d.message))}`;
    case 'ssh.exec': return `exec: ${clip(s(d.command))}`;
    case 'ssh.line': return `typed: ${clip(s(d.line))}`;
    case 'ssh.output': case 'ssh.input': return `${row.type === 'ssh.output' ? 'output' : 'input'}: ${clip(plain(terminalBytes(d).toString('utf8')).replace(/\n/g, '⏎'), 200)}`;
    case 'ssh.exit': return d.status !== undefined ? `exit status ${s(d.status)}` : `exit signal ${s(d.signal)}`;
    case 'ssh.sftp': return `sftp ${s(d.op)} ${s(d.path)}`;
    case 'policy.block': return `blocked by rule ${s(d.rule)}: ${s(d.reason)}`;
    case 'ssh.policy': return `${s(d.step)} ${clip(s(d.operation))} (rule ${s(d.rule)})${d.approver ? ` by ${s(d.approver)}` : ''}`;
    case 'approval.requested': return `held for approval ${s(d.id)}: ${clip(s(d.operation))} (rule ${s(d.rule)})`;
    case 'approval.decided': return `approval ${s(d.id)} ${s(d.decision)}${d.approver ? ` by ${s(d.approver)}` : ''}${d.reason ? `: ${s(d.reason)}` : ''}`;
    case 'refused': return `refused ${s(d.identity)} → ${s(d.target)}: ${s(d.reason)} ${s(d.message)}`;
    case 'revoked': case 'unrevoked': {
      const what = d.identity !== undefined ? `identity ${s(d.identity)}` : `token ${s(d.tokenId)}`;
      return `${what} ${row.type === 'revoked' ? 'revoked' : 'revocation lifted'} by ${s(d.by)}${d.reason ? `: ${s(d.reason)}` : ''}` +
        `${Array.isArray(d.sessionsCut) && d.sessionsCut.length ? ` (${d.sessionsCut.length} sessions cut)` : ''}`;
    }
    default: return `${row.type} ${clip(row.data, 200)}`;
  }
}

export { microsToIso };
