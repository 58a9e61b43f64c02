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
  /**
   * Several sessions in one timeline, in time order across them (timesketch, csv, jsonl, ocsf): the
   * workbench's filter. Not for asciicast (one terminal per file) nor html (a report of the case or one hop).
   */
  sessions?: readonly string[];
}

export interface ExportResult {
  files: string[];
  /** Events (or, for html, hops) written. */
  records: number;
}

/** Writes an export, streaming rows from the store (bounded memory). */
export function exportCase(c: CaseFile, opts: ExportOptions): ExportResult {
  const one = opts.session ? getSession(c, opts.session) : undefined;
  for (const s of opts.sessions ?? []) getSession(c, s);
  if (opts.sessions && (opts.session || opts.format === 'asciicast' || opts.format === 'html')) {
    throw new Error(`sessions is for timeline formats (timesketch, csv, jsonl, ocsf) without session, not ${opts.format}${opts.session ? ' with session' : ''}`);
  }
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
  if (opts.format === 'html') return { files: [opts.out], records: withSink(opts.out, (sink) => writeHtml(c, sink, opts.session)) };
  const write = { timesketch: writeTimesketch, csv: writeCsv, jsonl: writeJsonl, ocsf: writeOcsf }[opts.format];
  return { files: [opts.out], records: withSink(opts.out, (sink) => write(c, sink, opts.sessions ?? opts.session)) };
}

function withSink(path: string, fn: (sink: FileSink) => number): number {
  const sink = new FileSink(path);
  try {
    return fn(sink);
  } finally {
    sink.close();
  }
}
