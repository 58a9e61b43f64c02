import { microsToIso } from '../../common/clock.js';
import { INTEGRITY_DESCRIPTIONS, type IntegrityState } from '../../common/recording/index.js';
import type { Exchange, MaskNote, PolicyStep, Response } from '../../common/api/index.js';
import { exchangePage } from '../query/exchanges.js';
import { caseDb, type CaseFile } from '../store/case.js';
import { getSession } from '../store/queries.js';

const MAX_ROWS = 10;
const MAX_OUTPUT_LINES = 20;
const INDENT = ' '.repeat(30);
/** Rows read at a time: a long session streams to stdout in bounded memory. */
const PAGE_ROWS = 200;

/**
 * One hop as text: each command or statement (→), then its masked responses (←) and policy steps (!!)
 * in seq order, paired as the workbench's hop view pairs them (forensics/query/exchanges.ts). Lazily,
 * page by page, so a long session streams to stdout.
 */
export function* showSession(c: CaseFile, session: string): Generator<string> {
  const s = getSession(c, session);
  const file = caseDb(c).prepare(`SELECT f.path, f.sha256, f.integrity, f.sealed, f.intact_through, f.signed_through, f.last_seq
    FROM files f JOIN sessions s ON s.file_id = f.id WHERE s.id = ?`).get(session) as
    { path: string; sha256: string; integrity: string; sealed: number; intact_through: number; signed_through: number; last_seq: number };
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
  const broken = new Set(caseDb(c).prepare('SELECT seq FROM events WHERE session = ? AND intact = 0').pluck().all(session) as number[]);
  const mark = (first: number, last = first): string => {
    let worst = last > file.intact_through ? BROKEN : last > file.signed_through ? UNSIGNED : ' ';
    if (worst !== BROKEN && broken.size > 0) for (let q = first; q <= last; q++) if (broken.has(q)) worst = BROKEN;
    return worst;
  };
  for (let from: number | null = 0; from !== null;) {
    const page = exchangePage(c, session, from, PAGE_ROWS);
    for (const ex of page.exchanges) yield* exchangeLines(ex, mark);
    from = page.nextSeq;
  }
}

/** One row: the command (→), then what followed it in seq order (← responses, !! policy steps), then its masking note. */
function* exchangeLines(ex: Exchange, mark: (first: number, last?: number) => string): Generator<string> {
  yield `${stamp(ex.seq, ex.t, mark(ex.seq))}  ${commandLine(ex)}`;
  const steps: ({ seq: number; response: Response } | { seq: number; policy: PolicyStep })[] = [
    ...ex.responses.map((response) => ({ seq: response.seq, response })), ...ex.policy.map((policy) => ({ seq: policy.seq, policy }))];
  steps.sort((a, b) => a.seq - b.seq);
  const lastResult = ex.responses.findLast((r) => r.kind === 'result');
  for (const step of steps) {
    if ('policy' in step) {
      const p = step.policy;
      yield `${stamp(p.seq, p.t, mark(p.seq))}  !! ${p.action.toUpperCase()}${p.rule ? ` rule ${p.rule}` : ''}${p.approvalId ? ` approval ${p.approvalId}` : ''}${p.actor ? ` by ${p.actor}` : ''}${p.message ? `: ${p.message}` : ''}`;
      continue;
    }
    const r = step.response;
    yield `${stamp(r.seq, r.t, mark(r.seq, r.lastSeq))}  ${responseLine(r)}`;
    if (r.kind === 'result') yield* resultLines(r);
    if (r.kind === 'output') yield* outputLines(r);
    if (r === lastResult && ex.masked.length) yield `${INDENT}  ${maskSummary(ex.masked)}`;
  }
  if (!lastResult && ex.masked.length) yield `${INDENT}  ${maskSummary(ex.masked)}`;
}

function commandLine(ex: Exchange): string {
  switch (ex.kind) {
    case 'session': return ex.text;
    case 'sql': return `→ SQL  ${ex.text}${ex.note ? `  ${ex.note}` : ''}`;
    case 'line': return `→ typed ${ex.text}${ex.note ? ` (${ex.note})` : ''}`;
    default: return `→ ${ex.kind} ${ex.text}`;
  }
}

function responseLine(r: Response): string {
  switch (r.kind) {
    case 'result': return `← ${r.summary} · ${r.rowCount ?? 0} rows${r.durationMicros !== undefined ? ` · ${(r.durationMicros / 1000).toFixed(1)} ms` : ''}`;
    case 'error': case 'notice': return `← ${r.summary} ${r.text ?? ''}`;
    case 'output': return `← ${r.summary}`;
    case 'exit': return `← ${r.summary}`;
    case 'event':
      if (r.summary === 'session end') return `session end: ${r.text ?? ''}`;
      return r.text === undefined ? `  ${r.summary}` : `· ${r.summary} ${r.text}`;
  }
}

/** Past a break in the hash chain (or where the journal contradicts the file): not evidence. */
const BROKEN = '?';
/** After the last valid signature: chained, but not proven to be what the gateway wrote. */
const UNSIGNED = '~';

function stamp(seq: number, t: number, mark: string): string {
  return `${microsToIso(t).slice(11, 26)} #${String(seq).padEnd(6)}${mark}`.padEnd(INDENT.length - 2);
}

function* resultLines(r: Response): Generator<string> {
  const cols = r.columns ?? [];
  const rows = r.rows ?? [];
  if (!cols.length || !rows.length) return;
  const shown = rows.slice(0, MAX_ROWS).map((row) => cols.map((_, i) => flat(row[i] ?? '')));
  const widths = cols.map((c, i) => Math.min(40, Math.max(c.length, ...shown.map((row) => row[i]!.length))));
  const fmt = (row: string[]) => row.map((v, i) => v.slice(0, 40).padEnd(widths[i]!)).join(' | ').trimEnd();
  yield `${INDENT}  ${fmt(cols)}`;
  for (const row of shown) yield `${INDENT}  ${fmt(row)}`;
  const more = (r.rowCount ?? rows.length) - shown.length;
  if (more > 0) yield `${INDENT}  … ${more} more rows${r.rowsRecorded !== undefined && r.rowsRecorded < (r.rowCount ?? 0) ? ` (${r.rowsRecorded} recorded)` : ''}`;
}

function* outputLines(r: Response): Generator<string> {
  const lines = (r.text ?? '').split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const l of lines.slice(0, MAX_OUTPUT_LINES)) yield `${INDENT}  ${l}`;
  const more = lines.length - MAX_OUTPUT_LINES;
  if (more > 0 || r.truncated) yield `${INDENT}  … ${more > 0 ? `${more} more lines` : 'more'}${r.truncated ? ' (cut: play the terminal for all of it)' : ''}`;
}

function flat(v: string): string {
  return v.replace(/[\r\n\t]/g, ' ');
}

function maskSummary(rows: MaskNote[]): string {
  const masked = rows.filter((r) => r.masked).map((r) => `${r.field}${r.rule ? `:${r.rule}` : ''}×${r.count}`);
  const open = rows.filter((r) => !r.masked).map((r) => `${r.field} (${r.rule ?? 'sensitive'})×${r.count}`);
  return [masked.length ? `masked: ${masked.join(', ')}` : '', open.length ? `UNMASKED, looks sensitive: ${open.join(', ')}` : ''].filter(Boolean).join(' · ');
}

