import { statSync } from 'node:fs';
import type { ExportRequest } from '../../common/api/index.js';
import { exportCase, ExportRefusedError, type CaseFile } from '../../forensics/index.js';
import { ApiError } from '../common/contract.js';

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
 * An export of the whole case or of the sessions of the current filter, into one file at `path`: several
 * sessions go out as one timeline in time order (the store merges them). asciicast is one terminal per
 * file, so it needs exactly one session; a PostgreSQL hop is refused with what to export instead.
 */
export function exportFiltered(c: CaseFile, req: ExportRequest, path: string, stamp: string): ExportedFile {
  const sessions = [...new Set(req.sessions ?? [])];
  const one = sessions.length === 1 ? sessions[0] : undefined;
  const fileName = `hopscope-${one ?? (sessions.length ? `${sessions.length}-sessions` : 'case')}-${stamp}.${EXTENSIONS[req.format]}`;
  if (req.format === 'asciicast' && !one) {
    throw new ApiError('EXPORT_NEEDS_SESSION', 'asciicast holds one terminal: select one SSH session (open its hop) to export it');
  }
  // html is a report of the case or of one hop's tree: with several sessions it covers the whole case.
  const scope = one ? { session: one } : sessions.length > 1 && req.format !== 'html' ? { sessions } : {};
  try {
    const r = exportCase(c, { format: req.format, out: path, ...scope });
    return { file: path, fileName, records: r.records, bytes: statSync(path).size };
  } catch (err) {
    if (err instanceof ExportRefusedError) throw new ApiError('EXPORT_REFUSED', err.message);
    throw err;
  }
}
