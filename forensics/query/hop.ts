import type { Exchange, ExchangeIndex, ExchangePage, HopDetail, Marker, MaskNote, Response, SessionRow } from '../../common/api/index.js';
import type { CaseFile } from '../../forensics/index.js';
import { hopLinkTo, terminalMeta } from './queries.js';

/** Rows in the page that opens a hop; the rest come with `hopExchanges` as the user scrolls or seeks. */
export const FIRST_PAGE = 300;
const MAX_ROWS = 50;
const MAX_OUTPUT = 8000;
const COMMAND_TYPES: Record<string, string> = { 'pg.query': 'sql', 'pg.execute': 'sql', 'ssh.exec': 'exec', 'ssh.line': 'line', 'ssh.sftp': 'sftp' };
/** Event types that open a row of the hop view (besides every seq of the statements table). */
const OPENERS = ['session.start', ...Object.keys(COMMAND_TYPES)];

type DecisionRow = { seq: number; t: number; statement: number | null; action: string; rule: string | null; approval_id: string | null; actor: string | null; message: string | null };
type MaskRow = { seq: number; statement: number | null; field: string; rule: string | null; masked: number; count: number };
type EventRow = { seq: number; t: number; type: string; data: string };

/**
 * One hop as the hop view opens it: the light index of every row (seq, time, kind), the first page of
 * rows in full, and the timeline's markers (every command, policy step and child hop). A hop of any
 * length opens in the time of one page; the others are read with `exchangePage` when they are needed.
 */
export function hopDetail(c: CaseFile, row: SessionRow, all: SessionRow[], firstPage = FIRST_PAGE): HopDetail {
  const id = row.id;
  const index = exchangeIndex(c, id);
  const page = index.seq.length > 0 ? exchangePage(c, id, index.seq[0]!, firstPage) : { exchanges: [], nextSeq: null };
  const decisions = c.db.prepare('SELECT seq, t, action, rule, actor FROM policy_decisions WHERE session = ? ORDER BY seq').all(id) as
    Pick<DecisionRow, 'seq' | 't' | 'action' | 'rule' | 'actor'>[];
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
  const f = c.db.prepare(`SELECT f.path, f.sha256, f.integrity, f.sealed, f.intact_through, f.signed_through, f.last_seq, f.key_trusted
    FROM files f JOIN sessions s ON s.file_id = f.id WHERE s.id = ?`).get(session) as
    { path: string; sha256: string; integrity: string; sealed: number; intact_through: number; signed_through: number; last_seq: number; key_trusted: number } | undefined;
  if (!f) return null;
  const file = { path: f.path, sha256: f.sha256, integrity: f.integrity, sealed: f.sealed === 1,
    intactThrough: f.intact_through, signedThrough: f.signed_through, lastSeq: f.last_seq, keyTrusted: f.key_trusted === 1 };
  return file;
}

/** Every row of the hop view (the same rule as exchangePage opens them by), without texts or responses. */
export function exchangeIndex(c: CaseFile, session: string): ExchangeIndex {
  const rows = c.db.prepare(`SELECT e.seq, e.t, e.type, s.kind FROM events e LEFT JOIN statements s ON s.session = e.session AND s.seq = e.seq
    WHERE e.session = ? AND (s.seq IS NOT NULL OR e.type IN (${OPENERS.map(() => '?').join(', ')})) ORDER BY e.seq`)
    .raw().all(session, ...OPENERS) as [number, number, string, string | null][];
  const index: ExchangeIndex = { seq: new Array<number>(rows.length), t: new Array<number>(rows.length), kind: new Array<string>(rows.length) };
  rows.forEach(([seq, t, type, kind], i) => {
    index.seq[i] = seq;
    index.t[i] = t;
    index.kind[i] = kind ?? (type === 'session.start' ? 'session' : COMMAND_TYPES[type]!);
  });
  return index;
}

/**
 * Up to `limit` rows from the one opened at `fromSeq`: each command or statement (the statements table,
 * which also holds the lines typed at a shell) beside the responses, policy steps and masking notes that
 * followed it. What a row of this page owns is what the whole hop read in order would give it: an event
 * naming an earlier row (`statement`) is left to that row's page, and one after the page naming a row of
 * it (a pipelined result, a late approval) is fetched through the statement indexes.
 */
export function exchangePage(c: CaseFile, session: string, fromSeq: number, limit: number): ExchangePage {
  const statements = new Map((c.db.prepare('SELECT seq, kind, text FROM statements WHERE session = ? AND seq >= ? ORDER BY seq LIMIT ?')
    .all(session, fromSeq, limit + 1) as { seq: number; kind: string; text: string }[]).map((s) => [s.seq, s]));
  const opens = (r: EventRow) => r.type === 'session.start' || statements.has(r.seq) || COMMAND_TYPES[r.type] !== undefined;
  const inPage: EventRow[] = [];
  let opened = 0;
  let nextSeq: number | null = null;
  for (const r of c.db.prepare('SELECT seq, t, type, data FROM events WHERE session = ? AND seq >= ? ORDER BY seq').iterate(session, fromSeq) as Iterable<EventRow>) {
    if (opens(r) && opened++ === limit) {
      nextSeq = r.seq;
      break;
    }
    inPage.push(r);
  }
  const until = nextSeq ?? Number.MAX_SAFE_INTEGER;
  const lateSeqs = nextSeq === null ? [] : (c.db.prepare(`SELECT seq FROM results WHERE session = @session AND statement >= @from AND statement < @until AND seq >= @until
      UNION SELECT seq FROM policy_decisions WHERE session = @session AND statement >= @from AND statement < @until AND seq >= @until
      UNION SELECT seq FROM sensitive_fields WHERE session = @session AND seq >= @until AND statement >= @from AND statement < @until ORDER BY seq`)
    .pluck().all({ session, from: fromSeq, until: nextSeq }) as number[]);
  const eventAt = c.db.prepare('SELECT seq, t, type, data FROM events WHERE session = ? AND seq = ?');
  const late = lateSeqs.map((seq) => eventAt.get(session, seq) as EventRow | undefined).filter((r): r is EventRow => r !== undefined);
  const decisionAt = new Map((c.db.prepare(`SELECT seq, t, statement, action, rule, approval_id, actor, message FROM policy_decisions
    WHERE session = ? AND seq >= ? AND seq < ? ORDER BY seq`).all(session, fromSeq, until) as DecisionRow[]).map((d) => [d.seq, d]));
  const masks = c.db.prepare('SELECT seq, statement, field, rule, masked, count FROM sensitive_fields WHERE session = ? AND seq >= ? AND seq < ? ORDER BY seq')
    .all(session, fromSeq, until) as MaskRow[];
  if (late.length > 0) {
    const decision = c.db.prepare('SELECT seq, t, statement, action, rule, approval_id, actor, message FROM policy_decisions WHERE session = ? AND seq = ?');
    const maskAt = c.db.prepare('SELECT seq, statement, field, rule, masked, count FROM sensitive_fields WHERE session = ? AND seq = ?');
    for (const r of late) {
      const d = decision.get(session, r.seq) as DecisionRow | undefined;
      if (d) decisionAt.set(d.seq, d);
      masks.push(...(maskAt.all(session, r.seq) as MaskRow[]));
    }
  }
  const masksAt = groupBy(masks, (m) => m.seq);

  // Whether `ref` names a row outside this page that an event at `seq` would have found already (it owns the event).
  const elsewhere = new Map<number, boolean>();
  const statementAt = c.db.prepare('SELECT 1 FROM statements WHERE session = ? AND seq = ?');
  const isRowElsewhere = (ref: number, seq: number): boolean => {
    if (ref > seq || (ref >= fromSeq && ref < until)) return false;
    let known = elsewhere.get(ref);
    if (known === undefined) {
      const r = eventAt.get(session, ref) as EventRow | undefined;
      const stmt = statementAt.get(session, ref);
      known = r !== undefined && (stmt !== undefined || r.type === 'session.start' || COMMAND_TYPES[r.type] !== undefined);
      elsewhere.set(ref, known);
    }
    return known;
  };

  const exchanges: Exchange[] = [];
  const bySeq = new Map<number, Exchange>();
  let current: Exchange | undefined;
  let output: Response | undefined;
  // The row an event (or its policy step, or masking note) belongs to: the row it names, else `fallback`; undefined when another page's.
  const owner = (ref: unknown, seq: number, fallback: Exchange | undefined): Exchange | undefined => {
    if (typeof ref !== 'number') return fallback;
    return bySeq.get(ref) ?? (isRowElsewhere(ref, seq) ? undefined : fallback);
  };
  const take = (r: EventRow, isLate: boolean) => {
    const d = JSON.parse(r.data) as Record<string, unknown>;
    if (!isLate) {
      const stmt = statements.get(r.seq);
      let text: string | undefined;
      if (r.type === 'session.start') text = `session start${typeof d.client === 'string' ? ` from ${d.client}` : ''}`;
      else if (stmt) text = stmt.text;
      else if (COMMAND_TYPES[r.type]) text = String(d.command ?? d.sql ?? d.line ?? `${String(d.op ?? '')} ${String(d.path ?? '')}`);
      if (text !== undefined) {
        output = undefined;
        current = { seq: r.seq, t: r.t, kind: r.type === 'session.start' ? 'session' : stmt?.kind ?? COMMAND_TYPES[r.type]!, text, responses: [], policy: [], masked: [] };
        exchanges.push(current);
        bySeq.set(r.seq, current);
      }
    }
    // After the page, only what names a row of it is read (and nothing falls back to the row being read).
    const target = isLate ? (typeof d.statement === 'number' ? bySeq.get(d.statement) : undefined) : owner(d.statement, r.seq, current);
    const response = responseOf(r.seq, r.t, r.type, d);
    if (response && target) {
      if (response.kind === 'output' && !isLate) {
        if (output && target.responses.at(-1) === output) appendOutput(output, response.text ?? '');
        else target.responses.push((output = response));
      } else {
        if (!isLate) output = undefined;
        target.responses.push(response);
      }
    }
    const decision = decisionAt.get(r.seq);
    if (decision) {
      owner(decision.statement, r.seq, target)?.policy.push({ seq: decision.seq, t: decision.t, action: decision.action, rule: decision.rule,
        approvalId: decision.approval_id, actor: decision.actor, message: decision.message });
    }
    for (const m of masksAt.get(r.seq) ?? []) {
      const x = owner(m.statement, r.seq, target);
      if (x) addMask(x.masked, { field: m.field, rule: m.rule, masked: m.masked === 1, count: m.count });
    }
  };
  for (const r of inPage) take(r, false);
  for (const r of late) take(r, true);
  return { exchanges, nextSeq };
}

function responseOf(seq: number, t: number, type: string, d: Record<string, unknown>): Response | undefined {
  switch (type) {
    case 'pg.result': {
      const columns = Array.isArray(d.columns) ? d.columns.map((col) => String((col as { name?: unknown }).name ?? '')) : [];
      const rows = Array.isArray(d.rows) ? (d.rows as unknown[][]) : [];
      const rowCount = Number(d.rowCount ?? rows.length);
      // The rowCount of a command without columns (DELETE 12) counts rows changed, not rows returned.
      return { seq, t, kind: 'result', summary: String(d.command ?? ''), columns, rowCount,
        rows: rows.slice(0, MAX_ROWS).map((r) => columns.map((_, i) => cell(r[i]))),
        truncated: rows.length > MAX_ROWS || (columns.length > 0 && rows.length < rowCount) };
    }
    case 'pg.error': return { seq, t, kind: 'error', summary: `ERROR ${String(d.code ?? '')}`.trim(), text: String(d.message ?? '') };
    case 'pg.notice': return { seq, t, kind: 'notice', summary: 'NOTICE', text: String(d.message ?? '') };
    case 'ssh.output': return { seq, t, kind: 'output', summary: d.stream === 'stderr' ? 'stderr' : 'output', text: plain(bytesOf(d)) };
    case 'ssh.exit': return { seq, t, kind: 'exit', summary: d.status !== undefined ? `exit ${String(d.status)}` : `signal ${String(d.signal)}` };
    default: return undefined;
  }
}

function appendOutput(r: Response, text: string): void {
  const joined = (r.text ?? '') + text;
  r.truncated = r.truncated || joined.length > MAX_OUTPUT;
  r.text = joined.slice(0, MAX_OUTPUT);
}

function addMask(list: MaskNote[], m: MaskNote): void {
  const same = list.find((x) => x.field === m.field && x.rule === m.rule && x.masked === m.masked);
  if (same) same.count += m.count;
  else list.push(m);
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

function groupBy<T, K>(items: T[], key: (t: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

function cell(v: unknown): string {
  return v === null || v === undefined ? 'NULL' : typeof v === 'string' ? v : JSON.stringify(v);
}

function bytesOf(d: Record<string, unknown>): string {
  if (typeof d.data !== 'string') return '';
  return d.encoding === 'utf8' ? d.data : Buffer.from(d.data, 'base64').toString('utf8');
}

/** Terminal text without escape sequences, for the response column (the terminal pane plays the real bytes). */
export function plain(text: string): string {
  return text
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '')
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '')
    .replace(/\x1b[@-_]/g, '')
    .replace(/\r\n/g, '\n')
    .replace(/\r/g, '')
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
}
