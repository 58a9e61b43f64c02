import type Database from 'better-sqlite3';
import { resolve } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { LazyThread, startReadyWorker, workerScript } from '../../common/worker-thread.js';
import { caseDb, type CaseFile } from '../store/case.js';
import { BATCH_BYTES, BatchWriter, WIDTH, type Batch } from './batch.js';
import { KeyframeMaker, TERMINAL_WIDTH } from './keyframes.js';

/**
 * Where the rows of one file's import go. An import is two halves of about equal
 * cost: reading, verifying and deriving rows, and SQLite inserting them. With a
 * write thread they run on two cores: the importer hands each batch over and goes
 * on reading while the thread writes it (one transaction per batch, on its own
 * connection to the case file). The queue between them is bounded, so a slow disk
 * slows reading instead of growing memory.
 */
export interface RowSink {
  /** Hands a batch over (written at once inline; queued within the bound on the thread). Throws the first failure so far. */
  write(b: Batch): Promise<void>;
  /** Waits until every batch handed over is written or refused and releases the connection; the first failure, if any. */
  end(): Promise<Error | undefined>;
}

/**
 * Batches handed to the write thread and not yet written: one being written, one
 * waiting; and together at most BATCH_BYTES of recording, so that large lines
 * (terminal output) keep one batch in flight, not two.
 */
const MAX_QUEUED = 2;

export type WorkerRequest =
  | { op: 'open'; file: number; path: string; busyTimeoutMs: number }
  | { op: 'write'; file: number; batch: Batch }
  | { op: 'close'; file: number };

/** One reply per request, in order; `file` -1 is the thread's "ready", with its `layout`. */
export interface WorkerReply {
  file: number;
  ok: boolean;
  error?: { message: string; code?: string };
  layout?: string;
}

/**
 * The batch layout both sides must share. Tests run the TypeScript sources with
 * the compiled worker of dist/, which may be older: a worker of another layout
 * is not used.
 */
export const BATCH_LAYOUT = JSON.stringify({ ...WIDTH, terminal: TERMINAL_WIDTH });

/**
 * The sink for one file: the write thread when it can serve this case, otherwise
 * the case's own connection. The connection's own writes are kept when the
 * caller asks (`thread` false), when the case is in memory, read-only or inside
 * the caller's transaction, or when the connection has TEMP triggers (another
 * connection would bypass them).
 */
export async function openSink(c: CaseFile, thread: boolean): Promise<RowSink> {
  const db = caseDb(c);
  const inline = !thread || db.memory || db.readonly || db.inTransaction ||
    db.prepare("SELECT 1 FROM temp.sqlite_master WHERE type = 'trigger' LIMIT 1").get() !== undefined;
  const t = inline ? undefined : await WriteThread.get();
  if (!t) return new InlineSink(db);
  const timeout = (db.pragma('busy_timeout', { simple: true }) as number | undefined) ?? 5000;
  return t.open(resolve(db.name), timeout);
}

/** Whether this process can run a write thread (for tests: it needs the compiled worker). */
export async function writeThreadAvailable(): Promise<boolean> {
  return (await WriteThread.get()) !== undefined;
}

/** Writes each batch in a synchronous transaction on the case's connection (or on `db`, a file thread's own connection to it). */
export class InlineSink implements RowSink {
  private readonly flush: (b: Batch) => void;
  private readonly keyframes = new KeyframeMaker();

  constructor(db: Database.Database) {
    const writer = new BatchWriter(db);
    this.flush = db.transaction((b: Batch) => writer.write(b));
  }

  async write(b: Batch): Promise<void> {
    await this.keyframes.apply(b);
    this.flush(b);
  }

  async end(): Promise<Error | undefined> {
    this.keyframes.dispose();
    return undefined;
  }
}

class ThreadSink implements RowSink {
  private pending = 0;
  /** Recording bytes of each request not yet answered, in order (0 for open and close). */
  private readonly queued: number[] = [];
  private queuedBytes = 0;
  private error: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly thread: WriteThread, readonly id: number) {}

  settled(r: WorkerReply): void {
    this.pending--;
    this.queuedBytes -= this.queued.shift() ?? 0;
    if (!r.ok) this.fail(writeError(r.error));
    this.wake?.();
  }

  /** The thread is gone: nothing more will be written or answered. */
  lost(err: Error): void {
    this.pending = 0;
    this.queued.length = 0;
    this.queuedBytes = 0;
    this.fail(err);
    this.wake?.();
  }

  send(m: WorkerRequest): void {
    const bytes = m.op === 'write' ? m.batch.bytes : 0;
    this.pending++;
    this.queued.push(bytes);
    this.queuedBytes += bytes;
    this.thread.post(m);
  }

  async write(batch: Batch): Promise<void> {
    const full = () => this.pending >= MAX_QUEUED || (this.queuedBytes > 0 && this.queuedBytes + batch.bytes > BATCH_BYTES);
    while (!this.error && full()) await this.reply();
    if (this.error) throw this.error;
    this.send({ op: 'write', file: this.id, batch });
  }

  async end(): Promise<Error | undefined> {
    if (!this.thread.dead) this.send({ op: 'close', file: this.id });
    while (this.pending > 0) await this.reply();
    this.thread.release(this.id);
    return this.error;
  }

  private fail(err: Error): void {
    this.error ??= err;
  }

  private reply(): Promise<void> {
    return new Promise((r) => (this.wake = () => { this.wake = undefined; r(); }));
  }
}

/** A SqliteError-like error (its `code` kept, so describeSqliteError names the cause). */
function writeError(e: WorkerReply['error']): Error {
  const err = new Error(e?.message ?? 'the write thread refused a batch') as Error & { code?: string };
  if (e?.code) err.code = e.code;
  return err;
}

/** The process's one write thread, started on first use; unreferenced while no import uses it. */
class WriteThread {
  private static readonly thread = new LazyThread<WriteThread>(() =>
    startReadyWorker(workerScript(import.meta.url, 'write-worker.js', 'dist/forensics/import/write-worker.js'), (ready: WorkerReply) => ready.layout === BATCH_LAYOUT)
      .then((worker) => worker && new WriteThread(worker)));
  dead = false;
  private readonly sinks = new Map<number, ThreadSink>();
  private nextId = 1;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (r: WorkerReply) => this.sinks.get(r.file)?.settled(r));
    const lost = (why: string) => {
      if (this.dead) return;
      this.dead = true;
      WriteThread.thread.lost();
      for (const s of this.sinks.values()) s.lost(new Error(`the import's write thread stopped: ${why}`));
    };
    worker.on('error', (err) => lost(err.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    worker.unref();
  }

  /** The running thread, or undefined when no thread can be started here (then imports write inline). */
  static get(): Promise<WriteThread | undefined> {
    return WriteThread.thread.get();
  }

  open(path: string, busyTimeoutMs: number): ThreadSink {
    const sink = new ThreadSink(this, this.nextId++);
    if (this.sinks.size === 0) this.worker.ref();
    this.sinks.set(sink.id, sink);
    if (this.dead) sink.lost(new Error("the import's write thread stopped"));
    else sink.send({ op: 'open', file: sink.id, path, busyTimeoutMs });
    return sink;
  }

  post(m: WorkerRequest): void {
    this.worker.postMessage(m);
  }

  release(id: number): void {
    this.sinks.delete(id);
    if (this.sinks.size === 0) this.worker.unref();
  }
}

