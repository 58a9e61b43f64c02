import { closeSync, existsSync, fdatasync, fsyncSync, mkdirSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../../common/clock.js';
import { HopscopeError } from '../../common/errors.js';
import type { Signer, TrustedKeys } from '../../common/keys.js';
import { lineHash } from '../../common/recording/index.js';
import {
  JOURNAL_FILE, journalEntryLine, journalHeaderLine, verifyJournalText, type JournalEntryType, type JournalFields, type JournalReport,
} from '../../common/recording/journal.js';
import type { Logger } from '../log.js';
import type { FsyncPolicy } from './writer.js';

/**
 * The gateway's side of the journal of sessions (common/recording/journal.ts):
 * appends a signed, chained entry when a recording opens, closes or is recovered.
 * One per recordings folder and gateway process; entries are two per session,
 * so a synchronous write (and fsync by the folder's policy) costs nothing per event.
 */
export class SessionJournal {
  readonly path: string;
  private fd: number | undefined;
  private seq: number;
  private prev: string;
  /** The journal as found at start (before this run appended): what recovery checks files against. */
  readonly found: JournalReport | undefined;

  private constructor(
    private readonly opts: { dir: string; signer: Signer; clock: Clock; fsync: FsyncPolicy; logger: Logger },
    path: string, fd: number, seq: number, prev: string, found: JournalReport | undefined,
  ) {
    this.path = path;
    this.fd = fd;
    this.seq = seq;
    this.prev = prev;
    this.found = found;
  }

  /**
   * Opens the folder's journal, creating it on first use. A torn last line (a
   * crash mid-write) is cut off, and said so. A journal that fails its checks is
   * kept as it is and appended to: its damage stays visible to `verify`.
   */
  static open(opts: { dir: string; signer: Signer; clock: Clock; fsync: FsyncPolicy; logger: Logger; trusted: TrustedKeys }): SessionJournal {
    mkdirSync(opts.dir, { recursive: true, mode: 0o750 });
    const path = join(opts.dir, JOURNAL_FILE);
    try {
      if (!existsSync(path)) {
        const header = journalHeaderLine(opts.signer, opts.clock.nowMicros());
        const fd = openSync(path, 'wx', 0o640);
        writeAll(fd, `${header}\n`);
        if (opts.fsync !== 'none') fsyncSync(fd);
        return new SessionJournal(opts, path, fd, 0, lineHash(header), undefined);
      }
      const bytes = readFileSync(path);
      const completeEnd = bytes.lastIndexOf(10) + 1;
      const found = verifyJournalText(bytes.toString('utf8'), opts.trusted);
      if (completeEnd < bytes.length) {
        opts.logger.warn({ journal: path, bytes: bytes.length - completeEnd }, 'journal: cut off a torn last line (the gateway crashed while writing it)');
        truncateSync(path, completeEnd);
      }
      if (found.status !== 'intact' && found.status !== 'unverified') {
        opts.logger.error({ journal: path, status: found.status, findings: found.findings }, 'journal of sessions fails its checks; appending after its last line');
      }
      // Chain after the actual last line and seq, whatever its state: a break stays where it is.
      const lines = bytes.subarray(0, completeEnd).toString('utf8').split('\n').slice(0, -1);
      const last = lines.at(-1) ?? '';
      const seq = lines.length > 1 ? lastSeqOf(last, found.lastSeq) : 0;
      const fd = openSync(path, 'a', 0o640);
      return new SessionJournal(opts, path, fd, seq, lineHash(last), found);
    } catch (err) {
      throw new HopscopeError('RECORDING_UNAVAILABLE', 'the journal of sessions cannot be written', `${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }

  /** The seq and hash of the last entry: logged at stop, an anchor outside the folder against a cut tail. */
  get head(): { seq: number; hash: string } {
    return { seq: this.seq, hash: this.prev };
  }

  opened(session: string, file: string): void {
    this.append('open', { session, file });
  }

  closed(session: string, file: string, lastSeq: number, finalHash: string): void {
    this.append('close', { session, file, lastSeq, finalHash });
  }

  recovered(fields: Required<Pick<JournalFields, 'session' | 'file' | 'lastSeq' | 'finalHash' | 'afterSeq'>> & { torn?: number }): void {
    this.append('recovered', fields);
  }

  /** Appends one entry durably (by the fsync policy); throws RECORDING_UNAVAILABLE. */
  private append(type: JournalEntryType, fields: JournalFields): void {
    if (this.fd === undefined) throw new HopscopeError('RECORDING_UNAVAILABLE', 'the journal of sessions is closed');
    const line = journalEntryLine(this.opts.signer, this.seq + 1, this.opts.clock.nowMicros(), type, fields, this.prev);
    try {
      writeAll(this.fd, `${line}\n`);
      if (this.opts.fsync === 'always') fsyncSync(this.fd);
      else if (this.opts.fsync === 'batch') fdatasync(this.fd, () => undefined);
    } catch (err) {
      throw new HopscopeError('RECORDING_UNAVAILABLE', 'the journal of sessions cannot be written', `${this.path}: ${(err as NodeJS.ErrnoException).code ?? 'EIO'}`);
    }
    this.seq++;
    this.prev = lineHash(line);
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      if (this.opts.fsync !== 'none') fsyncSync(this.fd);
      closeSync(this.fd);
    } catch {
      // nothing left to do with a descriptor that will not close
    }
    this.fd = undefined;
  }
}

function lastSeqOf(line: string, fallback: number): number {
  try {
    const seq = (JSON.parse(line) as { seq?: unknown }).seq;
    return typeof seq === 'number' && Number.isInteger(seq) ? seq : fallback;
  } catch {
    return fallback;
  }
}

function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  let offset = 0;
  while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
}
