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

type Handle = { useUserBuffer?: (buf: Uint8Array) => void } | null | undefined;

/**
 * Sends the socket's bytes to `listener`, chunk by chunk, in order: first what
 * the stream already holds (read during startup, not yet handed out), on the next
 * tick as a stream's resume() would hand it out (so a caller that resumes the
 * socket right after this call cannot undo a pause the listener makes), then every
 * read. Pause and resume keep working as on any socket. Returns whether the
 * shared-buffer path is in use (false: 'data' events).
 */
export function readClient(socket: Socket, listener: (chunk: Buffer) => void): boolean {
  const symbols = onreadSymbols();
  const handle = (socket as unknown as { _handle: Handle })._handle;
  const state = socket as unknown as Record<symbol, unknown>;
  if (!symbols || socket instanceof TLSSocket || typeof handle?.useUserBuffer !== 'function' || state[symbols.buffer] !== null) {
    socket.on('data', listener);
    return false;
  }
  // What the stream read before the switch comes first; read() of a paused stream hands it all out.
  const held: Buffer[] = [];
  for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) held.push(chunk);
  state[symbols.buffer] = readBuffer;
  state[symbols.callback] = (n: number, buf: Buffer): boolean => {
    const chunk = Buffer.allocUnsafe(n);
    buf.copy(chunk, 0, 0, n);
    listener(chunk);
    return true;
  };
  handle.useUserBuffer(readBuffer);
  // No read reaches the callback before this tick's callbacks have run.
  if (held.length) process.nextTick(() => { for (const chunk of held) listener(chunk); });
  return true;
}
