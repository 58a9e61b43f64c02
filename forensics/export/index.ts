import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CaseFile } from '../store/case.js';
import { getSession } from '../store/queries.js';
import { refuseNonTerminal, terminalSessions, writeAsciicast } from './asciicast.js';
import { writeHtml } from './html.js';
import { writeOcsf } from './ocsf.js';
import { FileSink } from './sink.js';
import { writeCsv, writeJsonl, writeTimesketch } from './timesketch.js';

import { EXPORT_FORMATS, type ExportFormat } from '../../common/api/index.js';

export { EXPORT_FORMATS, type ExportFormat };
export { ExportRefusedError } from './asciicast.js';

export interface ExportOptions {
  format: ExportFormat;
  /** A file; for asciicast without a session, a folder that gets one `<session>.cast` per SSH hop. */
  out: string;
  session?: string;
}

export interface ExportResult {
  files: string[];
  /** Events (or, for html, hops) written. */
  records: number;
}

/** Writes an export, streaming rows from the store (bounded memory). */
export function exportCase(c: CaseFile, opts: ExportOptions): ExportResult {
  const one = opts.session ? getSession(c, opts.session) : undefined;
  if (opts.format === 'asciicast') {
    if (one) refuseNonTerminal(one); // before the file is created: never an empty .cast
    const sessions = opts.session ? [opts.session] : terminalSessions(c);
    const folder = !opts.session;
    if (folder) mkdirSync(opts.out, { recursive: true });
    else if (existsSync(opts.out) && statSync(opts.out).isDirectory()) throw new Error(`${opts.out} is a folder; give a file for one session`);
    let records = 0;
    const files: string[] = [];
    for (const s of sessions) {
      const path = folder ? join(opts.out, `${s}.cast`) : opts.out;
      records += withSink(path, (sink) => writeAsciicast(c, s, sink));
      files.push(path);
    }
    return { files, records };
  }
  const write = { timesketch: writeTimesketch, csv: writeCsv, jsonl: writeJsonl, ocsf: writeOcsf, html: writeHtml }[opts.format];
  return { files: [opts.out], records: withSink(opts.out, (sink) => write(c, sink, opts.session)) };
}

function withSink(path: string, fn: (sink: FileSink) => number): number {
  const sink = new FileSink(path);
  try {
    return fn(sink);
  } finally {
    sink.close();
  }
}
