import type { Exchange, HopDetail, Marker, MaskNote, Response, SessionRow } from '../../common/api/index.js';
import { iterateEvents, type CaseFile } from '../../forensics/index.js';
import { hopLinkTo, terminalMeta } from './queries.js';

const MAX_EXCHANGES = 2000;
const MAX_ROWS = 50;
const MAX_OUTPUT = 8000;
const COMMAND_TYPES: Record<string, string> = { 'pg.query': 'sql', 'pg.execute': 'sql', 'ssh.exec': 'exec', 'ssh.line': 'line', 'ssh.sftp': 'sftp' };

/**
 * One hop as the hop view shows it: each command or statement (the statements
 * table, which also holds the lines typed at a shell) beside the responses,
 * policy steps and masking notes that followed it, plus the timeline markers.
 */
export function hopDetail(c: CaseFile, row: SessionRow, all: SessionRow[]): HopDetail {
  const id = row.id;
  const statements = new Map((c.db.prepare('SELECT seq, kind, text FROM statements WHERE session = ?').all(id) as
    { seq: number; kind: string; text: string }[]).map((s) => [s.seq, s]));
  const decisions = c.db.prepare('SELECT seq, t, statement, action, rule, approval_id, actor, message FROM policy_decisions WHERE session = ? ORDER BY seq')
    .all(id) as { seq: number; t: number; statement: number | null; action: string; rule: string | null; approval_id: string | null; actor: string | null; message: string | null }[];
  const masks = c.db.prepare('SELECT seq, statement, field, rule, masked, count FROM sensitive_fields WHERE session = ? ORDER BY seq').all(id) as
    { seq: number; statement: number | null; field: string; rule: string | null; masked: number; count: number }[];
  const decisionAt = new Map(decisions.map((d) => [d.seq, d]));
  const masksAt = groupBy(masks, (m) => m.seq);

  const exchanges: Exchange[] = [];
  const bySeq = new Map<number, Exchange>();
  let current: Exchange | undefined;
  let omitted = 0;
  let output: Response | undefined;
  const open = (seq: number, t: number, kind: string, text: string) => {
    output = undefined;
    if (exchanges.length >= MAX_EXCHANGES) {
      omitted++;
      current = undefined;
      return;
    }
    current = { seq, t, kind, text, responses: [], policy: [], masked: [] };
    exchanges.push(current);
    bySeq.set(seq, current);
  };
  for (const e of iterateEvents(c, id)) {
    const d = e.data;
    const stmt = statements.get(e.seq);
    if (e.type === 'session.start') open(e.seq, e.t, 'session', `session start${typeof d.client === 'string' ? ` from ${d.client}` : ''}`);
    else if (stmt) open(e.seq, e.t, stmt.kind, stmt.text);
    else if (COMMAND_TYPES[e.type]) open(e.seq, e.t, COMMAND_TYPES[e.type]!, String(d.command ?? d.sql ?? d.line ?? `${String(d.op ?? '')} ${String(d.path ?? '')}`));
    const target = (typeof d.statement === 'number' ? bySeq.get(d.statement) : undefined) ?? current;
    const response = responseOf(e.seq, e.t, e.type, d);
    if (response && target) {
      if (response.kind === 'output') {
        if (output && target.responses.at(-1) === output) appendOutput(output, response.text ?? '');
        else target.responses.push((output = response));
      } else {
        output = undefined;
        target.responses.push(response);
      }
    }
    const decision = decisionAt.get(e.seq);
    if (decision) {
      const owner = (decision.statement !== null ? bySeq.get(decision.statement) : undefined) ?? target;
      owner?.policy.push({ seq: decision.seq, t: decision.t, action: decision.action, rule: decision.rule, approvalId: decision.approval_id,
        actor: decision.actor, message: decision.message });
    }
    for (const m of masksAt.get(e.seq) ?? []) {
      const owner = (m.statement !== null ? bySeq.get(m.statement) : undefined) ?? target;
      if (owner) addMask(owner.masked, { field: m.field, rule: m.rule, masked: m.masked === 1, count: m.count });
    }
  }

  const children = all.filter((s) => s.parent === id);
  const markers: Marker[] = [];
  for (const x of exchanges) if (x.kind !== 'session') markers.push({ t: x.t, seq: x.seq, kind: 'command', label: x.text.slice(0, 120) });
  for (const d of decisions) {
    const kind = markerKind(d.action);
    if (kind) markers.push({ t: d.t, seq: d.seq, kind, label: `${d.action}${d.rule ? ` (${d.rule})` : ''}${d.actor ? ` by ${d.actor}` : ''}` });
  }
  for (const ch of children) {
    if (ch.startMicros !== null) markers.push({ t: ch.startMicros, seq: 0, kind: 'child', label: `${ch.protocol} → ${ch.target ?? '?'}`, session: ch.id });
  }
  markers.sort((a, b) => a.t - b.t || a.seq - b.seq);

  const file = c.db.prepare('SELECT f.path, f.sha256, f.integrity, f.sealed FROM files f JOIN sessions s ON s.file_id = f.id WHERE s.id = ?').get(id) as
    { path: string; sha256: string; integrity: string; sealed: number } | undefined;
  const term = terminalMeta(c, id);
  return {
    session: row,
    link: hopLinkTo(c, id),
    file: file ? { path: file.path, sha256: file.sha256, integrity: file.integrity, sealed: file.sealed === 1 } : null,
    children, exchanges, exchangesOmitted: omitted, markers,
    terminal: term.hasOutput ? { cols: term.cols ?? 80, rows: term.rows ?? 24 } : null,
  };
}

function responseOf(seq: number, t: number, type: string, d: Record<string, unknown>): Response | undefined {
  switch (type) {
    case 'pg.result': {
      const columns = Array.isArray(d.columns) ? d.columns.map((col) => String((col as { name?: unknown }).name ?? '')) : [];
      const rows = Array.isArray(d.rows) ? (d.rows as unknown[][]) : [];
      const rowCount = Number(d.rowCount ?? rows.length);
      return { seq, t, kind: 'result', summary: String(d.command ?? ''), columns, rowCount,
        rows: rows.slice(0, MAX_ROWS).map((r) => columns.map((_, i) => cell(r[i]))), truncated: rows.length > MAX_ROWS || rows.length < rowCount };
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
  if (action === 'denied' || action === 'timeout') return 'denied';
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
