import { createReadStream } from 'node:fs';
import type { TrustedKeys } from '../keys.js';
import { RecordingVerifier, type VerifiedLine, type VerifyReport } from './verify.js';

/** Lines longer than this are not events a gateway writes; they are cut to keep memory bounded. */
const MAX_LINE = 64 * 1024 * 1024;

/**
 * Streams a file's lines without their newline, in bounded memory. `complete` is
 * false for a last line that had no newline (a torn write).
 */
export async function* readRecordingLines(path: string): AsyncGenerator<{ line: string; complete: boolean }> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      const line = pendingBytes ? Buffer.concat([...pending, piece]).toString('utf8') : piece.toString('utf8');
      pending = [];
      pendingBytes = 0;
      start = nl + 1;
      yield { line, complete: true };
    }
    if (start < chunk.length && pendingBytes < MAX_LINE) {
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
    }
  }
  if (pendingBytes) yield { line: Buffer.concat(pending).toString('utf8'), complete: false };
}

/** Verifies one file; `onEvent` sees each decoded event (for importers). */
export async function verifyRecordingFile(
  path: string,
  trusted: TrustedKeys,
  onEvent?: (verified: VerifiedLine) => void,
): Promise<VerifyReport> {
  const verifier = new RecordingVerifier(trusted);
  for await (const { line, complete } of readRecordingLines(path)) {
    const verified = verifier.push(line, complete);
    if (verified && onEvent) onEvent(verified);
  }
  return verifier.end();
}
