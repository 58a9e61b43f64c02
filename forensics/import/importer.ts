import { createHash, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import type { TrustedKeys } from '../../common/keys.js';
import {
  RecordingHeader, RecordingVerifier, type FileFacts, type Finding, type IntegrityState, type IntegrityStatus,
} from '../../common/recording/index.js';
import { describeSqliteError } from '../errors.js';
import { caseDb, PENDING_HASH, deleteSessionRows, type CaseFile } from '../store/case.js';
import { finishSession } from './finish.js';
import { InlineSink, openSink } from './sink.js';
import { HashedRead, streamEvents } from './stream.js';

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
  /**
   * Hash lines and the file on a hash thread while this thread parses (default
   * false). It takes about 1 µs per event off the reading thread and costs more
   * in all (a copy of every chunk, a second isolate's memory): on a 2-core machine
   * it did not pay (BENCHMARKS.md, import); where spare cores wait on the reading thread it may.
   */
  hashThread?: boolean;
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
    caseDb(c).prepare('INSERT INTO custody(at, path, sha256, size, action, session_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(now(), path, out.sha256, out.size, action, out.session, message);
    return out;
  };
  let fileId: number | undefined;
  let file: HashedRead | undefined;
  try {
    out.size = statSync(path).size;
    file = await HashedRead.open(path, opts.hashThread ?? false);
    const verifier = new RecordingVerifier(opts.trusted);
    let lines = await file.next();
    const head = lines[0];
    const header = head ? parseHeader(head.line) : undefined;
    if (head) verifier.push(head.line, head.complete, head.bytes, head.hash);
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
    const prior = caseDb(c).prepare("SELECT id, path, sha256, size, sealed FROM files WHERE session_id = ? AND state = 'complete'")
      .get(header.session) as { id: number; path: string; sha256: string; size: number; sealed: number } | undefined;
    let supersedes: string | null = null;
    if (prior) {
      // The session is in the case already: this file is the same (a no-op), a longer copy, or a
      // conflict, and telling them apart needs the whole file's hash before anything is stored.
      await file.close();
      out.sha256 = await sha256File(path);
      if (out.sha256 === prior.sha256) {
        const f = caseDb(c).prepare('SELECT integrity, sealed, events FROM files WHERE id = ?').get(prior.id) as { integrity: IntegrityStatus; sealed: number; events: number };
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
      caseDb(c).transaction(() => {
        deleteSessionRows(caseDb(c), header.session);
        caseDb(c).prepare("UPDATE files SET state = 'superseded' WHERE id = ?").run(prior.id);
      })();
      // Read it again from the start, so that the custody hash covers exactly what is imported.
      file = await HashedRead.open(path, opts.hashThread ?? false);
      lines = await file.next();
    }
    fileId = caseDb(c).transaction(() => {
      // The SHA-256 is known once the last byte is read; until then the row holds a unique placeholder.
      const id = Number(caseDb(c).prepare(`INSERT INTO files(path, sha256, size, imported_at, session_id, protocol, key_id, key_trusted, integrity, state)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'importing', 'importing')`)
        .run(path, `${PENDING_HASH}${randomUUID()}`, out.size, now(), header.session, header.protocol, header.gateway.keyId, keyTrusted ? 1 : 0).lastInsertRowid);
      caseDb(c).prepare("INSERT INTO sessions(id, file_id, protocol, integrity, start_t) VALUES (?, ?, ?, 'importing', ?)")
        .run(header.session, id, header.protocol, header.createdAt);
      return id;
    })();
    const sinks = { open: () => openSink(c, opts.writeThread ?? true), inline: () => new InlineSink(caseDb(c)) };
    const streamed = await streamEvents(sinks, lines.slice(1), file, verifier, header, path, out.size, opts);
    const { report } = streamed;
    out.sha256 = streamed.sha256;
    out.size = streamed.bytes;
    out.findings = report.findings;
    out.findingsOmitted = report.findingsOmitted;
    out.integrity = report.status;
    out.sealed = report.sealed;
    out.events = report.events;
    out.verified = {
      fileId, status: report.status, header: report.header, lastSeq: report.lastSeq, lastHash: report.lastHash, sealed: report.sealed,
      signedThroughSeq: report.signedThroughSeq,
    };
    finishSession(caseDb(c), fileId, streamed.facts, report, { sha256: out.sha256, size: out.size });
    // Events the schema did not accept are stored raw and named in the summary, so `import` says so.
    const undecodable = caseDb(c).prepare("SELECT seq, message FROM findings WHERE file_id = ? AND kind = 'undecodable-event' ORDER BY seq LIMIT ?")
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
        caseDb(c).transaction(() => {
          if (out.session) deleteSessionRows(caseDb(c), out.session);
          caseDb(c).prepare('DELETE FROM findings WHERE file_id = ?').run(fileId);
          caseDb(c).prepare('DELETE FROM files WHERE id = ?').run(fileId);
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
