import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import type { TrustedKeys } from '../../common/keys.js';
import {
  RecordingHeader, RecordingVerifier, readRecordingLines, type Finding, type IntegrityStatus, type RecordingEvent, type VerifyReport,
} from '../../common/recording/index.js';
import { describeSqliteError } from '../errors.js';
import { deleteSessionRows, type CaseFile } from '../store/case.js';
import { BatchWriter, batchSize, emptyBatch, type Batch } from './batch.js';
import { SessionIndexer } from './derive.js';
import { finishSession } from './finish.js';

export interface ImportOptions {
  trusted: TrustedKeys;
  /** Refuse files signed by a key that is not trusted (default: import them, flagged unknown-key). */
  requireKnownKey?: boolean;
  /** Rows per transaction (default 5000). */
  batchRows?: number;
  onProgress?: (p: Progress) => void;
  /** Microseconds since the epoch, for custody times (injected in tests). */
  now?: () => number;
}

export interface Progress {
  path: string;
  bytesRead: number;
  bytesTotal: number;
  events: number;
}

export type ImportAction = 'imported' | 'unchanged' | 'conflict' | 'rejected' | 'failed';

export interface FileImport {
  path: string;
  sha256: string | null;
  size: number | null;
  action: ImportAction;
  session: string | null;
  integrity: IntegrityStatus | null;
  sealed: boolean;
  events: number;
  findings: Finding[];
  /** Why it was not imported, or what failed. */
  message: string | null;
}

/**
 * Imports one recording: hashes it, verifies every line while streaming it into
 * the store in batches, keeps the intact prefix of a damaged file (flagged), and
 * never half-imports: a failure removes the file's rows (and a crash leaves a
 * row that the next open sweeps). Never throws for a bad file; it reports.
 */
export async function importFile(c: CaseFile, path: string, opts: ImportOptions): Promise<FileImport> {
  const now = opts.now ?? (() => Date.now() * 1000);
  const out: FileImport = { path, sha256: null, size: null, action: 'failed', session: null, integrity: null, sealed: false, events: 0, findings: [], message: null };
  const custody = (action: ImportAction, message: string | null) => {
    out.action = action;
    out.message = message;
    c.db.prepare('INSERT INTO custody(at, path, sha256, size, action, session_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(now(), path, out.sha256, out.size, action, out.session, message);
    return out;
  };
  let fileId: number | undefined;
  try {
    out.size = statSync(path).size;
    out.sha256 = await sha256File(path);
    const same = c.db.prepare("SELECT session_id FROM files WHERE sha256 = ? AND state = 'complete'").get(out.sha256) as { session_id: string } | undefined;
    if (same) {
      out.session = same.session_id;
      const f = c.db.prepare('SELECT integrity, sealed, events FROM files WHERE sha256 = ?').get(out.sha256) as { integrity: IntegrityStatus; sealed: number; events: number };
      Object.assign(out, { integrity: f.integrity, sealed: f.sealed === 1, events: f.events });
      return custody('unchanged', 'already imported (same SHA-256)');
    }
    const verifier = new RecordingVerifier(opts.trusted);
    const lines = readRecordingLines(path)[Symbol.asyncIterator]();
    const first = await lines.next();
    const header = first.done ? undefined : parseHeader(first.value.line);
    if (!first.done) verifier.push(first.value.line, first.value.complete);
    if (!header) {
      const report = verifier.end();
      out.findings = report.findings;
      out.integrity = report.status;
      return custody('rejected', report.findings[0]?.message ?? 'not a hopscope recording');
    }
    out.session = header.session;
    const prior = c.db.prepare("SELECT id, path, sha256, size, sealed FROM files WHERE session_id = ? AND state = 'complete'")
      .get(header.session) as { id: number; path: string; sha256: string; size: number; sealed: number } | undefined;
    let supersedes: string | null = null;
    if (prior) {
      // A copy taken while the gateway was still writing is a prefix of the finished file: the
      // longer file supersedes it (same bytes, more of them). Anything else is a conflict, never merged.
      const grown = prior.sealed === 0 && out.size > prior.size && (await sha256File(path, prior.size)) === prior.sha256;
      if (!grown) {
        return custody('conflict', `session ${header.session} was already imported from ${prior.path} (SHA-256 ${prior.sha256.slice(0, 16)}…) and this file differs; not merged`);
      }
      c.db.transaction(() => {
        deleteSessionRows(c.db, header.session);
        c.db.prepare("UPDATE files SET state = 'superseded' WHERE id = ?").run(prior.id);
      })();
      supersedes = `supersedes ${prior.path} (SHA-256 ${prior.sha256.slice(0, 16)}…), an unsealed copy of its first ${prior.size} bytes`;
    }
    const key = opts.trusted.get(header.gateway.keyId);
    const keyTrusted = !!key && sameKey(key, header.gateway.publicKey);
    if (opts.requireKnownKey && !keyTrusted) {
      out.integrity = 'unknown-key';
      return custody('rejected', `signed by key ${header.gateway.keyId}, which is not trusted (--require-known-key)`);
    }
    fileId = c.db.transaction(() => {
      const id = Number(c.db.prepare(`INSERT INTO files(path, sha256, size, imported_at, session_id, protocol, key_id, key_trusted, integrity, state)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'importing', 'importing')`)
        .run(path, out.sha256, out.size, now(), header.session, header.protocol, header.gateway.keyId, keyTrusted ? 1 : 0).lastInsertRowid);
      c.db.prepare("INSERT INTO sessions(id, file_id, protocol, integrity, start_t) VALUES (?, ?, ?, 'importing', ?)")
        .run(header.session, id, header.protocol, header.createdAt);
      return id;
    })();
    const report = await streamEvents(c, lines, verifier, header, path, out, opts);
    out.findings = report.findings;
    out.integrity = report.status;
    out.sealed = report.sealed;
    out.events = report.events;
    finishSession(c.db, fileId, report.indexer, report);
    return custody('imported', supersedes);
  } catch (err) {
    const described = describeSqliteError(err, c.path);
    const message = described?.message ?? `cannot import ${path}: ${(err as Error).message}`;
    try {
      if (fileId !== undefined) {
        c.db.transaction(() => {
          if (out.session) deleteSessionRows(c.db, out.session);
          c.db.prepare('DELETE FROM findings WHERE file_id = ?').run(fileId);
          c.db.prepare('DELETE FROM files WHERE id = ?').run(fileId);
        })();
      }
      return custody('failed', message);
    } catch {
      // The case file cannot be written at all; the half-import is swept at the next open.
      out.action = 'failed';
      out.message = message;
      return out;
    }
  }
}

async function streamEvents(
  c: CaseFile, lines: AsyncIterator<{ line: string; complete: boolean }>, verifier: RecordingVerifier,
  header: RecordingHeader, path: string, out: FileImport, opts: ImportOptions,
): Promise<VerifyReport & { indexer: SessionIndexer }> {
  const writer = new BatchWriter(c.db);
  const flush = c.db.transaction((b: Batch) => writer.write(b));
  const indexer = new SessionIndexer(header.session, header.protocol);
  const limit = opts.batchRows ?? 5000;
  let batch = emptyBatch();
  let bytes = first(header);
  let events = 0;
  const total = out.size ?? 0;
  for (let r = await lines.next(); !r.done; r = await lines.next()) {
    const { line, complete } = r.value;
    bytes += line.length + 1;
    const verified = verifier.push(line, complete);
    if (!verified) continue;
    const e = verified.event;
    events++;
    batch.events.push([header.session, e.seq, e.t, e.type, dataText(line, e), verified.intact ? 1 : 0]);
    indexer.add(e, batch);
    if (indexer.keyframeDue) await indexer.keyframe(batch);
    if (batchSize(batch) >= limit) {
      flush(batch);
      batch = emptyBatch();
      opts.onProgress?.({ path, bytesRead: Math.min(bytes, total), bytesTotal: total, events });
    }
  }
  await indexer.finish(batch);
  flush(batch);
  opts.onProgress?.({ path, bytesRead: total, bytesTotal: total, events });
  return { ...verifier.end(), indexer };
}

function first(header: RecordingHeader): number {
  return JSON.stringify(header).length + 1;
}

/**
 * The `data` JSON exactly as recorded. Writers put fields in a fixed order
 * (`…,"data":{…},"prev":"<64 hex>"}`), so it is a slice of the line; anything
 * else is re-serialized.
 */
function dataText(line: string, e: RecordingEvent): string {
  const start = line.indexOf('"data":');
  const end = line.length - 75;
  if (start > 0 && end > start && line.startsWith(',"prev":"', end) && line.endsWith('"}')) return line.slice(start + 7, end);
  return JSON.stringify(e.data);
}

function parseHeader(line: string): RecordingHeader | undefined {
  try {
    const parsed = RecordingHeader.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function sameKey(key: KeyObject, pem: string): boolean {
  try {
    return key.equals(createPublicKey(pem));
  } catch {
    return false;
  }
}

/** SHA-256 of a file, or of its first `bytes` bytes. */
export async function sha256File(path: string, bytes?: number): Promise<string> {
  const hash = createHash('sha256');
  if (bytes === 0) return hash.digest('hex');
  const range = bytes === undefined ? {} : { start: 0, end: bytes - 1 };
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, ...range })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
