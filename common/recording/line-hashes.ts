import * as crypto from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { LazyThread, startReadyWorker, workerScript } from '../worker-thread.js';
import type { RecordingLine } from './read.js';

/**
 * The SHA-256 of every line of a file and of the whole file, computed while the
 * file is read. The chain check needs each line's own hash, and the importer the
 * file's (custody): on the reading thread these cost about 1.5 µs per event of
 * the gateway's mix, so they run on a hash thread when one can be started here.
 * The thread cuts the same bytes into lines with the same LineCutter as the
 * reader, so each hash covers exactly the line the verifier checks; the links
 * are still compared in order by the verifier (RecordingVerifier.push's `hash`).
 */
export interface FileHashes {
  /** True when the lines are hashed on the hash thread (then reading ahead keeps it busy). */
  readonly threaded: boolean;
  /** The file's bytes, every chunk in order, as they are read. */
  push(chunk: Buffer): void;
  /** Sets `hash` on the complete lines of a batch (lines cut from the chunks pushed so far, in order), when they are hashed elsewhere. */
  fill(lines: RecordingLine[]): Promise<void>;
  /** Once every chunk is pushed: the SHA-256 (hex) of the whole file. */
  end(): Promise<string>;
  /** Releases the file (also after a failure); hashes not taken are dropped. */
  close(): void;
}

/** What the hash thread and this module agree on: a compiled worker of another protocol (an older dist/) is not used. */
export const HASH_PROTOCOL = 'line-hashes/1';

export type HashRequest =
  | { op: 'chunk'; file: number; chunk: Uint8Array }
  | { op: 'end'; file: number }
  | { op: 'drop'; file: number };

/** One reply per chunk (`lines`: 64 hex characters per line it completed) and per end (`fileHash`); file -1 is the thread's ready. */
export interface HashReply {
  file: number;
  lines?: string;
  fileHash?: string;
  error?: string;
  protocol?: string;
}

/** SHA-256 (hex) of one line: the one-shot `crypto.hash` (Node ≥ 20.12) where there is one. */
export const lineHashHex: (data: Uint8Array) => string = typeof crypto.hash === 'function'
  ? (data) => crypto.hash('sha256', data, 'hex')
  : (data) => crypto.createHash('sha256').update(data).digest('hex');

/** Hashes for one file: on the hash thread when `thread` is true and one runs here; else the file's only (the verifier hashes lines). */
export async function fileHashes(thread = true): Promise<FileHashes> {
  const t = thread ? await HashThread.get() : undefined;
  return t ? t.open() : new InlineHashes();
}

/** Hashes of the lines not yet taken, as the replies came: one string per chunk, read from `offset`. */
class HashQueue {
  private readonly parts: string[] = [];
  private offset = 0;

  add(lines: string): void {
    if (lines.length) this.parts.push(lines);
  }

  /** The next line's hash, or undefined when none is queued. */
  take(): string | undefined {
    const part = this.parts[0];
    if (part === undefined) return undefined;
    const hash = part.slice(this.offset, this.offset + 64);
    this.offset += 64;
    if (this.offset >= part.length) {
      this.parts.shift();
      this.offset = 0;
    }
    return hash;
  }
}

/** Without the thread: the file's hash here, and the lines' left to the verifier (it hashes each line's bytes as it checks it). */
class InlineHashes implements FileHashes {
  readonly threaded = false;
  private readonly file = crypto.createHash('sha256');

  push(chunk: Buffer): void {
    this.file.update(chunk);
  }

  async fill(): Promise<void> {}

  async end(): Promise<string> {
    return this.file.digest('hex');
  }

  close(): void {}
}

/** One file's hashes on the hash thread: chunks go over as copies (transferred), hashes come back in order. */
class ThreadHashes implements FileHashes {
  readonly threaded = true;
  private readonly queue = new HashQueue();
  /** Replies still to come for chunks sent. */
  private pendingChunks = 0;
  private fileHash: string | undefined;
  private error: Error | undefined;
  private wake: (() => void) | undefined;
  private closed = false;

  constructor(private readonly thread: HashThread, readonly id: number) {}

  push(chunk: Buffer): void {
    if (this.error) return;
    const copy = new Uint8Array(chunk.length);
    copy.set(chunk);
    this.pendingChunks++;
    this.thread.post({ op: 'chunk', file: this.id, chunk: copy }, [copy.buffer]);
  }

  async fill(lines: RecordingLine[]): Promise<void> {
    for (const l of lines) {
      if (!l.complete) continue;
      let hash = this.queue.take();
      while (hash === undefined) {
        if (this.error) throw this.error;
        // Hashes run short only while chunks are out: the thread cuts exactly the lines the reader does.
        if (this.pendingChunks === 0) throw new Error('the hash thread returned fewer line hashes than lines read');
        await this.reply();
        hash = this.queue.take();
      }
      l.hash = hash;
    }
  }

  async end(): Promise<string> {
    if (!this.error) this.thread.post({ op: 'end', file: this.id });
    while (this.fileHash === undefined && !this.error) await this.reply();
    if (this.error) throw this.error;
    return this.fileHash!;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.error && this.fileHash === undefined) this.thread.post({ op: 'drop', file: this.id });
    this.thread.release(this.id);
  }

  settled(r: HashReply): void {
    if (r.error) this.error ??= new Error(`line hashes: ${r.error}`);
    else if (r.fileHash !== undefined) this.fileHash = r.fileHash;
    else {
      this.pendingChunks--;
      this.queue.add(r.lines ?? '');
    }
    this.wake?.();
  }

  lost(err: Error): void {
    this.error ??= err;
    this.wake?.();
  }

  private reply(): Promise<void> {
    return new Promise((r) => (this.wake = () => { this.wake = undefined; r(); }));
  }
}

/** The process's one hash thread, started on first use; unreferenced while no file uses it. */
class HashThread {
  private static readonly thread = new LazyThread<HashThread>(() =>
    startReadyWorker(workerScript(import.meta.url, 'hash-worker.js', 'dist/common/recording/hash-worker.js'), (ready: HashReply) => ready.protocol === HASH_PROTOCOL)
      .then((worker) => worker && new HashThread(worker)));
  private readonly files = new Map<number, ThreadHashes>();
  private nextId = 1;
  private dead = false;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (r: HashReply) => this.files.get(r.file)?.settled(r));
    const lost = (why: string) => {
      if (this.dead) return;
      this.dead = true;
      HashThread.thread.lost();
      for (const f of this.files.values()) f.lost(new Error(`the hash thread stopped: ${why}`));
    };
    worker.on('error', (err) => lost(err.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    worker.unref();
  }

  static get(): Promise<HashThread | undefined> {
    return HashThread.thread.get();
  }

  open(): ThreadHashes {
    const f = new ThreadHashes(this, this.nextId++);
    if (this.files.size === 0) this.worker.ref();
    this.files.set(f.id, f);
    if (this.dead) f.lost(new Error('the hash thread stopped'));
    return f;
  }

  post(m: HashRequest, transfer?: ArrayBuffer[]): void {
    if (!this.dead) this.worker.postMessage(m, transfer);
  }

  release(id: number): void {
    this.files.delete(id);
    if (this.files.size === 0) this.worker.unref();
  }
}


/** Whether this process can run the hash thread (for tests: from the sources it needs the compiled worker). */
export async function hashThreadAvailable(): Promise<boolean> {
  return (await HashThread.get()) !== undefined;
}
