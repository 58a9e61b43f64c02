/**
 * The write stage of an import, on its own thread (see sink.ts): each file being
 * imported gets its own connection to the case file, opened for the file and
 * closed at its end, so an idle worker holds no connection. Messages of a file
 * are handled in order and each gets one reply; after a failed batch the file's
 * later batches are refused with the same error, never written.
 */
import Database from 'better-sqlite3';
import { parentPort } from 'node:worker_threads';
import { BatchWriter, type Batch } from './batch.js';
import { KeyframeMaker } from './keyframes.js';
import { BATCH_LAYOUT, type WorkerReply, type WorkerRequest } from './sink.js';

interface OpenFile {
  db: Database.Database;
  flush: (b: Batch) => void;
  keyframes: KeyframeMaker;
  failed: { message: string; code?: string } | undefined;
}

const files = new Map<number, OpenFile | { db: undefined; failed: { message: string; code?: string } }>();
const port = parentPort!;

function errorOf(err: unknown): { message: string; code?: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return { message: (err as Error)?.message ?? String(err), ...(typeof code === 'string' ? { code } : {}) };
}

/**
 * Requests are handled one after the other: making a batch's keyframes waits for
 * the terminal emulator, and the next request must not start meanwhile.
 */
let queue: Promise<void> = Promise.resolve();
port.on('message', (m: WorkerRequest) => {
  queue = queue.then(() => handle(m));
});

async function handle(m: WorkerRequest): Promise<void> {
  const reply = (r: Omit<WorkerReply, 'file'>) => port.postMessage({ file: m.file, ...r } satisfies WorkerReply);
  if (m.op === 'open') {
    let db: Database.Database | undefined;
    try {
      db = new Database(m.path, { fileMustExist: true, timeout: m.busyTimeoutMs });
      // The same settings as openCase's connection (the journal mode is the file's own: WAL).
      db.pragma('synchronous = NORMAL');
      db.pragma('cache_size = -16384');
      db.pragma('temp_store = MEMORY');
      db.pragma('foreign_keys = ON');
      const writer = new BatchWriter(db);
      files.set(m.file, { db, flush: db.transaction((b: Batch) => writer.write(b)), keyframes: new KeyframeMaker(), failed: undefined });
      reply({ ok: true });
    } catch (err) {
      db?.close();
      files.set(m.file, { db: undefined, failed: errorOf(err) });
      reply({ ok: false, error: errorOf(err) });
    }
    return;
  }
  const f = files.get(m.file);
  if (m.op === 'write') {
    if (!f || !f.db) return reply({ ok: false, error: f?.failed ?? { message: 'the case file is not open for this import' } });
    const open = f as OpenFile;
    if (open.failed) return reply({ ok: false, error: open.failed });
    try {
      await open.keyframes.apply(m.batch);
      open.flush(m.batch);
      reply({ ok: true });
    } catch (err) {
      open.failed = errorOf(err);
      reply({ ok: false, error: open.failed });
    }
    return;
  }
  // close
  files.delete(m.file);
  try {
    if (f?.db) (f as OpenFile).keyframes.dispose();
    f?.db?.close();
    reply({ ok: true });
  } catch (err) {
    reply({ ok: false, error: errorOf(err) });
  }
}

port.postMessage({ file: -1, ok: true, layout: BATCH_LAYOUT } satisfies WorkerReply);
