import { appendFileSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { ExportRequest } from '../../common/api/index.js';
import { exportCase, type CaseFile } from '../../forensics/index.js';
import { ApiError } from '../contract.js';

const EXTENSIONS: Record<ExportRequest['format'], string> = {
  timesketch: 'timesketch.jsonl', csv: 'csv', jsonl: 'jsonl', ocsf: 'ocsf.jsonl', asciicast: 'cast', html: 'html',
};

export interface ExportedFile {
  file: string;
  fileName: string;
  records: number;
  bytes: number;
}

/**
 * An export of the whole case or of the sessions of the current filter, into
 * one file at `path`. The store exports one session or all; several sessions
 * are exported one by one and concatenated (a CSV keeps its first header).
 * asciicast is one terminal per file, so it needs exactly one session.
 */
export function exportFiltered(c: CaseFile, req: ExportRequest, path: string, stamp: string): ExportedFile {
  const sessions = [...new Set(req.sessions ?? [])];
  const one = sessions.length === 1 ? sessions[0] : undefined;
  const fileName = `hopscope-${one ?? (sessions.length ? `${sessions.length}-sessions` : 'case')}-${stamp}.${EXTENSIONS[req.format]}`;
  if (req.format === 'asciicast' && !one) {
    throw new ApiError('EXPORT_NEEDS_SESSION', 'asciicast holds one terminal: select one SSH session (open its hop) to export it');
  }
  if (sessions.length <= 1 || req.format === 'html') {
    // html is a report of the case or of one hop's tree: with several sessions it covers the whole case.
    const r = exportCase(c, { format: req.format, out: path, ...(one ? { session: one } : {}) });
    return { file: path, fileName, records: r.records, bytes: statSync(path).size };
  }
  let records = 0;
  const part = `${path}.part`;
  for (const [i, session] of sessions.entries()) {
    records += exportCase(c, { format: req.format, out: part, session }).records;
    let text = readFileSync(part, 'utf8');
    if (req.format === 'csv' && i > 0) text = text.slice(text.indexOf('\n') + 1);
    appendFileSync(path, text);
  }
  rmSync(part, { force: true });
  return { file: path, fileName, records, bytes: statSync(path).size };
}
