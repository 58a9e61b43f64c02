import { fileHashes, type FileHashes } from '../../common/recording/line-hashes.js';
import {
  readRecordingBatches, type RecordingEvent, type RecordingHeader, type RecordingLine, type RecordingVerifier, type VerifyReport,
} from '../../common/recording/index.js';
import { BATCH_BYTES, batchSize, emptyBatch } from './batch.js';
import { SessionIndexer, type SessionFacts } from './derive.js';
import type { RowSink } from './sink.js';

/**
 * The streaming stage of a file's import: read, verify and derive every line and
 * hand the rows to a sink in batches. The same code runs on the importing thread
 * or on a file thread (file-threads.ts), so a file is checked the same way on either.
 */
export interface StreamOptions {
  /** Rows per transaction (default 5000). */
  batchRows?: number;
  onProgress?: (p: { path: string; bytesRead: number; bytesTotal: number; events: number }) => void;
}

/** Where batches go: `open` for a file longer than one batch, `inline` for one that fits in one. */
export interface SinkChoice {
  open(): Promise<RowSink>;
  inline(): RowSink;
}

/** What the finishing transaction needs of a streamed file. */
export interface Streamed {
  report: VerifyReport;
  facts: SessionFacts;
  sha256: string;
  bytes: number;
}

/**
 * A recording's lines, chunk by chunk, each complete line with its SHA-256, and
 * the SHA-256 and count of the bytes read so far. With the hash thread
 * (common/recording/line-hashes.ts) the hashes are made while this thread
 * parses: the next chunk is read (and sent to be hashed) before the lines of
 * this one are handed out.
 */
export class HashedRead {
  bytes = 0;
  private readonly batches: AsyncGenerator<RecordingLine[]>;
  private ahead: Promise<IteratorResult<RecordingLine[]>> | undefined;

  private constructor(path: string, private readonly hashes: FileHashes) {
    this.batches = readRecordingBatches(path, { onBytes: (chunk) => { hashes.push(chunk); this.bytes += chunk.length; } });
  }

  /** `hashThread` true hashes on the hash thread when one can run here. */
  static async open(path: string, hashThread = false): Promise<HashedRead> {
    return new HashedRead(path, await fileHashes(hashThread));
  }

  /** The lines of the next chunk; empty at the end of the file. */
  async next(): Promise<RecordingLine[]> {
    const r = await (this.ahead ?? this.batches.next());
    this.ahead = undefined;
    if (r.done) return [];
    if (this.hashes.threaded) {
      this.ahead = this.batches.next();
      // A read error surfaces when this read-ahead is awaited, not as an unhandled rejection meanwhile.
      this.ahead.catch(() => undefined);
      await this.hashes.fill(r.value);
    }
    return r.value;
  }

  async close(): Promise<void> {
    this.hashes.close();
    await this.ahead?.catch(() => undefined);
    await this.batches.return(undefined);
  }

  /** Once the whole file has been read. */
  async sha256(): Promise<string> {
    const hash = await this.hashes.end();
    this.hashes.close();
    return hash;
  }
}

/** Streams the lines after the header (the header is pushed to `verifier` already) and returns what was read. */
export async function streamEvents(
  sinks: SinkChoice, firstLines: RecordingLine[], file: HashedRead, verifier: RecordingVerifier,
  header: RecordingHeader, path: string, total: number, opts: StreamOptions,
): Promise<Streamed> {
  const indexer = new SessionIndexer(header.session, header.protocol, header.version);
  const rowLimit = opts.batchRows ?? 5000;
  const session = header.session;
  // A file that fits in one batch is written inline; a longer one goes to the chosen sink from its first batch.
  let sink: RowSink | undefined;
  let batch = emptyBatch();
  let events = 0;
  try {
    // The first chunk may hold nothing but the header: reading goes on until a chunk comes back empty.
    for (let lines = firstLines, more = true; more; lines = await file.next(), more = lines.length > 0) {
      for (const { line, bytes, complete, hash } of lines) {
        const verified = verifier.push(line, complete, bytes, hash);
        if (!verified) continue;
        const e = verified.event;
        events++;
        batch.events.push(session, e.seq, e.t, e.type, dataText(line, e), verified.intact ? 1 : 0);
        batch.bytes += bytes.length;
        indexer.add(e, batch);
        if (indexer.keyframeDue) indexer.keyframe(batch);
        // Rows and bytes both bound a batch, so memory stays flat however long the lines are.
        if (batchSize(batch) >= rowLimit || batch.bytes >= BATCH_BYTES) {
          sink ??= await sinks.open();
          await sink.write(batch);
          batch = emptyBatch();
          opts.onProgress?.({ path, bytesRead: Math.min(file.bytes, total), bytesTotal: total, events });
        }
      }
    }
    indexer.finish(batch);
    sink ??= sinks.inline();
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
  return { report: verifier.end(), facts: indexer.facts, sha256: await file.sha256(), bytes: file.bytes };
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
