import type { Exchange, ExchangeIndex, ExchangePage, HopDetail, Marker, PolicyStep, SessionRow } from '../../common/api/index.js';
import { caseDb, type CaseFile } from '../store/case.js';
import { revokedWhat } from './evidence.js';
import { FIRST_PAGE, recordingFile } from './hop.js';

/*
 * The gateway's own recording (protocol `gateway`: its start and stop, refusals before a session
 * exists, revocations and their lifting, its journal of sessions) opened in the hop view: one row per
 * event, in a sentence, with who did it as the row's policy step and every fact of the event beside it.
 * Rows carry `facts` (an extra property the renderer reads, see renderer/src/evidence.ts): a session a
 * fact names is a link to that hop.
 */

/** One fact of a gateway event: a label, its value, and the session it names (to link). */
export interface GatewayFact {
  label: string;
  value: string;
  session?: string;
}

export type GatewayExchange = Exchange & { facts: GatewayFact[] };

/** Signatures are not rows: the integrity badge and the row marks say what they prove. */
const NOT_ROWS = ['checkpoint', 'seal'];

type EventRow = { seq: number; t: number; type: string; data: string };
type DecisionRow = { seq: number; t: number; action: string; rule: string | null; approval_id: string | null; actor: string | null; message: string | null };

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null);

export function gatewayIndex(c: CaseFile, session: string): ExchangeIndex {
  const rows = caseDb(c).prepare(`SELECT seq, t, type FROM events WHERE session = ? AND type NOT IN (${NOT_ROWS.map(() => '?').join(', ')}) ORDER BY seq`)
    .raw().all(session, ...NOT_ROWS) as [number, number, string][];
  return { seq: rows.map((r) => r[0]), t: rows.map((r) => r[1]), kind: rows.map((r) => r[2]) };
}

export function gatewayDetail(c: CaseFile, row: SessionRow, firstPage = FIRST_PAGE): HopDetail {
  const index = gatewayIndex(c, row.id);
  const page = index.seq.length > 0 ? gatewayPage(c, row.id, index.seq[0]!, firstPage) : { exchanges: [], nextSeq: null };
  const markers: Marker[] = [];
  const events = caseDb(c).prepare(`SELECT seq, t, type, data FROM events WHERE session = ? AND type IN ('revoked', 'unrevoked', 'refused') ORDER BY seq`)
    .all(row.id) as EventRow[];
  for (const e of events) {
    const d = JSON.parse(e.data) as Record<string, unknown>;
    const [text] = sentence(e.type, d);
    markers.push({ t: e.t, seq: e.seq, kind: e.type === 'revoked' ? 'revoked' : e.type === 'refused' ? 'block' : 'approved', label: text });
  }
  for (let i = 0; i < index.seq.length; i++) {
    if (!['revoked', 'unrevoked', 'refused'].includes(index.kind[i]!)) markers.push({ t: index.t[i]!, seq: index.seq[i]!, kind: 'command', label: index.kind[i]! });
  }
  markers.sort((a, b) => a.t - b.t || a.seq - b.seq);
  return { session: row, link: null, file: recordingFile(c, row.id), children: [], index, exchanges: page.exchanges, nextSeq: page.nextSeq, markers, terminal: null };
}

/** Up to `limit` rows (events) of a gateway recording from the one at `fromSeq`. */
export function gatewayPage(c: CaseFile, session: string, fromSeq: number, limit: number): ExchangePage {
  const rows = caseDb(c).prepare(`SELECT seq, t, type, data FROM events WHERE session = ? AND seq >= ? AND type NOT IN (${NOT_ROWS.map(() => '?').join(', ')})
    ORDER BY seq LIMIT ?`).all(session, fromSeq, ...NOT_ROWS, limit + 1) as EventRow[];
  const page = rows.slice(0, limit);
  const last = page.at(-1)?.seq ?? fromSeq;
  const decisions = new Map((caseDb(c).prepare(`SELECT seq, t, action, rule, approval_id, actor, message FROM policy_decisions
    WHERE session = ? AND seq >= ? AND seq <= ?`).all(session, fromSeq, last) as DecisionRow[]).map((d) => [d.seq, d]));
  const exchanges: GatewayExchange[] = page.map((r) => exchangeOf(r, decisions.get(r.seq)));
  return { exchanges, nextSeq: rows.length > limit ? rows[limit]!.seq : null };
}

function exchangeOf(r: EventRow, decision: DecisionRow | undefined): GatewayExchange {
  const d = JSON.parse(r.data) as Record<string, unknown>;
  const [text, step] = sentence(r.type, d);
  const policy: PolicyStep[] = [];
  if (step) {
    // The event's own words; the importer's reading of it (policy_decisions) where the event has none.
    policy.push({ seq: r.seq, t: r.t, action: step.action, rule: step.rule ?? decision?.rule ?? null, approvalId: null,
      // A refusal has no actor: the identity refused is in its facts, not a `by`.
      actor: step.action === 'refused' ? null : str(d.by) ?? decision?.actor ?? null, message: step.message });
  }
  return { seq: r.seq, t: r.t, kind: r.type, text, responses: [], policy, masked: [], facts: factsOf(r.type, d) };
}

/** A gateway event in a sentence, and the policy step it is (revocation, its lifting, a refusal). */
function sentence(type: string, d: Record<string, unknown>): [string, { action: string; rule: string | null; message: string | null } | null] {
  const what = revokedWhat(d) ?? 'an unnamed identity or token';
  const by = str(d.by);
  switch (type) {
    case 'gateway.start': return [`gateway started${str(d.keyId) ? ` (signing key ${str(d.keyId)})` : ''}`, null];
    case 'gateway.stop': return [`gateway stopped${typeof d.sessionsEnded === 'number' ? `, ending ${d.sessionsEnded} live session${d.sessionsEnded === 1 ? '' : 's'}` : ''}`, null];
    case 'revoked': {
      const cut = Array.isArray(d.sessionsCut) ? d.sessionsCut.length : 0;
      return [`${what} revoked${by ? ` by ${by}` : ' (no actor recorded)'}${cut ? `, ${cut} live session${cut === 1 ? '' : 's'} cut` : ''}`,
        { action: 'revoked', rule: null, message: str(d.reason) }];
    }
    case 'unrevoked': return [`revocation of ${what} lifted${by ? ` by ${by}` : ' (no actor recorded)'}`, { action: 'unrevoked', rule: null, message: str(d.reason) }];
    case 'refused': {
      const who = str(d.identity);
      const target = str(d.target);
      return [`refused ${str(d.protocol) ?? ''} login${who ? ` of ${who}` : ''}${target ? ` to ${target}` : ''}${str(d.client) ? ` from ${str(d.client)}` : ''}`.replace(/\s+/g, ' '),
        { action: 'refused', rule: str(d.reason), message: str(d.message) }];
    }
    case 'session.end': return [`gateway recording closed${str(d.reason) ? `: ${str(d.reason)}` : ''}`, null];
    default: return [type, null];
  }
}

const LABELS: Record<string, string> = {
  by: 'actor', via: 'via (as declared)', client: 'client', reason: 'reason', message: 'told the client', identity: 'identity', tokenId: 'token',
  target: 'target', protocol: 'protocol', detail: 'detail', tokenKind: 'token kind', keyId: 'signing key', config: 'config', sessionsEnded: 'sessions ended',
};

/** Every fact of the event, in a stable order; sessions an event names are links. */
function factsOf(type: string, d: Record<string, unknown>): GatewayFact[] {
  const out: GatewayFact[] = [];
  for (const [k, v] of Object.entries(d)) {
    if (v === null || v === undefined || v === '') continue;
    if (k === 'sessionsCut' && Array.isArray(v)) {
      for (const s of v) if (typeof s === 'string') out.push({ label: 'session cut', value: s, session: s });
      if (v.length === 0) out.push({ label: 'sessions cut', value: 'none live' });
    } else if (k === 'lifted' && Array.isArray(v)) {
      for (const l of v as Record<string, unknown>[]) {
        out.push({ label: 'lifted', value: `${revokedWhat(l) ?? '?'}${str(l.by) ? `, revoked by ${str(l.by)}` : ''}${typeof l.at === 'number' ? ` at ${new Date(l.at * 1000).toISOString()}` : ''}` });
      }
    } else if (k === 'revocation' && v && typeof v === 'object') {
      const n = v as Record<string, unknown>;
      out.push({ label: 'revocation', value: `${revokedWhat(n) ?? '?'}${str(n.by) ? `, revoked by ${str(n.by)}` : ''}${str(n.reason) ? `: ${str(n.reason)}` : ''}` });
    } else if (k === 'at' && typeof v === 'number') {
      out.push({ label: 'at', value: new Date(v * 1000).toISOString().replace('.000Z', 'Z') }); // seconds since the epoch
    } else if (k === 'listeners' && v && typeof v === 'object') {
      for (const [proto, addr] of Object.entries(v as Record<string, unknown>)) if (addr) out.push({ label: `${proto} listener`, value: address(addr) });
    } else if (/session/i.test(k) && typeof v === 'string') {
      out.push({ label: k, value: v, session: v });
    } else {
      out.push({ label: LABELS[k] ?? k, value: typeof v === 'string' ? v : JSON.stringify(v) });
    }
  }
  if (type === 'revoked' && d.by === undefined) out.unshift({ label: 'actor', value: 'not recorded' });
  return out;
}

/** A listener as `host:port` (the gateway records `{ host, port }` or a string). */
function address(v: unknown): string {
  if (typeof v === 'string') return v;
  const a = v as { host?: unknown; port?: unknown; address?: unknown } | null;
  if (a && typeof a === 'object' && (a.port !== undefined)) return `${String(a.host ?? a.address ?? '')}:${String(a.port)}`;
  return JSON.stringify(v);
}
