import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * The compiled worker `file` beside the module at `moduleUrl`; run from the TypeScript sources (tests), the
 * one compiled into dist/ at `distPath` (relative to the project root). Undefined when neither exists.
 */
export function workerScript(moduleUrl: string, file: string, distPath: string): URL | undefined {
  const here = new URL(`./${file}`, moduleUrl);
  if (existsSync(fileURLToPath(here))) return here;
  if (moduleUrl.endsWith('.ts')) {
    const built = new URL(`../../${distPath}`, moduleUrl);
    if (existsSync(fileURLToPath(built))) return built;
  }
  return undefined;
}

/**
 * Starts a worker and waits for its first message: the worker when `ready(message)` says it speaks what this
 * code expects, undefined when it cannot start or does not (the caller then does the work inline).
 */
export function startReadyWorker<M>(script: URL | undefined, ready: (first: M) => boolean): Promise<Worker | undefined> {
  if (!script) return Promise.resolve(undefined);
  return new Promise((done) => {
    let worker: Worker;
    try {
      worker = new Worker(script);
    } catch {
      return done(undefined);
    }
    const failed = () => done(undefined);
    worker.once('error', failed);
    worker.once('exit', failed);
    worker.once('message', (first: M) => {
      worker.off('error', failed);
      worker.off('exit', failed);
      if (ready(first)) return done(worker);
      void worker.terminate();
      done(undefined);
    });
  });
}

/**
 * One thread per process, started on first use: `get()` resolves to it, or to undefined for good once it
 * could not be started; `lost()` (the thread died) lets the next `get()` start another.
 */
export class LazyThread<T> {
  private current: Promise<T | undefined> | undefined;
  private unavailable = false;

  constructor(private readonly start: () => Promise<T | undefined>) {}

  get(): Promise<T | undefined> {
    if (this.unavailable) return Promise.resolve(undefined);
    this.current ??= this.start().then((t) => {
      if (!t) {
        this.unavailable = true;
        this.current = undefined;
      }
      return t;
    });
    return this.current;
  }

  lost(): void {
    this.current = undefined;
  }
}
