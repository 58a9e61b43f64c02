import { createReadStream } from 'node:fs';
import type { TrustedKeys } from '../keys.js';
import { RecordingVerifier, type VerifiedLine, type VerifyReport } from './verify.js';

/** Lines longer than this are not events a gateway writes; they are cut to keep memory bounded. */
const MAX_LINE = 64 * 1024 * 1024;

/** One line of a recording: its text, its exact bytes (without the newline), and whether a newline ended it. */
export interface RecordingLine {
  line: string;
  bytes: Buffer;
  /** False for a last line that had no newline (a torn write). */
  complete: boolean;
}

export interface ReadOptions {
  /** Sees every byte of the file once, in order (e.g. to hash it for custody while reading). */
  onBytes?: (chunk: Buffer) => void;
}

/**
 * Streams a file's lines in bounded memory, as the lines of each read chunk
 * (1 MiB) at once: one await per chunk rather than per line. `bytes` are views
 * into the chunk, valid until the next batch is asked for.
 */
export async function* readRecordingBatches(path: string, opts: ReadOptions = {}): AsyncGenerator<RecordingLine[]> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    opts.onBytes?.(chunk);
    const out: RecordingLine[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      const bytes = pendingBytes ? Buffer.concat([...pending, chunk.subarray(start, nl)]) : chunk.subarray(start, nl);
      pending = [];
      pendingBytes = 0;
      start = nl + 1;
      out.push({ line: bytes.toString('utf8'), bytes, complete: true });
    }
    if (start < chunk.length && pendingBytes < MAX_LINE) {
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
    }
    if (out.length) yield out;
  }
  if (pendingBytes) {
    const bytes = Buffer.concat(pending);
    yield [{ line: bytes.toString('utf8'), bytes, complete: false }];
  }
}

/**
 * Streams a file's lines without their newline, in bounded memory. `complete` is
 * false for a last line that had no newline (a torn write).
 */
export async function* readRecordingLines(path: string): AsyncGenerator<{ line: string; complete: boolean }> {
  for await (const batch of readRecordingBatches(path)) {
    for (const { line, complete } of batch) yield { line, complete };
  }
}

/** Verifies one file; `onEvent` sees each decoded event (for importers). */
export async function verifyRecordingFile(
  path: string,
  trusted: TrustedKeys,
  onEvent?: (verified: VerifiedLine) => void,
): Promise<VerifyReport> {
  const verifier = new RecordingVerifier(trusted);
  for await (const batch of readRecordingBatches(path)) {
    for (const { line, bytes, complete } of batch) {
      const verified = verifier.push(line, complete, bytes);
      if (verified && onEvent) onEvent(verified);
    }
  }
  return verifier.end();
}
