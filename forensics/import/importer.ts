import { createHash, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import type { TrustedKeys } from '../../common/keys.js';
import {
  RecordingHeader, RecordingVerifier, readRecordingBatches, type FileFacts, type Finding, type IntegrityState, type IntegrityStatus,
  type RecordingEvent, type RecordingLine, type VerifyReport,
} from '../../common/recording/index.js';
import { describeSqliteError } from '../errors.js';
import { PENDING_HASH, deleteSessionRows, type CaseFile } from '../store/case.js';
import { BATCH_BYTES, batchSize, emptyBatch } from './batch.js';
import { SessionIndexer } from './derive.js';
import { finishSession } from './finish.js';
import { InlineSink, openSink, type RowSink } from './sink.js';

export interface ImportOptions {
  trusted: TrustedKeys;
  /** Refuse files signed by a key that is not trusted (default: import them, flagged unknown-key). */
  requireKnownKey?: boolean;
  /** Rows per transaction (default 5000). */
  batchRows?: number;
  /**
   * Write rows on a second thread while the next ones are read and verified
   * (default true). False, or a case whose connection cannot be shared (in memory,
   * inside a transaction, with TEMP triggers), writes on the case's connection.
   */
  writeThread?: boolean;
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

/** `missing`: a session the folder's journal lists whose file is absent (nothing imported; recorded in custody). */
export type ImportAction = 'imported' | 'unchanged' | 'conflict' | 'rejected' | 'failed' | 'missing';

export interface FileImport {
  path: string;
  sha256: string | null;
  size: number | null;
  action: ImportAction;
  session: string | null;
  /** The integrity word (common/recording/integrity.ts), once the folder's journal is taken into account. */
  integrity: IntegrityState | null;
  sealed: boolean;
  /** What the journal check needs of an imported file (see FolderCheck): its header and end of chain. */
  verified?: FileFacts & { fileId: number };
  events: number;
  findings: Finding[];
  /** Findings past the verifier's cap (MAX_FINDINGS): counted, not kept or stored. */
  findingsOmitted: number;
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
  const out: FileImport = { path, sha256: null, size: null, action: 'failed', session: null, integrity: null, sealed: false, events: 0, findings: [], findingsOmitted: 0, message: null };
  const custody = (action: ImportAction, message: string | null) => {
    out.action = action;
    out.message = message;
    c.db.prepare('INSERT INTO custody(at, path, sha256, size, action, session_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(now(), path, out.sha256, out.size, action, out.session, message);
    return out;
  };
  let fileId: number | undefined;
  let file: HashedRead | undefined;
  try {
    out.size = statSync(path).size;
    file = new HashedRead(path);
    const verifier = new RecordingVerifier(opts.trusted);
    let lines = await file.next();
    const head = lines[0];
    const header = head ? parseHeader(head.line) : undefined;
    if (head) verifier.push(head.line, head.complete, head.bytes);
    if (!header) {
      const report = verifier.end();
      out.findings = report.findings;
      out.findingsOmitted = report.findingsOmitted;
      out.integrity = report.status;
      await file.close();
      out.sha256 = await sha256File(path);
      return custody('rejected', report.findings[0]?.message ?? 'not a hopscope recording');
    }
    out.session = header.session;
    const prior = c.db.prepare("SELECT id, path, sha256, size, sealed FROM files WHERE session_id = ? AND state = 'complete'")
      .get(header.session) as { id: number; path: string; sha256: string; size: number; sealed: number } | undefined;
    let supersedes: string | null = null;
    if (prior) {
      // The session is in the case already: this file is the same (a no-op), a longer copy, or a
      // conflict, and telling them apart needs the whole file's hash before anything is stored.
      await file.close();
      out.sha256 = await sha256File(path);
      if (out.sha256 === prior.sha256) {
        const f = c.db.prepare('SELECT integrity, sealed, events FROM files WHERE id = ?').get(prior.id) as { integrity: IntegrityStatus; sealed: number; events: number };
        Object.assign(out, { integrity: f.integrity, sealed: f.sealed === 1, events: f.events });
        return custody('unchanged', 'already imported (same SHA-256)');
      }
      // A copy taken while the gateway was still writing is a prefix of the finished file: the
      // longer file supersedes it (same bytes, more of them). Anything else is a conflict, never merged.
      const grown = prior.sealed === 0 && out.size > prior.size && (await sha256File(path, prior.size)) === prior.sha256;
      if (!grown) {
        return custody('conflict', `session ${header.session} was already imported from ${prior.path} (SHA-256 ${prior.sha256.slice(0, 16)}…) and this file differs; not merged`);
      }
      supersedes = `supersedes ${prior.path} (SHA-256 ${prior.sha256.slice(0, 16)}…), an unsealed copy of its first ${prior.size} bytes`;
    }
    const key = opts.trusted.get(header.gateway.keyId);
    const keyTrusted = !!key && sameKey(key, header.gateway.publicKey);
    if (opts.requireKnownKey && !keyTrusted) {
      out.integrity = 'unknown-key';
      await file.close();
      out.sha256 ??= await sha256File(path);
      return custody('rejected', `signed by key ${header.gateway.keyId}, which is not trusted (--require-known-key)`);
    }
    if (prior) {
      c.db.transaction(() => {
        deleteSessionRows(c.db, header.session);
        c.db.prepare("UPDATE files SET state = 'superseded' WHERE id = ?").run(prior.id);
      })();
      // Read it again from the start, so that the custody hash covers exactly what is imported.
      file = new HashedRead(path);
      lines = await file.next();
    }
    fileId = c.db.transaction(() => {
      // The SHA-256 is known once the last byte is read; until then the row holds a unique placeholder.
      const id = Number(c.db.prepare(`INSERT INTO files(path, sha256, size, imported_at, session_id, protocol, key_id, key_trusted, integrity, state)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'importing', 'importing')`)
        .run(path, `${PENDING_HASH}${randomUUID()}`, out.size, now(), header.session, header.protocol, header.gateway.keyId, keyTrusted ? 1 : 0).lastInsertRowid);
      c.db.prepare("INSERT INTO sessions(id, file_id, protocol, integrity, start_t) VALUES (?, ?, ?, 'importing', ?)")
        .run(header.session, id, header.protocol, header.createdAt);
      return id;
    })();
    const report = await streamEvents(c, lines.slice(1), file, verifier, header, path, out, opts);
    out.sha256 = file.sha256();
    out.size = file.bytes;
    out.findings = report.findings;
    out.findingsOmitted = report.findingsOmitted;
    out.integrity = report.status;
    out.sealed = report.sealed;
    out.events = report.events;
    out.verified = {
      fileId, status: report.status, header: report.header, lastSeq: report.lastSeq, lastHash: report.lastHash, sealed: report.sealed,
      signedThroughSeq: report.signedThroughSeq,
    };
    finishSession(c.db, fileId, report.indexer, report, { sha256: out.sha256, size: out.size });
    // Events the schema did not accept are stored raw and named in the summary, so `import` says so.
    const undecodable = c.db.prepare("SELECT seq, message FROM findings WHERE file_id = ? AND kind = 'undecodable-event' ORDER BY seq LIMIT ?")
      .all(fileId, MAX_UNDECODABLE_LISTED + 1) as { seq: number | null; message: string }[];
    for (const f of undecodable.slice(0, MAX_UNDECODABLE_LISTED)) {
      out.findings.push({ kind: 'undecodable-event', line: 0, message: f.message, ...(f.seq !== null ? { seq: f.seq } : {}) });
    }
    if (undecodable.length > MAX_UNDECODABLE_LISTED) out.findingsOmitted++;
    return custody('imported', supersedes);
  } catch (err) {
    await file?.close().catch(() => undefined);
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

/** Undecodable events named in an import's summary (all of them are in the case file's findings). */
const MAX_UNDECODABLE_LISTED = 20;

/** A recording's lines, chunk by chunk, with the SHA-256 and count of the bytes read so far. */
class HashedRead {
  bytes = 0;
  private readonly hash = createHash('sha256');
  private readonly batches: AsyncGenerator<RecordingLine[]>;

  constructor(path: string) {
    this.batches = readRecordingBatches(path, { onBytes: (chunk) => { this.hash.update(chunk); this.bytes += chunk.length; } });
  }

  /** The lines of the next chunk; empty at the end of the file. */
  async next(): Promise<RecordingLine[]> {
    const r = await this.batches.next();
    return r.done ? [] : r.value;
  }

  async close(): Promise<void> {
    await this.batches.return(undefined);
  }

  /** Once the whole file has been read. */
  sha256(): string {
    return this.hash.digest('hex');
  }
}

async function streamEvents(
  c: CaseFile, firstLines: RecordingLine[], file: HashedRead, verifier: RecordingVerifier,
  header: RecordingHeader, path: string, out: FileImport, opts: ImportOptions,
): Promise<VerifyReport & { indexer: SessionIndexer }> {
  const indexer = new SessionIndexer(header.session, header.protocol, header.version);
  const rowLimit = opts.batchRows ?? 5000;
  const session = header.session;
  const total = out.size ?? 0;
  // A file that fits in one batch is written inline; a longer one goes to the write thread from its first batch.
  let sink: RowSink | undefined;
  let batch = emptyBatch();
  let events = 0;
  try {
    // The first chunk may hold nothing but the header: reading goes on until a chunk comes back empty.
    for (let lines = firstLines, more = true; more; lines = await file.next(), more = lines.length > 0) {
      for (const { line, bytes, complete } of lines) {
        const verified = verifier.push(line, complete, bytes);
        if (!verified) continue;
        const e = verified.event;
        events++;
        batch.events.push(session, e.seq, e.t, e.type, dataText(line, e), verified.intact ? 1 : 0);
        batch.bytes += bytes.length;
        indexer.add(e, batch);
        if (indexer.keyframeDue) await indexer.keyframe(batch);
        // Rows and bytes both bound a batch, so memory stays flat however long the lines are.
        if (batchSize(batch) >= rowLimit || batch.bytes >= BATCH_BYTES) {
          sink ??= await openSink(c, opts.writeThread ?? true);
          await sink.write(batch);
          batch = emptyBatch();
          opts.onProgress?.({ path, bytesRead: Math.min(file.bytes, total), bytesTotal: total, events });
        }
      }
    }
    await indexer.finish(batch);
    sink ??= new InlineSink(c);
    await sink.write(batch);
  } catch (err) {
    // Nothing may still be writing when the caller removes the file's rows.
    await sink?.end();
    throw err;
  }
  // Every batch is written before the finishing transaction, which runs on the case's connection.
  const failed = await sink.end();
  if (failed) throw failed;
  opts.onProgress?.({ path, bytesRead: file.bytes, bytesTotal: Math.max(total, file.bytes), events });
  return { ...verifier.end(), indexer };
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
