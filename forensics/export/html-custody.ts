import { microsToIso } from '../../common/clock.js';
import { INTEGRITY_DESCRIPTIONS, type IntegrityState } from '../../common/recording/index.js';
import { caseDb, type CaseFile } from '../store/case.js';
import { fileOk, type CaseFileFact } from './html-answers.js';
import { esc } from './html-style.js';

/** The one description of an integrity word (older case files may hold words of before). */
export function describeIntegrity(word: string): string {
  return INTEGRITY_DESCRIPTIONS[word as IntegrityState] ?? word;
}

type FileRow = CaseFileFact & { sha256: string; size: number; imported_at: number; key_id: string | null; events: number; intact_through: number | null; signed_through: number | null };

/** The case's complete recording files of these sessions and the gateway's own recordings (revocations, refusals), in import order. */
export function caseFiles(c: CaseFile, sessions: Set<string>): FileRow[] {
  return (caseDb(c).prepare(`SELECT f.id, f.path, f.sha256, f.size, f.imported_at, f.session_id, f.key_id, f.key_trusted, f.integrity, f.sealed, f.events, f.intact_through, f.signed_through, s.protocol
    FROM files f LEFT JOIN sessions s ON s.id = f.session_id WHERE f.state = 'complete' ORDER BY f.imported_at, f.id`).all() as (FileRow & { protocol?: string })[])
    .filter((f) => sessions.has(String(f.session_id)) || f.protocol === 'gateway');
}

export function writeCustody(c: CaseFile, out: { write(s: string): void }, files: FileRow[]): void {
  out.write('<h2>Integrity and chain of custody</h2><table><tr><th>Recording</th><th>SHA-256</th><th>Bytes</th><th>Imported</th><th>Key</th><th>Integrity</th><th>Events</th><th>Findings</th></tr>');
  const findings = caseDb(c).prepare('SELECT kind, seq, message FROM findings WHERE file_id = ?');
  for (const f of files) {
    const list = (findings.all(f.id) as { kind: string; seq: number | null; message: string }[]).map((x) => `${esc(x.kind)}${x.seq !== null ? ` (seq ${x.seq})` : ''}: ${esc(x.message)}`);
    out.write(`<tr><td><code>${esc(f.path)}</code><br>session <code>${esc(f.session_id)}</code></td><td><code>${esc(f.sha256)}</code></td><td>${esc(f.size)}</td>` +
      `<td>${esc(microsToIso(Number(f.imported_at)))}</td><td>${esc(f.key_id)} ${f.key_trusted ? '(trusted)' : '<span class="bad">(NOT trusted)</span>'}</td>` +
      `<td class="${fileOk(f) ? 'ok' : 'bad'}" title="${esc(describeIntegrity(String(f.integrity)))}">${esc(f.integrity)}${f.sealed ? ', sealed' : ''}; intact through seq ${esc(f.intact_through)}, signed through ${esc(f.signed_through)}</td>` +
      `<td>${esc(f.events)}</td><td class="text">${list.join('<br>')}</td></tr>`);
  }
  out.write('</table><h3>Import log</h3><table><tr><th>Time</th><th>Action</th><th>Path</th><th>SHA-256</th><th>Detail</th></tr>');
  for (const r of caseDb(c).prepare('SELECT at, action, path, sha256, detail FROM custody ORDER BY id').iterate() as Iterable<Record<string, string | number | null>>) {
    out.write(`<tr><td>${esc(microsToIso(Number(r.at)))}</td><td>${esc(r.action)}</td><td><code>${esc(r.path)}</code></td><td><code>${esc(r.sha256)}</code></td><td class="text">${esc(r.detail)}</td></tr>`);
  }
  out.write('</table>');
}
