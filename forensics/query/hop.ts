import type { HopDetail, Marker, SessionRow } from '../../common/api/index.js';
import { caseDb, type CaseFile } from '../store/case.js';
import { exchangeIndex, exchangePage } from './exchanges.js';
import { hopLinkTo, terminalMeta } from './workbench-rows.js';

/** Rows in the page that opens a hop; the rest come with `hopExchanges` as the user scrolls or seeks. */
export const FIRST_PAGE = 300;
type DecisionRow = { seq: number; t: number; action: string; rule: string | null; actor: string | null };

/**
 * One hop as the hop view opens it: the light index of every row (seq, time, kind), the first page of
 * rows in full, and the timeline's markers (every command, policy step and child hop). A hop of any
 * length opens in the time of one page; the others are read with `exchangePage` when they are needed.
 */
export function hopDetail(c: CaseFile, row: SessionRow, all: SessionRow[], firstPage = FIRST_PAGE): HopDetail {
  const id = row.id;
  const index = exchangeIndex(c, id);
  const page = index.seq.length > 0 ? exchangePage(c, id, index.seq[0]!, firstPage) : { exchanges: [], nextSeq: null };
  const decisions = caseDb(c).prepare('SELECT seq, t, action, rule, actor FROM policy_decisions WHERE session = ? ORDER BY seq').all(id) as
    DecisionRow[];
  const children = all.filter((s) => s.parent === id);
  const markers: Marker[] = [];
  // Commands carry their kind only (the text is in the rows): the markers stay light for a hop of 100,000 commands.
  for (let i = 0; i < index.seq.length; i++) {
    if (index.kind[i] !== 'session') markers.push({ t: index.t[i]!, seq: index.seq[i]!, kind: 'command', label: index.kind[i]! });
  }
  for (const d of decisions) {
    const kind = markerKind(d.action);
    if (kind) markers.push({ t: d.t, seq: d.seq, kind, label: `${d.action === 'timeout' ? 'timed out: no approver decided in time' : d.action}${d.rule ? ` (${d.rule})` : ''}${d.actor ? ` by ${d.actor}` : ''}` });
  }
  for (const ch of children) {
    if (ch.startMicros !== null) markers.push({ t: ch.startMicros, seq: 0, kind: 'child', label: `${ch.protocol} → ${ch.target ?? '?'}`, session: ch.id });
  }
  markers.sort((a, b) => a.t - b.t || a.seq - b.seq);

  const term = terminalMeta(c, id);
  return {
    session: row,
    link: hopLinkTo(c, id),
    file: recordingFile(c, id),
    children, index, exchanges: page.exchanges, nextSeq: page.nextSeq, markers,
    terminal: term.hasOutput ? { cols: term.cols ?? 80, rows: term.rows ?? 24 } : null,
  };
}

/** The hop's recording: custody facts, its integrity word and how far its chain and signatures hold (ChainFacts, see evidence.ts). */
export function recordingFile(c: CaseFile, session: string): HopDetail['file'] {
  const f = caseDb(c).prepare(`SELECT f.path, f.sha256, f.integrity, f.sealed, f.intact_through, f.signed_through, f.last_seq, f.key_trusted
    FROM files f JOIN sessions s ON s.file_id = f.id WHERE s.id = ?`).get(session) as
    { path: string; sha256: string; integrity: string; sealed: number; intact_through: number; signed_through: number; last_seq: number; key_trusted: number } | undefined;
  if (!f) return null;
  const file = { path: f.path, sha256: f.sha256, integrity: f.integrity, sealed: f.sealed === 1,
    intactThrough: f.intact_through, signedThrough: f.signed_through, lastSeq: f.last_seq, keyTrusted: f.key_trusted === 1 };
  return file;
}

function markerKind(action: string): Marker['kind'] | undefined {
  if (action === 'block' || action === 'blocked' || action === 'refused') return 'block';
  if (action === 'review' || action === 'held') return 'held';
  if (action === 'approved') return 'approved';
  if (action === 'denied') return 'denied';
  if (action === 'timeout') return 'timeout';
  if (action === 'revoked') return 'revoked';
  return undefined;
}

