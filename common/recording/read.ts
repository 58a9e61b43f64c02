import { createReadStream } from 'node:fs';
import type { TrustedKeys } from '../keys.js';
import { RecordingVerifier, type VerifiedLine, type VerifyReport } from './verify.js';

/** Lines longer than this are not events a gateway writes; they are cut to keep memory bounded. */
const MAX_LINE = 64 * 1024 * 1024;
/** Bytes read at a time. */
const READ_CHUNK = 1 << 20;

/** One line of a recording: its text, its exact bytes (without the newline), and whether a newline ended it. */
export interface RecordingLine {
  line: string;
  bytes: Buffer;
  /** False for a last line that had no newline (a torn write). */
  complete: boolean;
  /** SHA-256 (hex) of `bytes`, when a hash thread computed it already (line-hashes.ts). */
  hash?: string;
}

export interface ReadOptions {
  /** Sees every byte of the file once, in order (e.g. to hash it for custody while reading). */
  onBytes?: (chunk: Buffer) => void;
}

/**
 * Cuts a byte stream into lines (without their newline). Every reader cuts with
 * this one class, so that a line hashed on another thread (line-hashes.ts) is
 * exactly the line the reading thread verifies. A line longer than MAX_LINE
 * keeps its first MAX_LINE bytes or so (memory stays bounded).
 */
export class LineCutter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** Calls `line` with each line the chunk completes, in order (views into the chunk, or a copy for a line that spans chunks). */
  push(chunk: Buffer, line: (bytes: Buffer) => void): void {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      const bytes = this.pendingBytes ? Buffer.concat([...this.pending, chunk.subarray(start, nl)]) : chunk.subarray(start, nl);
      this.pending = [];
      this.pendingBytes = 0;
      start = nl + 1;
      line(bytes);
    }
    if (start < chunk.length && this.pendingBytes < MAX_LINE) {
      this.pending.push(chunk.subarray(start));
      this.pendingBytes += chunk.length - start;
    }
  }

  /** What is left after the last newline: a last line without one (a torn write), if any. */
  rest(): Buffer | undefined {
    return this.pendingBytes ? Buffer.concat(this.pending) : undefined;
  }
}

/**
 * Streams a file's lines in bounded memory, as the lines of each read chunk
 * (1 MiB) at once: one await per chunk rather than per line. `bytes` are views
 * into the chunk, valid until the next batch is asked for.
 */
export async function* readRecordingBatches(path: string, opts: ReadOptions = {}): AsyncGenerator<RecordingLine[]> {
  const cutter = new LineCutter();
  for await (const chunk of createReadStream(path, { highWaterMark: READ_CHUNK }) as AsyncIterable<Buffer>) {
    opts.onBytes?.(chunk);
    const out: RecordingLine[] = [];
    cutter.push(chunk, (bytes) => out.push({ line: bytes.toString('utf8'), bytes, complete: true }));
    if (out.length) yield out;
  }
  const rest = cutter.rest();
  if (rest) yield [{ line: rest.toString('utf8'), bytes: rest, complete: false }];
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
