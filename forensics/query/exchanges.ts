import type { Exchange, ExchangeIndex, ExchangePage, MaskNote, Response } from '../../common/api/index.js';
import { plain, terminalBytes } from '../replay/emulator.js';
import { caseDb, type CaseFile } from '../store/case.js';
import { TypedAhead } from './typed-ahead.js';

/*
 * Pairing: each command or statement of a hop beside what came back (results, errors, output, exit),
 * its policy steps and masking notes. The one reading of a hop's events that the workbench's hop view
 * (`exchangePage`), `hopscope show` and the HTML report's per-hop timelines all use.
 */

const MAX_ROWS = 50;
const MAX_OUTPUT = 8000;
const MAX_EVENT_TEXT = 160;
export const COMMAND_TYPES: Record<string, string> = { 'pg.query': 'sql', 'pg.execute': 'sql', 'ssh.exec': 'exec', 'ssh.line': 'line', 'ssh.sftp': 'sftp' };
/** Event types that open a row of the hop view (besides every seq of the statements table). */
const OPENERS = ['session.start', ...Object.keys(COMMAND_TYPES)];
/** Events that only carry a policy step: the step is the row's policy entry, not a response. */
const POLICY_TYPES = new Set(['policy.block', 'ssh.policy', 'approval.requested', 'approval.decided', 'revoked']);
/** Events that are part of another row's story (parse/bind of an execute, keystrokes, pty set-up, integrity records). */
const SILENT_TYPES = new Set(['checkpoint', 'seal', 'pg.parse', 'pg.bind', 'pg.copy.data', 'ssh.pty', 'ssh.channel.end', 'ssh.input', 'session.start',
  ...Object.keys(COMMAND_TYPES)]);

/** Policy steps after which the operation was not passed on to the target. */
const NOT_RUN = new Set(['block', 'blocked', 'refused', 'denied', 'timeout']);

type DecisionRow = { seq: number; t: number; statement: number | null; action: string; rule: string | null; approval_id: string | null; actor: string | null; message: string | null };
type MaskRow = { seq: number; statement: number | null; field: string; rule: string | null; masked: number; count: number };
type EventRow = { seq: number; t: number; type: string; data: string };

/** Every row of the hop view (the same rule as exchangePage opens them by), without texts or responses. */
export function exchangeIndex(c: CaseFile, session: string): ExchangeIndex {
  const rows = caseDb(c).prepare(`SELECT e.seq, e.t, e.type, s.kind FROM events e LEFT JOIN statements s ON s.session = e.session AND s.seq = e.seq
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
  const statements = new Map((caseDb(c).prepare('SELECT seq, kind, text, params FROM statements WHERE session = ? AND seq >= ? ORDER BY seq LIMIT ?')
    .all(session, fromSeq, limit + 1) as { seq: number; kind: string; text: string; params: string | null }[]).map((s) => [s.seq, s]));
  const opens = (r: EventRow) => r.type === 'session.start' || statements.has(r.seq) || COMMAND_TYPES[r.type] !== undefined;
  const inPage: EventRow[] = [];
  let opened = 0;
  let nextSeq: number | null = null;
  for (const r of caseDb(c).prepare('SELECT seq, t, type, data FROM events WHERE session = ? AND seq >= ? ORDER BY seq').iterate(session, fromSeq) as Iterable<EventRow>) {
    if (opens(r) && opened++ === limit) {
      nextSeq = r.seq;
      break;
    }
    inPage.push(r);
  }
  const until = nextSeq ?? Number.MAX_SAFE_INTEGER;
  const lateSeqs = nextSeq === null ? [] : (caseDb(c).prepare(`SELECT seq FROM results WHERE session = @session AND statement >= @from AND statement < @until AND seq >= @until
      UNION SELECT seq FROM policy_decisions WHERE session = @session AND statement >= @from AND statement < @until AND seq >= @until
      UNION SELECT seq FROM sensitive_fields WHERE session = @session AND seq >= @until AND statement >= @from AND statement < @until ORDER BY seq`)
    .pluck().all({ session, from: fromSeq, until: nextSeq }) as number[]);
  const eventAt = caseDb(c).prepare('SELECT seq, t, type, data FROM events WHERE session = ? AND seq = ?');
  const late = lateSeqs.map((seq) => eventAt.get(session, seq) as EventRow | undefined).filter((r): r is EventRow => r !== undefined);
  const decisionAt = new Map((caseDb(c).prepare(`SELECT seq, t, statement, action, rule, approval_id, actor, message FROM policy_decisions
    WHERE session = ? AND seq >= ? AND seq < ? ORDER BY seq`).all(session, fromSeq, until) as DecisionRow[]).map((d) => [d.seq, d]));
  const masks = caseDb(c).prepare('SELECT seq, statement, field, rule, masked, count FROM sensitive_fields WHERE session = ? AND seq >= ? AND seq < ? ORDER BY seq')
    .all(session, fromSeq, until) as MaskRow[];
  if (late.length > 0) {
    const decision = caseDb(c).prepare('SELECT seq, t, statement, action, rule, approval_id, actor, message FROM policy_decisions WHERE session = ? AND seq = ?');
    const maskAt = caseDb(c).prepare('SELECT seq, statement, field, rule, masked, count FROM sensitive_fields WHERE session = ? AND seq = ?');
    for (const r of late) {
      const d = decision.get(session, r.seq) as DecisionRow | undefined;
      if (d) decisionAt.set(d.seq, d);
      masks.push(...(maskAt.all(session, r.seq) as MaskRow[]));
    }
  }
  const masksAt = groupBy(masks, (m) => m.seq);

  // Whether `ref` names a row outside this page that an event at `seq` would have found already (it owns the event).
  const elsewhere = new Map<number, boolean>();
  const statementAt = caseDb(c).prepare('SELECT 1 FROM statements WHERE session = ? AND seq = ?');
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
  const typedAhead = new TypedAhead<Exchange>();
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
        const note = noteOf(r.type, d, stmt?.params ?? null);
        if (note) current.note = note;
        exchanges.push(current);
        bySeq.set(r.seq, current);
        typedAhead.opened(current, current.kind === 'line' ? text : undefined);
      }
    }
    // After the page, only what names a row of it is read (and nothing falls back to the row being read).
    const target = isLate ? (typeof d.statement === 'number' ? bySeq.get(d.statement) : undefined) : owner(d.statement, r.seq, current);
    const response = responseOf(r.seq, r.t, r.type, d, decisionAt.has(r.seq));
    if (response?.kind === 'output' && !isLate && target === current && typedAhead.routing) {
      // A shell's output goes to the typed line whose echo it follows (lines typed ahead wait their turn).
      for (const piece of typedAhead.route(response.text ?? '')) {
        const last = piece.row.responses.at(-1);
        if (last?.kind === 'output' && last.summary === response.summary) appendOutput(last, piece.text, r.seq);
        else piece.row.responses.push({ ...response, text: piece.text.slice(0, MAX_OUTPUT), truncated: piece.text.length > MAX_OUTPUT });
      }
      output = undefined;
    } else if (response && target) {
      if (response.kind === 'output' && !isLate) {
        if (output && target.responses.at(-1) === output) appendOutput(output, response.text ?? '', r.seq);
        else target.responses.push((output = response));
      } else {
        if (!isLate) output = undefined;
        target.responses.push(response);
      }
    }
    const decision = decisionAt.get(r.seq);
    if (decision) {
      const row = owner(decision.statement, r.seq, target);
      row?.policy.push({ seq: decision.seq, t: decision.t, action: decision.action, rule: decision.rule,
        approvalId: decision.approval_id, actor: decision.actor, message: decision.message });
      if (row && NOT_RUN.has(decision.action)) typedAhead.notRun(row);
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

/** What an event says as a response of its row; undefined for events that are not one (see SILENT_TYPES, POLICY_TYPES). */
function responseOf(seq: number, t: number, type: string, d: Record<string, unknown>, hasDecision: boolean): Response | undefined {
  switch (type) {
    case 'pg.result': {
      const columns = Array.isArray(d.columns) ? d.columns.map((col) => String((col as { name?: unknown }).name ?? '')) : [];
      const rows = Array.isArray(d.rows) ? (d.rows as unknown[][]) : [];
      const rowCount = Number(d.rowCount ?? rows.length);
      // The rowCount of a command without columns (DELETE 12) counts rows changed, not rows returned.
      const result: Response = { seq, t, kind: 'result', summary: String(d.command ?? ''), columns, rowCount,
        rows: rows.slice(0, MAX_ROWS).map((r) => columns.map((_, i) => cell(r[i]))),
        truncated: rows.length > MAX_ROWS || (columns.length > 0 && rows.length < rowCount) };
      if (typeof d.durationMicros === 'number') result.durationMicros = d.durationMicros;
      if (typeof d.rowsRecorded === 'number') result.rowsRecorded = d.rowsRecorded;
      return result;
    }
    case 'pg.error': return { seq, t, kind: 'error', summary: `ERROR ${String(d.code ?? '')}`.trim(), text: String(d.message ?? '') };
    case 'pg.notice': return { seq, t, kind: 'notice', summary: 'NOTICE', text: String(d.message ?? '') };
    case 'ssh.output': return { seq, t, kind: 'output', summary: d.stream === 'stderr' ? 'stderr' : 'output', text: plain(terminalBytes(d).toString('utf8')) };
    case 'ssh.exit': return { seq, t, kind: 'exit', summary: d.status !== undefined ? `exit ${String(d.status)}` : `signal ${String(d.signal)}` };
    case 'session.end': return { seq, t, kind: 'event', summary: 'session end', text: String(d.reason ?? '') };
    case 'ssh.resize': return { seq, t, kind: 'event', summary: `resize ${String(d.cols)}x${String(d.rows)}` };
    default: {
      if (SILENT_TYPES.has(type) || (hasDecision && POLICY_TYPES.has(type))) return undefined;
      const json = JSON.stringify(d);
      return { seq, t, kind: 'event', summary: type, text: json.length > MAX_EVENT_TEXT ? `${json.slice(0, MAX_EVENT_TEXT - 3)}…` : json };
    }
  }
}

/** What the row's text alone does not say: an execute's parameters, a line read back from keystrokes only approximately. */
function noteOf(type: string, d: Record<string, unknown>, params: string | null): string | undefined {
  if (type === 'pg.execute') {
    const p = params ?? (Array.isArray(d.params) && d.params.length ? JSON.stringify(d.params) : null);
    return p && p !== '[]' ? `params ${p}` : undefined;
  }
  if (type === 'ssh.line' && d.uncertain) return 'approximate';
  return undefined;
}

function appendOutput(r: Response, text: string, seq: number): void {
  const joined = (r.text ?? '') + text;
  r.lastSeq = seq;
  r.truncated = r.truncated || joined.length > MAX_OUTPUT;
  r.text = joined.slice(0, MAX_OUTPUT);
}

function addMask(list: MaskNote[], m: MaskNote): void {
  const same = list.find((x) => x.field === m.field && x.rule === m.rule && x.masked === m.masked);
  if (same) same.count += m.count;
  else list.push(m);
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
