import type { CaseFileEntry, GraphLink, HopCounts, SessionRow, TerminalChunks, TextMatch } from '../../common/api/index.js';
import { caseDb, type CaseFile } from '../store/case.js';
import { listSessions, type SessionSummary } from '../store/queries.js';
import { chainFacts, revocationFacts, type ChainFacts, type EvidenceRow, type RevocationFact } from './evidence.js';

/*
 * Read-only queries the workbench needs and forensics/index.ts does not name
 * (yet): the files table with findings, counts for every session in a few
 * aggregate queries (buildChain runs six per session, too slow for 5,000),
 * FTS5 search, the hop links and the terminal stream after a seq. They read
 * the case's tables as documented in forensics/store/schema.ts, never write.
 */

const ZERO: HopCounts = { statements: 0, commands: 0, errors: 0, blocked: 0, held: 0, approved: 0, denied: 0, timedOut: 0, maskedValues: 0, unmaskedSensitive: 0 };
const BLOCKED = new Set(['block', 'blocked', 'refused']);
const HELD = new Set(['review', 'held']);

export function caseCounts(c: CaseFile): { sessions: number; files: number; events: number } {
  const n = (sql: string) => (caseDb(c).prepare(sql).get() as { n: number }).n;
  return {
    sessions: n("SELECT count(*) AS n FROM sessions WHERE protocol != 'gateway'"),
    files: n("SELECT count(*) AS n FROM files WHERE state = 'complete'"),
    events: n("SELECT coalesce(sum(events), 0) AS n FROM files WHERE state = 'complete'"),
  };
}

export function fileEntries(c: CaseFile): CaseFileEntry[] {
  const files = caseDb(c).prepare(`SELECT id, path, sha256, size, imported_at, session_id, protocol, integrity, sealed, key_trusted, events
    FROM files WHERE state = 'complete' ORDER BY imported_at, id`).all() as
    { id: number; path: string; sha256: string; size: number; imported_at: number; session_id: string | null; protocol: string | null;
      integrity: string; sealed: number; key_trusted: number; events: number }[];
  const findings = caseDb(c).prepare('SELECT kind, line, seq, message FROM findings WHERE file_id = ? ORDER BY line LIMIT 20');
  return files.map((f) => ({
    path: f.path, sha256: f.sha256, size: f.size, importedAt: new Date(Math.floor(f.imported_at / 1000)).toISOString(),
    session: f.session_id, protocol: f.protocol, integrity: f.integrity, sealed: f.sealed === 1, keyTrusted: f.key_trusted === 1, events: f.events,
    findings: findings.all(f.id) as CaseFileEntry['findings'],
  }));
}

/** Every session (without the gateway's audit files) with its counts, chain facts and revocation, in start order. */
export function sessionRows(c: CaseFile): EvidenceRow[] {
  const counts = new Map<string, HopCounts>();
  const get = (s: string) => {
    let x = counts.get(s);
    if (!x) counts.set(s, (x = { ...ZERO }));
    return x;
  };
  for (const r of caseDb(c).prepare('SELECT session, kind, count(*) AS n FROM statements GROUP BY session, kind').iterate() as Iterable<{ session: string; kind: string; n: number }>) {
    if (r.kind === 'sql') get(r.session).statements += r.n;
    else get(r.session).commands += r.n;
  }
  for (const r of caseDb(c).prepare("SELECT session, count(*) AS n FROM results WHERE kind = 'error' GROUP BY session").iterate() as Iterable<{ session: string; n: number }>) {
    get(r.session).errors = r.n;
  }
  const revoked = new Set<string>();
  for (const r of caseDb(c).prepare('SELECT session, action, count(DISTINCT coalesce(statement, seq)) AS n FROM policy_decisions GROUP BY session, action')
    .iterate() as Iterable<{ session: string; action: string; n: number }>) {
    const x = get(r.session);
    if (BLOCKED.has(r.action)) x.blocked += r.n;
    else if (HELD.has(r.action)) x.held += r.n;
    else if (r.action === 'approved') x.approved += r.n;
    else if (r.action === 'denied') x.denied += r.n;
    else if (r.action === 'timeout') x.timedOut = (x.timedOut ?? 0) + r.n;
    else if (r.action === 'revoked') revoked.add(r.session);
  }
  for (const r of caseDb(c).prepare('SELECT session, masked, sum(count) AS n FROM sensitive_fields GROUP BY session, masked').iterate() as
    Iterable<{ session: string; masked: number; n: number }>) {
    if (r.masked) get(r.session).maskedValues += r.n;
    else get(r.session).unmaskedSensitive += r.n;
  }
  const inferred = new Map((caseDb(c).prepare('SELECT child, inferred FROM hops').all() as { child: string; inferred: number }[]).map((h) => [h.child, h.inferred === 1]));
  const chains = chainFacts(c);
  const revocations = revocationFacts(c);
  return listSessions(c).map((s) => toRow(s, counts.get(s.id) ?? { ...ZERO }, inferred.get(s.id) ?? false, revoked.has(s.id),
    chains.get(s.id) ?? NO_CHAIN, revocations.get(s.id) ?? null));
}

/** What a gateway's own recording holds, counted by kind of event. */
export interface AuditCounts { revocations: number; unrevocations: number; refusals: number; events: number }
export type GatewayRecordingRow = EvidenceRow & { audit: AuditCounts };

/** The gateways' own recordings (protocol gateway), as rows the hop view can open, with what they hold. */
export function gatewayRows(c: CaseFile): GatewayRecordingRow[] {
  const chains = chainFacts(c);
  const count = caseDb(c).prepare('SELECT type, count(*) AS n FROM events WHERE session = ? GROUP BY type');
  return listSessions(c, { includeGateway: true }).filter((s) => s.protocol === 'gateway').map((s) => {
    const by = new Map((count.all(s.id) as { type: string; n: number }[]).map((r) => [r.type, r.n]));
    const audit = { revocations: by.get('revoked') ?? 0, unrevocations: by.get('unrevoked') ?? 0, refusals: by.get('refused') ?? 0,
      events: [...by.values()].reduce((a, b) => a + b, 0) };
    return { ...toRow(s, { ...ZERO }, false, false, chains.get(s.id) ?? NO_CHAIN, null), audit };
  });
}

const NO_CHAIN: ChainFacts = { intactThrough: 0, signedThrough: 0, lastSeq: 0, keyTrusted: false };

export function toRow(s: SessionSummary, counts: HopCounts, inferred: boolean, revoked: boolean, chain: ChainFacts = NO_CHAIN,
  revocation: RevocationFact | null = null): EvidenceRow {
  const row: SessionRow = {
    id: s.id, parent: s.parent, linkKind: s.linkKind, inferred, rootIdentity: s.rootIdentity, identity: s.identity, target: s.target,
    protocol: s.protocol, start: s.start, end: s.end, startMicros: s.startMicros, endMicros: s.endMicros, integrity: s.integrity,
    sealed: s.sealed, depth: s.depth, endReason: s.endReason, counts,
    revoked: revoked || revocation !== null || /revok/i.test(s.endReason ?? ''),
  };
  return { ...row, chain, revocation };
}

interface HopLinkRow { child: string; parent: string; link_kind: string; inferred: number; evidence: string | null }

const toLink = (h: HopLinkRow, parentMissing: boolean): GraphLink => ({
  from: h.parent, to: h.child, kind: h.link_kind, inferred: h.inferred === 1,
  evidence: h.evidence ? JSON.parse(h.evidence) as unknown : null, parentMissing,
});

export function hopLinks(c: CaseFile): GraphLink[] {
  const ids = new Set((caseDb(c).prepare('SELECT id FROM sessions').all() as { id: string }[]).map((r) => r.id));
  return (caseDb(c).prepare('SELECT child, parent, link_kind, inferred, evidence FROM hops ORDER BY child').all() as HopLinkRow[])
    .map((h) => toLink(h, !ids.has(h.parent)));
}

/** The link to one hop from its parent (a primary-key lookup: the hop view must not read every link of a 5,000-session case). */
export function hopLinkTo(c: CaseFile, child: string): GraphLink | null {
  const h = caseDb(c).prepare(`SELECT child, parent, link_kind, inferred, evidence, EXISTS (SELECT 1 FROM sessions s WHERE s.id = hops.parent) AS known
    FROM hops WHERE child = ?`).get(child) as (HopLinkRow & { known: number }) | undefined;
  return h ? toLink(h, h.known === 0) : null;
}

/** FTS5 over commands and SQL: each word a quoted prefix term, all required. */
export function searchStatements(c: CaseFile, text: string, limit = 500): TextMatch[] {
  const terms = text.split(/\s+/).map((w) => w.replace(/"/g, '')).filter(Boolean).map((w) => `"${w}"*`);
  if (terms.length === 0) return [];
  return caseDb(c).prepare(`SELECT s.session, s.seq, s.kind, s.text FROM statements_fts f JOIN statements s ON s.id = f.rowid
    WHERE statements_fts MATCH ? ORDER BY s.t LIMIT ?`).all(terms.join(' '), limit) as TextMatch[];
}

export interface TerminalMeta {
  channel: unknown;
  cols: number | null;
  rows: number | null;
  hasOutput: boolean;
}

export function terminalMeta(c: CaseFile, session: string): TerminalMeta {
  const m = caseDb(c).prepare('SELECT cols, rows, terminal_channel, protocol FROM sessions WHERE id = ?').get(session) as
    { cols: number | null; rows: number | null; terminal_channel: string | null; protocol: string } | undefined;
  const any = caseDb(c).prepare("SELECT 1 FROM events WHERE session = ? AND type = 'ssh.output' LIMIT 1").get(session);
  return {
    channel: m?.terminal_channel ? JSON.parse(m.terminal_channel) as unknown : null,
    cols: m?.cols ?? null, rows: m?.rows ?? null, hasOutput: m?.protocol === 'ssh' && any !== undefined,
  };
}

/** The terminal's output and resizes after `afterSeq`, as screenAt applies them (same channel rule). */
export function terminalChunks(c: CaseFile, session: string, afterSeq: number, limit: number): TerminalChunks {
  const { channel } = terminalMeta(c, session);
  const rows = caseDb(c).prepare(`SELECT seq, t, type, data FROM events WHERE session = ? AND seq > ? AND type IN ('ssh.output', 'ssh.resize')
    ORDER BY seq LIMIT ?`).all(session, afterSeq, limit + 1) as { seq: number; t: number; type: string; data: string }[];
  const chunks: TerminalChunks['chunks'] = [];
  for (const r of rows.slice(0, limit)) {
    const d = JSON.parse(r.data) as Record<string, unknown>;
    if ((d.channel ?? null) !== channel) continue;
    if (r.type === 'ssh.resize') {
      if (typeof d.cols === 'number' && typeof d.rows === 'number') chunks.push({ seq: r.seq, t: r.t, cols: d.cols, rows: d.rows });
    } else if (typeof d.data === 'string') {
      chunks.push({ seq: r.seq, t: r.t, data: d.encoding === 'utf8' ? Buffer.from(d.data, 'utf8').toString('base64') : d.data });
    }
  }
  const last = rows.slice(0, limit).at(-1);
  return { chunks, done: rows.length <= limit, nextSeq: last?.seq ?? afterSeq };
}
