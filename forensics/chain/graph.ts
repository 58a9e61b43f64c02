import { microsToIso } from '../../common/clock.js';
import { revocationFacts } from '../query/evidence.js';
import { caseDb, type CaseFile } from '../store/case.js';
import { getSession, listSessions, type SessionSummary } from '../store/queries.js';
import type { HopCounts } from '../../common/api/index.js';

export interface HopLink {
  kind: string; // hop-token | token-reuse | address-time | …
  inferred: boolean;
  evidence: unknown;
  /** The parent session is not in this case file. */
  parentMissing: boolean;
}

/** A hop's counts: the workbench's type (common/api), filled here. */
export type { HopCounts };

export interface HopCommand {
  seq: number;
  time: string;
  kind: string; // sql | exec | line | sftp
  text: string;
}

export interface HopSensitive {
  field: string;
  rule: string | null;
  masked: boolean;
  count: number;
}

export interface HopDecision {
  seq: number;
  time: string;
  action: string;
  rule: string | null;
  approvalId: string | null;
  /** Who decided: the approver, who revoked, who was refused. */
  actor: string | null;
  statement: string | null;
  /** The reason recorded with the decision (a rule's, an approver's, a revoker's). */
  message: string | null;
}

/** How a session ended, as its recording says (`session.end`): cause (END_CAUSES), reason, and who revoked it. */
export interface HopEnd {
  cause: string | null;
  reason: string | null;
  actor: string | null;
}

/** What the gateway's own recordings say: refusals before any session, revocations and their lifting, with who did them. */
export interface GatewayFact {
  /** The gateway recording (protocol `gateway`). */
  recording: string;
  seq: number;
  time: string;
  action: string; // refused | revoked | unrevoked
  /** refused: the error code; revoked: null. */
  rule: string | null;
  actor: string | null;
  message: string | null;
}

export interface ChainHop extends SessionSummary {
  link: HopLink | null;
  counts: HopCounts;
  /** What this hop issued, in order (the first MAX_COMMANDS). */
  commands: HopCommand[];
  commandsOmitted: number;
  /** Sensitive fields returned to this hop, masked or not. */
  sensitive: HopSensitive[];
  decisions: HopDecision[];
  ended: HopEnd;
  children: ChainHop[];
}

export interface ChainRoot {
  /** The identity that triggered this chain. */
  identity: string;
  sessions: ChainHop[];
}

export interface ChainEdge {
  from: string;
  to: string;
  kind: string; // triggered (identity → session) | connects (session → target) | a link kind (session → session)
  inferred: boolean;
  evidence?: unknown;
}

export interface Chain {
  roots: ChainRoot[];
  edges: ChainEdge[];
  gateway: GatewayFact[];
}

const MAX_COMMANDS = 500;

/** The forest of hops from each root identity; with `session`, only the tree that contains it. */
export function buildChain(c: CaseFile, opts: { session?: string } = {}): Chain {
  const all = listSessions(c);
  const byId = new Map(all.map((s) => [s.id, s]));
  const hopRows = caseDb(c).prepare('SELECT child, parent, link_kind, inferred, evidence FROM hops').all() as
    { child: string; parent: string; link_kind: string; inferred: number; evidence: string | null }[];
  const links = new Map(hopRows.map((h) => [h.child, h]));
  const hops = new Map<string, ChainHop>();
  const revocations = revocationFacts(c);
  for (const s of all) {
    const h = links.get(s.id);
    const link = h ? { kind: h.link_kind, inferred: h.inferred === 1, evidence: h.evidence ? JSON.parse(h.evidence) as unknown : null, parentMissing: !byId.has(h.parent) } : null;
    const hop: ChainHop = { ...s, link, ...details(c, s.id), children: [] };
    // A session.end written before gateways named the revoker (or cut as a descendant) says no one: the gateway's own record does.
    if (hop.ended.actor === null && (hop.ended.cause === 'revoked' || hop.ended.cause === 'ancestor-revoked')) hop.ended.actor = revocations.get(s.id)?.by ?? null;
    hops.set(s.id, hop);
  }
  const tops: ChainHop[] = [];
  for (const hop of hops.values()) {
    const parent = hop.parent ? hops.get(hop.parent) : undefined;
    if (parent && parent !== hop) parent.children.push(hop);
    else tops.push(hop);
  }
  let selected = tops;
  if (opts.session) {
    getSession(c, opts.session);
    let top = hops.get(opts.session)!;
    const seen = new Set<string>();
    while (top.parent && hops.has(top.parent) && !seen.has(top.id)) {
      seen.add(top.id);
      top = hops.get(top.parent)!;
    }
    selected = [top];
  }
  const roots = new Map<string, ChainRoot>();
  for (const top of selected) {
    const identity = top.identity ?? '(unknown identity)';
    if (!roots.has(identity)) roots.set(identity, { identity, sessions: [] });
    roots.get(identity)!.sessions.push(top);
  }
  const edges: ChainEdge[] = [];
  const walk = (hop: ChainHop, top: boolean) => {
    if (top) edges.push({ from: `identity:${hop.identity ?? '(unknown identity)'}`, to: hop.id, kind: 'triggered', inferred: false });
    if (hop.link) edges.push({ from: hop.parent!, to: hop.id, kind: hop.link.kind, inferred: hop.link.inferred, evidence: hop.link.evidence });
    if (hop.target) edges.push({ from: hop.id, to: `target:${hop.target}`, kind: 'connects', inferred: false });
    for (const child of hop.children) walk(child, false);
  };
  for (const top of selected) walk(top, true);
  return { roots: [...roots.values()], edges, gateway: gatewayFacts(c) };
}

/** The decisions the importer read off the gateway's recordings, in time order. */
function gatewayFacts(c: CaseFile): GatewayFact[] {
  const rows = caseDb(c).prepare(`SELECT p.session, p.seq, p.t, p.action, p.rule, p.actor, p.message FROM policy_decisions p
    JOIN sessions s ON s.id = p.session WHERE s.protocol = 'gateway' ORDER BY p.t, p.session, p.seq`).all() as
    { session: string; seq: number; t: number; action: string; rule: string | null; actor: string | null; message: string | null }[];
  return rows.map((r) => ({ recording: r.session, seq: r.seq, time: microsToIso(r.t), action: r.action, rule: r.rule, actor: r.actor, message: r.message }));
}

function details(c: CaseFile, session: string): Pick<ChainHop, 'counts' | 'commands' | 'commandsOmitted' | 'sensitive' | 'decisions' | 'ended'> {
  const q = <T>(sql: string) => caseDb(c).prepare(sql).all(session) as T[];
  const stmts = q<{ kind: string; n: number }>('SELECT kind, count(*) AS n FROM statements WHERE session = ? GROUP BY kind');
  const actions = q<{ action: string; n: number }>('SELECT action, count(DISTINCT coalesce(statement, seq)) AS n FROM policy_decisions WHERE session = ? GROUP BY action');
  const errors = q<{ n: number }>("SELECT count(*) AS n FROM results WHERE session = ? AND kind = 'error'")[0]!.n;
  const sensitive = q<{ field: string; rule: string | null; masked: number; count: number }>(
    'SELECT field, rule, masked, sum(count) AS count FROM sensitive_fields WHERE session = ? GROUP BY field, rule, masked ORDER BY field, rule');
  const commands = caseDb(c).prepare(`SELECT seq, t, kind, text FROM statements WHERE session = ? ORDER BY seq LIMIT ${MAX_COMMANDS}`).all(session) as
    { seq: number; t: number; kind: string; text: string }[];
  const decisions = q<{ seq: number; t: number; action: string; rule: string | null; approval_id: string | null; actor: string | null; message: string | null; text: string | null }>(
    `SELECT p.seq, p.t, p.action, p.rule, p.approval_id, p.actor, p.message, s.text FROM policy_decisions p
     LEFT JOIN statements s ON s.session = p.session AND s.seq = p.statement WHERE p.session = ? ORDER BY p.seq`);
  const end = q<{ end_cause: string | null; end_reason: string | null; end_actor: string | null }>('SELECT end_cause, end_reason, end_actor FROM sessions WHERE id = ?')[0];
  const byKind = (k: string) => stmts.find((s) => s.kind === k)?.n ?? 0;
  const act = (...names: string[]) => actions.filter((a) => names.includes(a.action)).reduce((n, a) => n + a.n, 0);
  const total = stmts.reduce((n, s) => n + s.n, 0);
  return {
    counts: {
      statements: byKind('sql'), commands: total - byKind('sql'), errors,
      blocked: act('block', 'blocked', 'refused'), held: act('review', 'held'), approved: act('approved'), denied: act('denied', 'timeout'),
      maskedValues: sensitive.filter((s) => s.masked).reduce((n, s) => n + s.count, 0),
      unmaskedSensitive: sensitive.filter((s) => !s.masked).reduce((n, s) => n + s.count, 0),
    },
    commands: commands.map((r) => ({ seq: r.seq, time: microsToIso(r.t), kind: r.kind, text: r.text })),
    commandsOmitted: Math.max(0, total - commands.length),
    sensitive: sensitive.map((s) => ({ field: s.field, rule: s.rule, masked: s.masked === 1, count: s.count })),
    decisions: decisions.map((d) => ({
      seq: d.seq, time: microsToIso(d.t), action: d.action, rule: d.rule, approvalId: d.approval_id, actor: d.actor, statement: d.text, message: d.message,
    })),
    ended: { cause: end?.end_cause ?? null, reason: end?.end_reason ?? null, actor: end?.end_actor ?? null },
  };
}

/** Every hop of a chain, depth first. */
export function* hopsOf(chain: Chain): Generator<ChainHop> {
  const walk = function* (h: ChainHop): Generator<ChainHop> {
    yield h;
    for (const child of h.children) yield* walk(child);
  };
  for (const root of chain.roots) for (const s of root.sessions) yield* walk(s);
}
