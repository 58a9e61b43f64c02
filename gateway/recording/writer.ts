import { randomBytes } from 'node:crypto';
import { closeSync, fdatasync, fsyncSync, mkdirSync, openSync, writeSync, writevSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Clock } from '../../common/clock.js';
import { HopscopeError } from '../../common/errors.js';
import type { Signer } from '../../common/keys.js';
import { EventType, RecordingEncoder, type EventMap, type EventName, type RecordingHeader } from '../../common/recording/index.js';

export type FsyncPolicy = 'always' | 'batch' | 'none';

export interface WriterOptions {
  dir: string;
  session: string;
  protocol: RecordingHeader['protocol'];
  signer: Signer;
  clock: Clock;
  fsync: FsyncPolicy;
  checkpointEvery: number;
  /** Called with the seconds each commit took, for /metrics. */
  onCommit?: (seconds: number, bytes: number) => void;
  /** Called with the seconds each fdatasync took (fsync=always per commit, batch per timer), for /metrics. */
  onFsync?: (seconds: number) => void;
}

/** How long `batch` lets written events sit in the page cache before fsync. */
const BATCH_SYNC_MS = 50;

/**
 * `batch` writers with events written since their last fdatasync. One timer for
 * the whole gateway syncs them all: armed by the first write after a sync round,
 * so every written event is fsynced within BATCH_SYNC_MS, as with a timer per
 * writer, without a timer per session.
 */
const unsynced = new Set<RecordingWriter>();
let batchTimer: NodeJS.Timeout | undefined;

function syncBatch(): void {
  batchTimer = undefined;
  for (const writer of unsynced) writer.syncNow();
  unsynced.clear();
}

/**
 * Events staged with `commitSoon` (nothing waits for them: a PostgreSQL result) reach the file within this time;
 * usually sooner, with the next `commit` of their session (the next command's write before forward).
 */
export const COMMIT_SOON_MS = 5;

/**
 * Writers whose `commitSoon` events may not be written yet. One gateway-wide timer ticks every COMMIT_SOON_MS while
 * any is listed and writes those still waiting; a writer that commits meanwhile only stops waiting (it stays listed
 * until the tick). A busy gateway pays one timer wake-up per tick for all its sessions (not one per session), and a
 * round trip two flag writes: no Set insert and delete per round trip (which rehashed the set as it went from one
 * member to none and back), and the timer is not stopped and started again between round trips within a tick.
 */
let soon: RecordingWriter[] = [];
let soonTimer: NodeJS.Timeout | undefined;

function soonTick(): void {
  if (soon.length === 0) {
    clearInterval(soonTimer);
    soonTimer = undefined;
    return;
  }
  const listed = soon;
  soon = [];
  for (const writer of listed) writer.onSoonTick();
}

/** Every event is covered by a signed checkpoint within this time, even in an idle session. */
export const SIGN_WITHIN_MS = 1000;

/**
 * Writers with events no signature covers yet. One timer for the whole gateway
 * (like the fsync batch timer): armed by the first unsigned event after a round,
 * so an event waits at most SIGN_WITHIN_MS for its checkpoint; per event the hot
 * path does one comparison, and one Set insert per writer per round.
 */
const unsigned = new Set<RecordingWriter>();
let signTimer: NodeJS.Timeout | undefined;

function signRound(): void {
  signTimer = undefined;
  const writers = [...unsigned];
  unsigned.clear();
  for (const writer of writers) writer.checkpointNow();
}

/** What a writer tells its folder's journal of sessions (gateway/recording/journal.ts). */
export interface JournalHooks {
  opened(session: string, file: string): void;
  closed(session: string, file: string, lastSeq: number, finalHash: string): void;
}

/** The journal of each recordings folder, by resolved path: set by the gateway at start. */
const journals = new Map<string, JournalHooks>();

/** Lists every recording opened in `dir` from now on in `journal`; returns the detach function. */
export function attachJournal(dir: string, journal: JournalHooks): () => void {
  const key = resolve(dir);
  journals.set(key, journal);
  return () => {
    if (journals.get(key) === journal) journals.delete(key);
  };
}

/**
 * One session's recording file, append-only. Events are staged with `append` and
 * reach the file with `commit`, which the protocol adapters call before they
 * forward anything: write before forward. Any I/O failure is a
 * RECORDING_UNAVAILABLE error, and the adapter fails closed.
 */
export class RecordingWriter {
  readonly path: string;
  private readonly encoder: RecordingEncoder;
  private fd: number | undefined;
  private staged: Array<string | Buffer> = [];
  private stagedLength = 0;
  private stagedBuffers = false; // whether `staged` holds a Buffer (else one string join suffices)
  private sinceCheckpoint = 0;
  private failed: HopscopeError | undefined;
  private syncing = 0;
  private closing: number | undefined;
  private journal: JournalHooks | undefined;
  /** In `soon` (until the next tick), and whether it has events staged with commitSoon not yet written. */
  private soonListed = false;
  private soonWaiting = false;

  private constructor(private readonly opts: WriterOptions) {
    this.path = join(opts.dir, `${opts.session}.jsonl`);
    this.encoder = new RecordingEncoder(opts);
  }

  /** Creates the file and writes the header durably; throws RECORDING_UNAVAILABLE. */
  static open(opts: WriterOptions): RecordingWriter {
    const writer = new RecordingWriter(opts);
    try {
      mkdirSync(opts.dir, { recursive: true, mode: 0o750 });
      writer.fd = openSync(writer.path, 'wx', 0o640);
      writeFully(writer.fd, Buffer.from(writer.encoder.header));
      if (opts.fsync !== 'none') fsyncSync(writer.fd);
      // Listed before any event is written: a session the journal does not know never starts.
      writer.journal = journals.get(resolve(opts.dir));
      writer.journal?.opened(opts.session, basename(writer.path));
    } catch (err) {
      writer.closeQuietly();
      throw unavailable(err, writer.path);
    }
    return writer;
  }

  get session(): string {
    return this.opts.session;
  }

  /** The seq of the last event appended. */
  get lastSeq(): number {
    return this.encoder.lastSeq;
  }

  get isOpen(): boolean {
    return this.fd !== undefined && !this.encoder.isSealed;
  }

  /** Bytes (roughly: characters of text lines) staged and not yet written. */
  get stagedBytes(): number {
    return this.stagedLength;
  }

  /** Stages an event and returns its seq; nothing is on disk until `commit`. `t` defaults to now. */
  append<K extends EventName>(type: K, data: EventMap[K], t?: number): number {
    this.checkOpen();
    return this.stage(this.encoder.event(type, data, t));
  }

  /** Stages an event whose data the caller serialized (see RecordingEncoder.eventJson). */
  appendJson<K extends EventName>(type: K, dataJson: string, t?: number): number {
    this.checkOpen();
    return this.stage(this.encoder.eventJson(type, dataJson, t));
  }

  /** Stages an event whose `data[field]` is `payload` in base64, built as bytes (see RecordingEncoder.eventWithBase64). */
  appendBase64<K extends EventName, F extends keyof EventMap[K] & string>(type: K, data: Omit<EventMap[K], F>, field: F, payload: Buffer, t?: number): number {
    this.checkOpen();
    return this.stage(this.encoder.eventWithBase64(type, data, field, payload, t));
  }

  private checkOpen(): void {
    if (this.failed) throw this.failed;
    if (!this.isOpen) throw new HopscopeError('RECORDING_UNAVAILABLE', 'the recording is closed');
  }

  private stage(line: string | Buffer): number {
    this.staged.push(line);
    if (typeof line !== 'string') this.stagedBuffers = true;
    this.stagedLength += line.length;
    const seq = this.encoder.lastSeq;
    if (++this.sinceCheckpoint >= this.opts.checkpointEvery) {
      this.staged.push(this.encoder.checkpoint());
      this.sinceCheckpoint = 0;
    } else if (this.sinceCheckpoint === 1) {
      this.awaitSignature();
    }
    return seq;
  }

  /** The first event after a signature: the gateway-wide timer will sign it within SIGN_WITHIN_MS. */
  private awaitSignature(): void {
    unsigned.add(this);
    if (!signTimer) {
      signTimer = setTimeout(signRound, SIGN_WITHIN_MS);
      signTimer.unref();
    }
  }

  /**
   * Called by the sign timer: a checkpoint over every event so far, written now
   * (with anything staged: writing early never breaks write-before-forward).
   */
  checkpointNow(): void {
    if (this.sinceCheckpoint === 0 || !this.isOpen || this.failed) return;
    try {
      this.staged.push(this.encoder.checkpoint());
      this.sinceCheckpoint = 0;
      this.commit()?.catch(() => undefined); // a failure is kept in `failed` and refuses the next event
    } catch {
      // kept in `failed`: the session's next append fails closed
    }
  }

  /**
   * Writes what is staged within COMMIT_SOON_MS (or with an earlier `commit`): for events nothing waits for. A
   * failure is kept and refuses the session's next event (fail closed), as a checkpoint's does.
   */
  commitSoon(): void {
    if (this.stagedLength === 0) return;
    this.soonWaiting = true;
    if (this.soonListed) return;
    this.soonListed = true;
    soon.push(this);
    if (!soonTimer) {
      soonTimer = setInterval(soonTick, COMMIT_SOON_MS);
      soonTimer.unref();
    }
  }

  /** Called by the commitSoon timer: writes what still waits. */
  onSoonTick(): void {
    this.soonListed = false;
    if (this.soonWaiting) this.commitQuietly();
  }

  /** The commitSoon timer's write; an error is kept in `failed`. */
  commitQuietly(): void {
    if (!this.isOpen || this.failed) return;
    try {
      this.commit()?.catch(() => undefined); // kept in `failed`: the session's next event fails closed
    } catch {
      // kept in `failed`
    }
  }

  /**
   * Writes the staged events. With `always` the returned promise resolves once
   * they are on stable storage; with `batch` they are in the page cache (safe from
   * a gateway crash) and fsync follows within BATCH_SYNC_MS; with `none` the OS decides.
   * Returns undefined when there is nothing to wait for, so hot paths stay synchronous.
   */
  commit(): Promise<void> | undefined {
    this.soonWaiting = false; // what it waited for is written now
    const started = performance.now();
    const bytes = this.writeStaged();
    if (bytes === 0) return undefined;
    if (this.opts.fsync === 'always') {
      const fd = this.fd!;
      this.syncing++;
      const syncStarted = performance.now();
      return new Promise((resolve, reject) => {
        fdatasync(fd, (err) => {
          this.opts.onFsync?.((performance.now() - syncStarted) / 1000);
          this.synced();
          if (err) return reject(this.fail(err));
          this.committed(started, bytes);
          resolve();
        });
      });
    }
    this.committed(started, bytes);
    if (this.opts.fsync === 'batch' && !unsynced.has(this)) {
      unsynced.add(this);
      if (!batchTimer) {
        batchTimer = setTimeout(syncBatch, BATCH_SYNC_MS);
        batchTimer.unref();
      }
    }
    return undefined;
  }

  /** Reports a finished commit to /metrics (a method, not a closure per commit). */
  private committed(started: number, bytes: number): void {
    this.opts.onCommit?.((performance.now() - started) / 1000, bytes);
  }

  /** Ends the recording: session end event, signed seal, fsync, close. Idempotent. */
  close(endData: EventMap['session.end']): void {
    if (this.isOpen && !this.failed) {
      try {
        this.append(EventType.SessionEnd, endData);
        this.staged.push(this.encoder.seal());
        this.writeStaged();
        if (this.opts.fsync !== 'none') fsyncSync(this.fd!);
        // After the seal is durable: the journal's final hash is the seal line's.
        this.journal?.closed(this.opts.session, basename(this.path), this.encoder.lastSeq, this.encoder.lastHash);
      } catch {
        // Already reported through the session; the file keeps its intact prefix.
      }
    }
    this.closeQuietly();
  }

  /** Writes what is staged, synchronously; returns the byte count. */
  private writeStaged(): number {
    if (this.failed) throw this.failed;
    if (this.staged.length === 0 || this.fd === undefined) return 0;
    // Text lines go to write(2) as one string (no Buffer made for them); lines built as bytes go to writev(2) as they are.
    const text = this.stagedBuffers ? undefined : this.staged.length === 1 ? (this.staged[0] as string) : this.staged.join('');
    const bytes = text === undefined ? this.staged.map((l) => (typeof l === 'string' ? Buffer.from(l) : l)) : undefined;
    this.staged = [];
    this.stagedLength = 0;
    this.stagedBuffers = false;
    try {
      return text === undefined ? writeLines(this.fd, bytes!) : writeText(this.fd, text);
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** fdatasync in the background (fsync=batch); called by the gateway-wide batch timer. */
  syncNow(): void {
    if (this.fd === undefined) return;
    this.syncing++;
    const syncStarted = performance.now();
    fdatasync(this.fd, (err) => {
      this.opts.onFsync?.((performance.now() - syncStarted) / 1000);
      this.synced();
      if (err) this.fail(err);
    });
  }

  private fail(err: unknown): HopscopeError {
    this.failed ??= unavailable(err, this.path);
    return this.failed;
  }

  private closeQuietly(): void {
    unsynced.delete(this); // close fsyncs what it wrote, or the file is given up
    unsigned.delete(this); // the seal signs everything
    this.soonWaiting = false; // stays listed until the next tick, which skips it
    // An fdatasync still in flight owns the descriptor until it returns (see synced).
    this.closing = this.fd;
    this.fd = undefined;
    if (this.syncing === 0) this.releaseFd();
  }

  /** Every fdatasync callback ends here, so a close requested meanwhile happens once the last returns. */
  private synced(): void {
    this.syncing--;
    if (this.fd === undefined && this.syncing === 0) this.releaseFd();
  }

  private releaseFd(): void {
    if (this.closing !== undefined) closeFd(this.closing);
    this.closing = undefined;
  }
}

function closeFd(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // nothing left to do with a descriptor that will not close
  }
}

/** write(2) may write less than asked (a file system that is nearly full): go on until all is written or it fails. Returns the byte count. */
function writeFully(fd: number, bytes: Buffer, from = 0): number {
  let offset = from;
  while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
  return bytes.length;
}

/** Lines built as bytes, without a joined copy; after a short write the rest goes on from a joined copy. */
function writeLines(fd: number, lines: Buffer[]): number {
  let total = 0;
  for (const line of lines) total += line.length;
  const written = writevSync(fd, lines);
  return written === total ? total : writeFully(fd, Buffer.concat(lines, total), written);
}

/** A UTF-8 text written whole; after a short write the rest goes on as bytes. */
function writeText(fd: number, text: string): number {
  const written = writeSync(fd, text);
  const length = Buffer.byteLength(text);
  return written === length ? length : writeFully(fd, Buffer.from(text), written);
}

function unavailable(err: unknown, path: string): HopscopeError {
  const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
  return new HopscopeError('RECORDING_UNAVAILABLE', 'the session cannot be recorded, so it is refused', `${path}: ${code}`);
}

/** Time-sortable and unique: 20261125T223844Z-5f1c9a0e2b7d. */
export function newSessionId(clock: Clock): string {
  const iso = new Date(Math.floor(clock.nowMicros() / 1000)).toISOString();
  const stamp = iso.slice(0, 19).replace(/[-:]/g, '');
  return `${stamp}Z-${randomBytes(6).toString('hex')}`;
}
