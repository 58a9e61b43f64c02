import { getSystemErrorName } from 'node:util';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

/**
 * Writes a plain TCP socket's bytes straight to its handle (`writeBuffer`, as
 * net's own write ends up doing) instead of through the Writable stream:
 * no `Writable.write` → `writeOrBuffer` → `_write` → `writeGeneric` per write
 * and no WriteWrap made per write. A write the kernel takes whole (nearly every
 * one: a round trip's answer is small) completes synchronously and reuses one
 * request object; one the kernel does not take whole goes on asynchronously, as
 * net's does, and the writer returns false (backpressure) until it completes,
 * then calls `onDrain`.
 *
 * Order with the stream's own writes (other code still calls socket.write): the
 * handle is only written directly while the stream holds nothing (writableLength
 * 0), and while a direct write is pending every write goes through the stream,
 * whose writes libuv queues behind the pending one (it never tries a write
 * while its write queue is not empty). End and destroy are the stream's: a
 * shutdown waits for pending writes; a write cancelled by destroy is ignored as
 * net ignores it.
 *
 * `WriteWrap` and the write result (`streamBaseState`) are not public API: they
 * come from process.binding('stream_wrap') (deprecated, documentation only; it
 * warns under --pending-deprecation, and then this is not used) and are used
 * only when they look as on Node 20-22. Otherwise, and for TLS sockets, writes go
 * through the stream as before. test: gateway/pg/socket-writer.test.ts.
 */
interface StreamWrapBinding {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kBytesWritten: number;
  kLastWriteWasAsync: number;
}

interface WriteReq {
  handle?: unknown;
  oncomplete?: (status: number) => void;
  buffer?: Buffer | null;
}

type Handle = { writeBuffer?: (req: WriteReq, data: Buffer) => number } | null | undefined;

let found: StreamWrapBinding | null | undefined;

function streamWrap(): StreamWrapBinding | null {
  if (found !== undefined) return found;
  found = null;
  const pending = process.execArgv.includes('--pending-deprecation') || (process.env.NODE_OPTIONS ?? '').includes('--pending-deprecation')
    || process.env.NODE_PENDING_DEPRECATION === '1';
  if (pending) return found; // process.binding would print DEP0111
  try {
    const binding = (process as unknown as { binding(name: string): Partial<StreamWrapBinding> }).binding('stream_wrap');
    const { WriteWrap, streamBaseState, kBytesWritten, kLastWriteWasAsync } = binding;
    if (typeof WriteWrap === 'function' && streamBaseState instanceof Int32Array && Number.isInteger(kBytesWritten)
      && Number.isInteger(kLastWriteWasAsync) && kBytesWritten! < streamBaseState.length && kLastWriteWasAsync! < streamBaseState.length) {
      found = binding as StreamWrapBinding;
    }
  } catch {
    // no such binding on this Node: writes go through the stream
  }
  return found;
}

export interface SocketWriter {
  /** Writes `data` after everything written before; false: stop sending until `onDrain` (or the socket's 'drain'). */
  write(data: Buffer): boolean;
  /** Whether writes go to the handle directly (false: through the stream). */
  readonly direct: boolean;
}

/**
 * A writer for `socket`. `onDrain` is called when a direct write that did not
 * complete at once has completed (the stream's 'drain' covers its own writes:
 * listen to both).
 */
export function socketWriter(socket: Socket, onDrain: () => void): SocketWriter {
  const binding = streamWrap();
  const handle = (socket as unknown as { _handle: Handle })._handle;
  if (!binding || socket instanceof TLSSocket || typeof handle?.writeBuffer !== 'function') {
    return { write: (data) => socket.write(data), direct: false };
  }
  return new DirectWriter(socket, binding, onDrain);
}

class DirectWriter implements SocketWriter {
  readonly direct = true;
  /** The request the synchronous writes share; one that goes asynchronous keeps its own until it completes. */
  private req: WriteReq;
  private pending = false;

  constructor(private readonly socket: Socket, private readonly binding: StreamWrapBinding, private readonly onDrain: () => void) {
    this.req = this.newReq();
  }

  write(data: Buffer): boolean {
    const socket = this.socket;
    const handle = (socket as unknown as { _handle: Handle })._handle;
    if (this.pending || socket.writableLength !== 0 || socket.destroyed || socket.writableEnded || socket.connecting || !handle) {
      // Through the stream (libuv queues it behind a pending direct write); hold the sender while one is pending.
      return socket.write(data) && !this.pending;
    }
    const req = this.req;
    req.handle = handle;
    const err = handle.writeBuffer!(req, data);
    if (err !== 0) {
      const error = Object.assign(new Error(`write ${getSystemErrorName(err)}`), { code: getSystemErrorName(err), errno: err, syscall: 'write' });
      socket.destroy(error); // as net does with a failed write: 'error', then 'close'
      return false;
    }
    if (!this.binding.streamBaseState[this.binding.kLastWriteWasAsync]) return true;
    // The kernel did not take it all: the rest is written by libuv, from `data`, which must live until then.
    req.buffer = data;
    this.pending = true;
    this.req = this.newReq();
    return false;
  }

  private newReq(): WriteReq {
    const req = new this.binding.WriteWrap();
    req.buffer = null;
    req.oncomplete = (status: number): void => this.completed(req, status);
    return req;
  }

  private completed(req: WriteReq, status: number): void {
    req.buffer = null;
    this.pending = false;
    if (this.socket.destroyed) return; // cancelled by destroy, as net ignores it
    if (status < 0) {
      const code = getSystemErrorName(status);
      this.socket.destroy(Object.assign(new Error(`write ${code}`), { code, errno: status, syscall: 'write' }));
      return;
    }
    this.onDrain();
  }
}
