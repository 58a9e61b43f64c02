import { microsToIso } from '../../common/clock.js';
import { INTEGRITY_DESCRIPTIONS, type IntegrityState } from '../../common/recording/index.js';
import type { CaseFile } from '../store/case.js';
import { getSession, iterateEvents, type StoredEvent } from '../store/queries.js';
import { terminalBytes } from './emulator.js';

const MAX_ROWS = 10;
const MAX_OUTPUT_LINES = 20;
const INDENT = ' '.repeat(30);
/** Events that only carry a policy step: shown as their !! line. */
const POLICY_TYPES = new Set(['policy.block', 'ssh.policy', 'approval.requested', 'approval.decided', 'revoked']);

/**
 * One hop as text, in time order: each command or statement (→), then its
 * masked response (←), policy steps (!!) between them. Lazily, line by line,
 * so a long session streams to stdout.
 */
export function* showSession(c: CaseFile, session: string): Generator<string> {
  const s = getSession(c, session);
  const file = c.db.prepare(`SELECT f.path, f.sha256, f.integrity, f.sealed, f.intact_through, f.signed_through, f.last_seq
    FROM files f JOIN sessions s ON s.file_id = f.id WHERE s.id = ?`).get(session) as
    { path: string; sha256: string; integrity: string; sealed: number; intact_through: number; signed_through: number; last_seq: number };
  const mark = rowMark(file.intact_through, file.signed_through);
  yield `session ${s.id}  ${s.protocol}  ${s.identity ?? '?'} → ${s.target ?? '?'}  (root identity ${s.rootIdentity ?? '?'}, depth ${s.depth})`;
  if (s.parent) yield `parent ${s.parent} via ${s.linkKind ?? '?'}`;
  yield `integrity ${file.integrity}${file.sealed ? ', sealed' : ', NOT sealed'}; recording ${file.path} sha256 ${file.sha256}`;
  const meaning = INTEGRITY_DESCRIPTIONS[file.integrity as IntegrityState];
  if (meaning) yield `  ${meaning}`;
  if (file.intact_through < file.last_seq) yield `  ${BROKEN} marks rows past the break: seq ${file.intact_through + 1} on are not evidence`;
  if (file.signed_through < Math.min(file.intact_through, file.last_seq)) {
    yield `  ${UNSIGNED} marks rows in the unverified tail: seq ${file.signed_through + 1}–${Math.min(file.intact_through, file.last_seq)} are after the last valid signature`;
  }
  yield '';
  const typed = new Map((c.db.prepare("SELECT seq, text FROM statements WHERE session = ? AND kind = 'line'").all(session) as { seq: number; text: string }[])
    .map((r) => [r.seq, r.text]));
  const decisions = new Map((c.db.prepare('SELECT seq, action, rule, approval_id, actor, message FROM policy_decisions WHERE session = ?').all(session) as
    { seq: number; action: string; rule: string | null; approval_id: string | null; actor: string | null; message: string | null }[]).map((d) => [d.seq, d]));
  const masks = c.db.prepare('SELECT field, rule, masked, count FROM sensitive_fields WHERE session = ? AND seq = ?');
  let output: { first: StoredEvent; worst: string; lines: string[]; more: number; partial: string } | undefined;
  const flushOutput = function* (): Generator<string> {
    if (!output) return;
    const lines = output.partial ? [...output.lines, output.partial] : output.lines;
    yield `${stamp(output.first, output.worst)}  ← output`;
    for (const l of lines.slice(0, MAX_OUTPUT_LINES)) yield `${INDENT}  ${l}`;
    const more = output.more + Math.max(0, lines.length - MAX_OUTPUT_LINES);
    if (more) yield `${INDENT}  … ${more} more lines`;
    output = undefined;
  };
  for (const e of iterateEvents(c, session)) {
    const d = e.data;
    if (e.type === 'ssh.output') {
      output ??= { first: e, worst: ' ', lines: [], more: 0, partial: '' };
      output.worst = worse(output.worst, mark(e));
      const text = output.partial + plain(terminalBytes(d).toString('utf8'));
      const parts = text.split('\n');
      output.partial = parts.pop() ?? '';
      for (const p of parts) if (output.lines.length < MAX_OUTPUT_LINES) output.lines.push(p); else output.more++;
      continue;
    }
    if (e.type === 'ssh.input' && !typed.has(e.seq)) continue;
    yield* flushOutput();
    const p = decisions.get(e.seq);
    const line = p && POLICY_TYPES.has(e.type) ? undefined : describe(e, typed.get(e.seq));
    if (line) yield `${stamp(e, mark(e))}  ${line}`;
    if (e.type === 'pg.result') yield* resultLines(d);
    const masked = masks.all(session, e.seq) as { field: string; rule: string | null; masked: number; count: number }[];
    if (masked.length) yield `${INDENT}  ${maskSummary(masked)}`;
    if (p) yield `${line ? INDENT : `${stamp(e, mark(e))}  `}!! ${p.action.toUpperCase()}${p.rule ? ` rule ${p.rule}` : ''}${p.approval_id ? ` approval ${p.approval_id}` : ''}${p.actor ? ` by ${p.actor}` : ''}${p.message ? `: ${p.message}` : ''}`;
  }
  yield* flushOutput();
}

/** Past a break in the hash chain (or where the journal contradicts the file): not evidence. */
const BROKEN = '?';
/** After the last valid signature: chained, but not proven to be what the gateway wrote. */
const UNSIGNED = '~';

/** The mark of one row: on the row itself, so a forged or unproven row never looks like a verified one. */
function rowMark(intactThrough: number, signedThrough: number): (e: StoredEvent) => string {
  return (e) => (!e.intact || e.seq > intactThrough ? BROKEN : e.seq > signedThrough ? UNSIGNED : ' ');
}

function worse(a: string, b: string): string {
  return a === BROKEN || b === BROKEN ? BROKEN : a === UNSIGNED || b === UNSIGNED ? UNSIGNED : ' ';
}

function stamp(e: StoredEvent, mark: string): string {
  return `${microsToIso(e.t).slice(11, 26)} #${String(e.seq).padEnd(6)}${mark}`.padEnd(INDENT.length - 2);
}

function describe(e: StoredEvent, typedLine: string | undefined): string | undefined {
  const d = e.data;
  switch (e.type) {
    case 'session.start': return `session start${d.client ? ` from ${String(d.client)}` : ''}`;
    case 'session.end': return `session end: ${String(d.reason ?? '')}`;
    case 'pg.query': return `→ SQL  ${String(d.sql)}`;
    case 'pg.execute': return `→ SQL  ${String(d.sql)}${Array.isArray(d.params) && d.params.length ? `  params ${JSON.stringify(d.params)}` : ''}`;
    case 'pg.result': return `← ${String(d.command ?? '')} · ${String(d.rowCount ?? 0)} rows${typeof d.durationMicros === 'number' ? ` · ${(d.durationMicros / 1000).toFixed(1)} ms` : ''}`;
    case 'pg.error': return `← ERROR ${String(d.code ?? '')} ${String(d.message ?? '')}`;
    case 'pg.notice': return `← NOTICE ${String(d.message ?? '')}`;
    case 'ssh.exec': return `→ exec ${String(d.command)}`;
    case 'ssh.line': return `→ typed ${String(d.line)}${d.uncertain ? ' (approximate)' : ''}`;
    case 'ssh.input': return typedLine === undefined ? undefined : `→ typed ${typedLine}`;
    case 'ssh.exit': return `← exit ${d.status !== undefined ? `status ${String(d.status)}` : `signal ${String(d.signal)}`}`;
    case 'ssh.sftp': return `→ sftp ${String(d.op ?? '')} ${String(d.path ?? '')}${d.size !== undefined ? ` (${String(d.size)} bytes)` : ''}`;
    case 'ssh.resize': return `  resize ${String(d.cols)}x${String(d.rows)}`;
    case 'checkpoint': case 'seal': case 'pg.parse': case 'pg.bind': case 'pg.copy.data': case 'ssh.pty': case 'ssh.channel.end':
      return undefined;
    default: {
      const json = JSON.stringify(d);
      return `· ${e.type} ${json.length > 160 ? `${json.slice(0, 157)}…` : json}`;
    }
  }
}

function* resultLines(d: Record<string, unknown>): Generator<string> {
  const cols = Array.isArray(d.columns) ? d.columns.map((c) => String((c as { name?: unknown }).name ?? '')) : [];
  const rows = Array.isArray(d.rows) ? (d.rows as unknown[][]) : [];
  if (!cols.length || !rows.length) return;
  const shown = rows.slice(0, MAX_ROWS).map((r) => cols.map((_, i) => cell(r[i])));
  const widths = cols.map((c, i) => Math.min(40, Math.max(c.length, ...shown.map((r) => r[i]!.length))));
  const fmt = (r: string[]) => r.map((v, i) => v.slice(0, 40).padEnd(widths[i]!)).join(' | ').trimEnd();
  yield `${INDENT}  ${fmt(cols)}`;
  for (const r of shown) yield `${INDENT}  ${fmt(r)}`;
  const more = Number(d.rowCount ?? rows.length) - shown.length;
  if (more > 0) yield `${INDENT}  … ${more} more rows${Number(d.rowsRecorded ?? rows.length) < Number(d.rowCount ?? 0) ? ` (${String(d.rowsRecorded)} recorded)` : ''}`;
}

function cell(v: unknown): string {
  return v === null || v === undefined ? 'NULL' : typeof v === 'string' ? v.replace(/[\r\n\t]/g, ' ') : JSON.stringify(v);
}

function maskSummary(rows: { field: string; rule: string | null; masked: number; count: number }[]): string {
  const masked = rows.filter((r) => r.masked).map((r) => `${r.field}${r.rule ? `:${r.rule}` : ''}×${r.count}`);
  const open = rows.filter((r) => !r.masked).map((r) => `${r.field} (${r.rule ?? 'sensitive'})×${r.count}`);
  return [masked.length ? `masked: ${masked.join(', ')}` : '', open.length ? `UNMASKED, looks sensitive: ${open.join(', ')}` : ''].filter(Boolean).join(' · ');
}

/** Terminal text without escape sequences and carriage returns, for a plain listing. */
export function plain(text: string): string {
  return text
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '')
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '')
    .replace(/\x1b[@-_]/g, '')
    .replace(/\r(?!\n)/g, '')
    .replace(/\r/g, '')
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
}
