// The cheapest honest Node.js TCP relay between pgbench and PostgreSQL: the floor any Node gateway sits on, measured
// beside pgbouncer by bench/pg.ts (paths node-relay, node-relay-onread, node-relay+write).
// `node dist/bench/node-relay.js --listen PORT --upstream HOST:PORT [--mode plain|onread] [--record DIR]`
// No parsing, no pooling, no recording beyond --record's raw bytes: one upstream connection per client connection.
//  - plain: net sockets, 'data' → write, pause/resume on backpressure — what any Node proxy does.
//  - onread: the fastest Node allows: the upstream socket reads into a reused buffer (net's `onread` option) and its
//    slice is written to the client as is; the accepted socket is read the way the gateway reads it
//    (gateway/pg/client-reader.ts: Node's onread state set on the accepted socket, each read copied into its own chunk).
//  - --record DIR: each client→server chunk is written to a file of its connection with writeSync before it is
//    forwarded (write-before-forward with no framing, hashing, JSON or fsync): the floor of a recording relay.
import { closeSync, openSync, writeSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readClient } from '../gateway/pg/client-reader.js';

const { values: args } = parseArgs({
  options: {
    listen: { type: 'string' },
    upstream: { type: 'string' },
    mode: { type: 'string', default: 'plain' },
    record: { type: 'string', default: '' },
  },
});
const listenPort = Number(args.listen);
const upstreamHost = args.upstream?.slice(0, args.upstream.lastIndexOf(':')) ?? '';
const upstreamPort = Number(args.upstream?.slice(args.upstream.lastIndexOf(':') + 1));
if (!Number.isInteger(listenPort) || !upstreamHost || !Number.isInteger(upstreamPort)) {
  throw new Error('usage: node-relay --listen PORT --upstream HOST:PORT [--mode plain|onread] [--record DIR]');
}
if (args.mode !== 'plain' && args.mode !== 'onread') throw new Error(`--mode must be plain or onread, not ${args.mode}`);
const mode = args.mode;
const recordDir = args.record;
// The size of net's own read buffer for a stream socket; a pgbench round trip is far below it.
const READ_BUFFER_BYTES = 64 * 1024;
let connections = 0;
let warned = false;

const server = createServer({ noDelay: true }, (client) => {
  // noDelay on both sides, as pgbouncer and the gateway do: a small answer must leave at once, not wait for Nagle.
  client.setNoDelay(true);
  // One recording file per connection (as the gateway has one per session), opened before any byte is relayed.
  const fd = recordDir ? openSync(join(recordDir, `conn-${++connections}.bin`), 'a') : undefined;
  const forward = fd === undefined ? undefined : (chunk: Buffer) => {
    writeSync(fd, chunk); // synchronous: the bytes are in the file (page cache) before they go upstream
  };
  const upstream = mode === 'plain' ? plain(client, forward) : onread(client, forward);
  // Either side going away ends the other; the file is closed once both are gone.
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => {
    client.destroy();
    if (fd !== undefined) closeSync(fd);
  });
});
server.listen(listenPort, '127.0.0.1', () => console.log(`node-relay (${mode}${recordDir ? ', recording' : ''}) listening on 127.0.0.1:${listenPort}`));
// bench/pg.ts stops the relay with SIGTERM; exit at once (nothing to drain: the bench has finished its runs).
process.on('SIGTERM', () => process.exit(0));

/** 'data' → write both ways; a write that fills the peer's buffer pauses the source until 'drain'. */
function plain(client: Socket, record?: (chunk: Buffer) => void): Socket {
  const upstream = connect({ host: upstreamHost, port: upstreamPort, noDelay: true });
  // Writes made while the upstream connection is being opened are queued by the socket and sent once it is open.
  client.on('data', (chunk: Buffer) => {
    record?.(chunk);
    if (!upstream.write(chunk)) client.pause();
  });
  upstream.on('data', (chunk: Buffer) => {
    if (!client.write(chunk)) upstream.pause();
  });
  upstream.on('drain', () => client.resume());
  client.on('drain', () => upstream.resume());
  return upstream;
}

/**
 * The upstream socket reads into a buffer of its own (one per connection, reused for every read: no allocation and
 * no stream machinery per read) and the slice is written to the client without a copy. That is safe only while the
 * write completes synchronously (the kernel took every byte, nothing refers to the buffer afterwards). When it does not,
 * the remainder still points into the buffer, so the upstream stops reading (the callback returns false) until the
 * write's callback says it is done. A buffer shared by all connections could not be protected that way.
 * The client side uses the gateway's reader, which copies each read into a chunk of its own, so it may be queued.
 */
function onread(client: Socket, record?: (chunk: Buffer) => void): Socket {
  const buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  let waiting = false;
  // The same callback for every write: Node then counts sync completions instead of queueing a tick per write.
  const written = () => {
    if (waiting && client.writableLength === 0) {
      waiting = false;
      upstream.resume(); // for an onread socket, resume() starts reading again
    }
  };
  const upstream = connect({
    host: upstreamHost, port: upstreamPort, noDelay: true,
    onread: {
      buffer,
      callback: (n: number, buf: Uint8Array) => {
        client.write(buf.subarray(0, n), written);
        if (client.writableLength === 0) return true;
        waiting = true;
        return false;
      },
    },
  });
  const reader = readClient(client, (chunk) => {
    record?.(chunk);
    if (!upstream.write(chunk)) reader.pause();
  });
  upstream.on('drain', () => reader.resume());
  // The gateway's reader falls back to 'data' events where Node's onread state is not found: say so, the figures would lie.
  if (!reader.shared && !warned) {
    warned = true;
    console.error('node-relay: the client reader fell back to the stream (no onread state on this Node)');
  }
  return upstream;
}
