import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FolderCheck, isTrustworthy, type JournalState } from '../../common/recording/index.js';
import { caseDb, type CaseFile } from '../store/case.js';
import { importFile, sha256File, type FileImport, type ImportOptions } from './importer.js';

export interface ImportSummary {
  files: FileImport[];
  imported: number;
  unchanged: number;
  conflicts: number;
  rejected: number;
  failed: number;
  /** Sessions a journal lists whose file is absent. */
  missing: number;
  events: number;
  /** Each scanned folder's journal of sessions: its state and what it says. */
  journals: Omit<JournalState, 'report'>[];
  /** Every file imported or already present, and intact (or recovered after a crash), every listed file present, every journal intact. */
  allIntact: boolean;
}

/** Named files as given; folders searched recursively for *.jsonl, in name order; duplicates removed. */
export function findRecordings(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const path of paths) {
    if (!existsSync(path)) throw new Error(`no such file or directory: ${path}`);
    if (statSync(path).isDirectory()) files.push(...under(path));
    else files.push(path);
  }
  return [...new Map(files.map((f) => [resolve(f), f])).values()];
}

function under(dir: string): string[] {
  const out: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...under(path));
    else if (entry.isFile() && entry.name.endsWith('.jsonl')) out.push(path);
  }
  return out;
}

/** Imports every file (folders are searched for *.jsonl); one file's problem never stops the others. */
export async function importPaths(c: CaseFile, paths: readonly string[], opts: ImportOptions): Promise<ImportSummary> {
  const results: FileImport[] = [];
  for (const file of findRecordings(paths)) results.push(await importFile(c, file, opts));
  const journals = await applyJournals(c, paths, results, opts);
  const count = (a: FileImport['action']) => results.filter((r) => r.action === a).length;
  return {
    files: results,
    imported: count('imported'),
    unchanged: count('unchanged'),
    conflicts: count('conflict'),
    rejected: count('rejected'),
    failed: count('failed'),
    missing: count('missing'),
    events: results.reduce((n, r) => n + (r.action === 'imported' ? r.events : 0), 0),
    journals,
    allIntact: results.every((r) => (r.action === 'imported' || r.action === 'unchanged') && isTrustworthy(r.integrity)) &&
      journals.every((j) => j.state === 'intact'),
  };
}

/**
 * Checks the imported files against their folders' journals of sessions
 * (common/recording/folder.ts) and writes what it finds into the case: a file
 * the journal never listed (`unlisted`), one whose end differs from what the
 * journal recorded (`tampered`: rewritten or cut), a sealed one the journal
 * never saw closed (`unverified`); sessions listed whose file is absent
 * (`missing`, in custody); and each journal's own state (custody).
 */
export async function applyJournals(c: CaseFile, paths: readonly string[], results: FileImport[], opts: ImportOptions): Promise<Omit<JournalState, 'report'>[]> {
  const folders = new FolderCheck(paths, opts.trusted);
  const now = opts.now ?? (() => Date.now() * 1000);
  const custody = caseDb(c).prepare('INSERT INTO custody(at, path, sha256, size, action, session_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?)');
  for (const r of results) {
    folders.seen(r.path);
    if (r.action !== 'imported' || !r.verified) continue;
    const { fileId, ...facts } = r.verified;
    const verdict = folders.judge(r.path, facts);
    if (verdict.state === r.integrity && !verdict.note) continue;
    caseDb(c).transaction(() => {
      if (verdict.note) caseDb(c).prepare('INSERT INTO findings(file_id, kind, line, seq, message) VALUES (?, ?, NULL, ?, ?)').run(fileId, 'journal', verdict.tamperedAtSeq ?? null, verdict.note);
      if (verdict.state === r.integrity) return;
      caseDb(c).prepare('UPDATE files SET integrity = ? WHERE id = ?').run(verdict.state, fileId);
      caseDb(c).prepare('UPDATE sessions SET integrity = ? WHERE file_id = ?').run(verdict.state, fileId);
      if (verdict.tamperedAtSeq !== undefined) {
        // Past the point the journal contradicts, no event is evidence: the rows say so (show, workbench).
        const through = verdict.tamperedAtSeq - 1;
        caseDb(c).prepare('UPDATE files SET intact_through = min(intact_through, ?), signed_through = min(signed_through, ?) WHERE id = ?').run(through, through, fileId);
        caseDb(c).prepare('UPDATE events SET intact = 0 WHERE session = ? AND seq > ?').run(r.session, through);
      }
    })();
    r.integrity = verdict.state;
    r.findings = [...r.findings, { kind: 'journal', line: 0, message: verdict.note ?? verdict.state, ...(verdict.tamperedAtSeq !== undefined ? { seq: verdict.tamperedAtSeq } : {}) }];
  }
  for (const r of results) delete r.verified; // checked; not part of the summary
  const { journals, missing } = folders.finish();
  for (const m of missing) {
    results.push({
      path: m.path, sha256: null, size: null, action: 'missing', session: m.session, integrity: 'missing', sealed: false, events: 0,
      findings: [], findingsOmitted: 0, message: m.note,
    });
    custody.run(now(), m.path, null, null, 'missing', m.session, m.note);
  }
  for (const j of journals) {
    const sha256 = existsSync(j.path) ? await sha256File(j.path) : null;
    custody.run(now(), j.path, sha256, existsSync(j.path) ? statSync(j.path).size : null, 'journal', null, `${j.state}: ${j.note}`);
  }
  return journals.map(({ report: _report, ...j }) => j);
}
