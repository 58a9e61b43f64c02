import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

/**
 * Reads a client socket's bytes into one buffer shared by every session, as the
 * upstream side does with net's `onread` option, instead of through the Readable
 * stream (a fresh 64 KB ArrayBuffer per read, readableAddChunk, a nextTick per
 * read for maybeReadMore). Each read is copied out into a chunk of its own before
 * the listener runs, so parsers and queued writes may keep views of it.
 *
 * `onread` is documented for sockets one creates; an accepted socket is made by
 * net.Server without it. Node keeps the option under three symbols of the socket
 * (`kBuffer`, `kBufferCb`, `kBufferGen`) and switches the handle with
 * `useUserBuffer`; `onStreamRead`, `pause` and `resume` read those symbols on
 * every call, so setting them on an accepted socket gives it exactly the state an
 * `onread` socket has. The symbols are found on a probe socket made with the
 * documented option, and only used when the probe shows them holding what was
 * passed; otherwise (another Node, a TLS socket) the stream's 'data' events are
 * used, as before. test: gateway/pg/client-reader.test.ts.
 */
interface OnreadSymbols { buffer: symbol; callback: symbol; generator: symbol }

let found: OnreadSymbols | null | undefined;

function onreadSymbols(): OnreadSymbols | null {
  if (found !== undefined) return found;
  found = null;
  const buffer = Buffer.alloc(1);
  const callback = (): boolean => true;
  // A documented option of new net.Socket (since Node 15.8) that @types/node leaves out of its constructor options.
  const probe = new Socket({ onread: { buffer, callback } } as ConstructorParameters<typeof Socket>[0]);
  try {
    const byName = new Map(Object.getOwnPropertySymbols(probe).map((s) => [s.description, s]));
    const symbols = { buffer: byName.get('kBuffer'), callback: byName.get('kBufferCb'), generator: byName.get('kBufferGen') };
    const held = probe as unknown as Record<symbol, unknown>;
    if (symbols.buffer && symbols.callback && symbols.generator
      && held[symbols.buffer] === buffer && held[symbols.callback] === callback && held[symbols.generator] === null) {
      found = symbols as OnreadSymbols;
    }
  } finally {
    probe.destroy();
  }
  return found;
}

/** The buffer every client socket read with `readClient` reads into (copied out before anything else runs). */
const readBuffer = Buffer.allocUnsafe(64 * 1024);

/**
 * How much a paused client may have read ahead before its socket stops reading (the stream's
 * highWaterMark did the same: about 16 KB and one read).
 */
export const READ_AHEAD_BYTES = 64 * 1024;

type Handle = { useUserBuffer?: (buf: Uint8Array) => void } | null | undefined;

/** Pauses and resumes a client as a socket's pause() and resume() did; use these, not the socket's. */
export interface ClientReader {
  pause(): void;
  resume(): void;
  /** Whether the shared-buffer path is in use (false: the socket's 'data' events). */
  readonly shared: boolean;
}

/**
 * Sends the socket's bytes to `listener`, chunk by chunk, in order: first what
 * the stream already holds (read during startup, not yet handed out), on the next
 * tick as a stream's resume() would hand it out (so a caller that resumes the
 * socket right after this call cannot undo a pause the listener makes), then every read.
 */
export function readClient(socket: Socket, listener: (chunk: Buffer) => void): ClientReader {
  const symbols = onreadSymbols();
  const handle = (socket as unknown as { _handle: Handle })._handle;
  const state = socket as unknown as Record<symbol, unknown>;
  if (!symbols || socket instanceof TLSSocket || typeof handle?.useUserBuffer !== 'function' || state[symbols.buffer] !== null) {
    socket.on('data', listener);
    return { pause: () => socket.pause(), resume: () => socket.resume(), shared: false };
  }
  const reader = new SharedBufferReader(socket, listener);
  // What the stream read before the switch comes first; read() of a paused stream hands it all out.
  for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) reader.hold(chunk);
  state[symbols.buffer] = readBuffer;
  state[symbols.callback] = reader.onRead;
  handle.useUserBuffer(readBuffer);
  // No read reaches the callback before this tick's callbacks have run.
  process.nextTick(() => reader.drain());
  return reader;
}

/**
 * A paused reader goes on reading, up to READ_AHEAD_BYTES kept in order, as a
 * paused stream did: it still notices the client leaving (a socket that stopped
 * reading would not, and a statement held for approval would outlive its client).
 * Past that, the socket stops reading until resumed (backpressure).
 */
class SharedBufferReader implements ClientReader {
  readonly shared = true;
  private paused = false;
  private readonly queue: Buffer[] = [];
  private queued = 0;

  constructor(private readonly socket: Socket, private readonly listener: (chunk: Buffer) => void) {}

  /** net's onread callback; false stops the socket reading. */
  readonly onRead = (n: number, buf: Buffer): boolean => {
    const chunk = Buffer.allocUnsafe(n);
    buf.copy(chunk, 0, 0, n);
    if (!this.paused && this.queue.length === 0) {
      this.listener(chunk);
      return true;
    }
    this.hold(chunk);
    return this.queued < READ_AHEAD_BYTES;
  };

  hold(chunk: Buffer): void {
    this.queue.push(chunk);
    this.queued += chunk.length;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.drain();
    if (!this.paused) this.socket.resume(); // reads again if the read-ahead limit stopped it
  }

  /** Hands out what was kept, in order, until the listener pauses again. */
  drain(): void {
    while (!this.paused && this.queue.length) {
      const chunk = this.queue.shift()!;
      this.queued -= chunk.length;
      this.listener(chunk);
    }
  }
}
