import { closeSync, existsSync, fsyncSync, openSync, readSync, statSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../common/clock.js';
import type { Signer, TrustedKeys } from '../../common/keys.js';
import { recoveryLines } from '../../common/recording/encoder.js';
import { verifyRecordingFile } from '../../common/recording/index.js';
import type { JournalEntry } from '../../common/recording/journal.js';
import type { Logger } from '../log.js';
import type { SessionJournal } from './journal.js';

export interface RecoveryResult {
  session: string;
  file: string;
  /** recovered: sealed with a crash-recovery record; left: not sealed, and why (it stays flagged). */
  action: 'recovered' | 'left';
  afterSeq?: number;
  /** Bytes of a torn last line that were cut off. */
  torn?: number;
  reason?: string;
}

/**
 * Crash recovery, run at start before any session opens. A previous run that
 * stopped cleanly closed its own recording (protocol `gateway`, the audit log)
 * in the journal; when the last run's audit recording was never closed, that
 * run crashed, and every session it opened and never closed is checked: its torn
 * last line (a write cut by the crash) is cut off, saying so, and if the rest
 * verifies, a signed "recovered after crash at seq N" session end and seal are
 * appended, and a `recovered` entry to the journal. A file that does not verify
 * is left as it is (tampered stays tampered). Unsealed files outside a crashed
 * run are not recovered: `verify` flags them (no crash explains them).
 */
export async function recoverCrashedSessions(opts: {
  dir: string; journal: SessionJournal; signer: Signer; trusted: TrustedKeys; clock: Clock; logger: Logger;
}): Promise<RecoveryResult[]> {
  const found = opts.journal.found;
  if (!found) return [];
  const lastRun = lastRunStart(found.list);
  if (!lastRun || found.sessions.get(lastRun.session)?.closed) return [];
  const results: RecoveryResult[] = [];
  for (const entry of found.list) {
    if (entry.type !== 'open' || entry.seq < lastRun.seq) continue;
    const s = found.sessions.get(entry.session)!;
    if (s.closed || s.recovered) continue;
    const path = join(opts.dir, s.file);
    if (!existsSync(path)) {
      opts.logger.error({ session: s.session, file: s.file }, 'crash recovery: the journal lists this session but its file is missing');
      results.push({ session: s.session, file: s.file, action: 'left', reason: 'file missing' });
      continue;
    }
    results.push(await recoverOne(opts, s.session, s.file, path));
  }
  return results;
}

/** The journal's last opening of a gateway's own recording: where the last run began. */
function lastRunStart(list: readonly JournalEntry[]): JournalEntry | undefined {
  for (let i = list.length - 1; i >= 0; i--) {
    const e = list[i]!;
    if (e.type === 'open' && e.session.startsWith('gateway-')) return e;
  }
  return undefined;
}

async function recoverOne(
  opts: { journal: SessionJournal; signer: Signer; trusted: TrustedKeys; clock: Clock; logger: Logger },
  session: string, file: string, path: string,
): Promise<RecoveryResult> {
  const torn = cutTornLine(path);
  if (torn > 0) opts.logger.warn({ session, file, bytes: torn }, 'crash recovery: cut off a torn last line (a write the crash interrupted)');
  const report = await verifyRecordingFile(path, opts.trusted);
  const ownKey = report.header?.gateway.keyId === opts.signer.keyId;
  if (report.header?.session !== session || !ownKey || report.sealed || report.status !== 'unverified' || report.intactThroughSeq !== report.lastSeq) {
    const reason = report.sealed ? 'already sealed' : `does not verify (${report.status}, intact through seq ${report.intactThroughSeq} of ${report.lastSeq})`;
    opts.logger.error({ session, file, status: report.status, findings: report.findings.slice(0, 5) }, `crash recovery: not recovered: ${reason}`);
    return { session, file, action: 'left', reason, ...(torn ? { torn } : {}) };
  }
  const afterSeq = report.lastSeq;
  const closing = recoveryLines(opts.signer, session, afterSeq, report.lastHash, opts.clock.nowMicros(), torn ? { tornBytes: torn } : {});
  const fd = openSync(path, 'a');
  try {
    writeAllText(fd, closing.lines);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  opts.journal.recovered({ session, file, lastSeq: closing.lastSeq, finalHash: closing.lastHash, afterSeq, ...(torn ? { torn } : {}) });
  opts.logger.warn({ session, file, afterSeq }, `crash recovery: ${file} recovered after crash at seq ${afterSeq}`);
  return { session, file, action: 'recovered', afterSeq, ...(torn ? { torn } : {}) };
}

/** Cuts the file after its last newline; returns the bytes cut (0 when it ends with one). */
function cutTornLine(path: string): number {
  const size = statSync(path).size;
  if (size === 0) return 0;
  const fd = openSync(path, 'r');
  try {
    // Walk back in 64 KiB steps to the last newline.
    const step = 64 * 1024;
    const buf = Buffer.alloc(step);
    for (let end = size; end > 0;) {
      const start = Math.max(0, end - step);
      const n = readSync(fd, buf, 0, end - start, start);
      const nl = buf.subarray(0, n).lastIndexOf(10);
      if (nl !== -1) {
        const keep = start + nl + 1;
        if (keep < size) truncateSync(path, keep);
        return size - keep;
      }
      end = start;
    }
    return 0; // no newline at all: not even a header; left for verify to call invalid
  } finally {
    closeSync(fd);
  }
}

function writeAllText(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  let offset = 0;
  while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
}
