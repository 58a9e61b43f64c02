import { microsToIso } from '../../common/clock.js';
import { ForensicsError } from '../errors.js';
import { caseDb, type CaseFile } from './case.js';
import type { SessionSummary } from '../../common/api/index.js';

export type { SessionSummary };

interface SessionRow {
  id: string; parent: string | null; link_kind: string | null; root_identity: string | null; identity: string | null;
  target: string | null; protocol: string; start_t: number | null; end_t: number | null; integrity: string; depth: number;
  sealed: number; end_reason: string | null;
}

const SELECT = `SELECT s.id, s.parent, s.link_kind, s.root_identity, s.identity, s.target, s.protocol, s.start_t, s.end_t,
  s.integrity, s.depth, f.sealed, s.end_reason FROM sessions s JOIN files f ON f.id = s.file_id WHERE f.state = 'complete'`;

/** Sessions in start order; the gateway's own audit recordings only with `includeGateway`. */
export function listSessions(c: CaseFile, opts: { includeGateway?: boolean } = {}): SessionSummary[] {
  const where = opts.includeGateway ? '' : " AND s.protocol != 'gateway'";
  return (caseDb(c).prepare(`${SELECT}${where} ORDER BY s.start_t, s.id`).all() as SessionRow[]).map(toSummary);
}

export function getSession(c: CaseFile, id: string): SessionSummary {
  const row = caseDb(c).prepare(`${SELECT} AND s.id = ?`).get(id) as SessionRow | undefined;
  if (!row) throw new ForensicsError('SESSION_UNKNOWN', `no session ${id} in the case file ${c.path}`);
  return toSummary(row);
}

/**
 * The full id of a session named as the workbench and `sessions` show it: the full id, its random part
 * (after the UTC start), the shortened `abcd1234…wxyz9876` form, or a prefix of the random part of at
 * least 6 characters. A name that fits none, or several, is refused with the candidates.
 */
export function resolveSessionId(c: CaseFile, name: string): string {
  const ids = (caseDb(c).prepare("SELECT s.id FROM sessions s JOIN files f ON f.id = s.file_id WHERE f.state = 'complete'").all() as { id: string }[]).map((r) => r.id);
  if (ids.includes(name)) return name;
  const wanted = name.trim();
  const random = (id: string) => (id.includes('-') ? id.slice(id.indexOf('-') + 1) : id);
  const short = /^([^…]+)(?:…|\.\.\.)([^…]+)$/.exec(wanted);
  const fits = (id: string) => {
    const tail = random(id);
    if (short) return tail.startsWith(short[1]!) && tail.endsWith(short[2]!);
    return tail === wanted || (wanted.length >= 6 && tail.startsWith(wanted));
  };
  const found = ids.filter(fits);
  if (found.length === 1) return found[0]!;
  if (found.length > 1) {
    throw new ForensicsError('SESSION_AMBIGUOUS', `${name} names ${found.length} sessions in the case file ${c.path}: ${found.slice(0, 5).join(', ')}${found.length > 5 ? ', …' : ''}`);
  }
  throw new ForensicsError('SESSION_UNKNOWN', `no session ${name} in the case file ${c.path} (give its id as \`hopscope sessions\` lists it, or the short form the workbench shows)`);
}

function toSummary(r: SessionRow): SessionSummary {
  return {
    id: r.id, parent: r.parent, linkKind: r.link_kind, rootIdentity: r.root_identity, identity: r.identity, target: r.target,
    protocol: r.protocol, start: r.start_t === null ? null : microsToIso(r.start_t), end: r.end_t === null ? null : microsToIso(r.end_t),
    integrity: r.integrity, depth: r.depth, startMicros: r.start_t, endMicros: r.end_t, sealed: r.sealed === 1, endReason: r.end_reason,
  };
}

export interface StoredEvent {
  session: string;
  seq: number;
  t: number;
  type: string;
  data: Record<string, unknown>;
  /** Part of the verified prefix of its recording. */
  intact: boolean;
}

/** Events of a session with t0 <= t <= t1 (µs), in sequence order; lazily, for long sessions. */
export function* iterateEvents(c: CaseFile, session: string, t0 = -Infinity, t1 = Infinity): Generator<StoredEvent> {
  const stmt = caseDb(c).prepare('SELECT session, seq, t, type, data, intact FROM events WHERE session = ? AND t >= ? AND t <= ? ORDER BY seq');
  const lo = Number.isFinite(t0) ? t0 : Number.MIN_SAFE_INTEGER;
  const hi = Number.isFinite(t1) ? t1 : Number.MAX_SAFE_INTEGER;
  for (const r of stmt.iterate(session, lo, hi) as Iterable<{ session: string; seq: number; t: number; type: string; data: string; intact: number }>) {
    yield { session: r.session, seq: r.seq, t: r.t, type: r.type, data: JSON.parse(r.data) as Record<string, unknown>, intact: r.intact === 1 };
  }
}

/** The library call the workbench uses for a time window (bounded by `limit`, default 10,000 events). */
export function eventsBetween(c: CaseFile, session: string, t0: number, t1: number, limit = 10_000): StoredEvent[] {
  getSession(c, session);
  const out: StoredEvent[] = [];
  for (const e of iterateEvents(c, session, t0, t1)) {
    if (out.length >= limit) break;
    out.push(e);
  }
  return out;
}
