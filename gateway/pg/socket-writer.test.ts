import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { socketWriter } from './socket-writer.js';

/** A loopback server and a client connected to it; the accepted socket as net.Server made it. */
async function pair(): Promise<{ server: Server; accepted: Socket; client: Socket }> {
  const server = createServer({ noDelay: true });
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const client = connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise<void>((resolve) => client.once('connect', resolve));
  return { server, accepted: await accepted, client };
}

async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setImmediate(resolve));
}

function collect(socket: Socket): Buffer[] {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  return chunks;
}

const received = (chunks: Buffer[]): number => chunks.reduce((n, c) => n + c.length, 0);

const open: { server: Server; client: Socket; accepted: Socket }[] = [];
afterEach(() => {
  for (const { server, client, accepted } of open.splice(0)) {
    client.destroy();
    accepted.destroy();
    server.close();
  }
});

describe('socketWriter', () => {
  it('writes to the handle directly on this Node, accepted and connected sockets, every byte in order', async () => {
    const p = await pair();
    open.push(p);
    const toClient = socketWriter(p.accepted, () => undefined);
    const toServer = socketWriter(p.client, () => undefined);
    expect(toClient.direct).toBe(true);
    expect(toServer.direct).toBe(true);
    const atClient = collect(p.client);
    const atServer = collect(p.accepted);
    const sent = randomBytes(1024 * 1024);
    for (let i = 0; i < sent.length; i += 1000) {
      toClient.write(sent.subarray(i, i + 1000));
      toServer.write(sent.subarray(i, i + 1000));
    }
    await until(() => received(atClient) >= sent.length && received(atServer) >= sent.length);
    expect(Buffer.concat(atClient).equals(sent)).toBe(true);
    expect(Buffer.concat(atServer).equals(sent)).toBe(true);
  });

  it('holds the sender while a write the kernel did not take whole is pending, keeps order with stream writes, then drains', async () => {
    const p = await pair();
    open.push(p);
    p.client.pause(); // the peer reads nothing: the kernel's buffers fill
    let drained = 0;
    const writer = socketWriter(p.accepted, () => drained++);
    const big = randomBytes(16 * 1024 * 1024);
    expect(writer.write(big)).toBe(false); // more than loopback's buffers hold: asynchronous, the sender must wait
    expect(p.accepted.writableLength).toBe(0); // libuv holds the rest, not the stream
    // Meanwhile the gateway's own answers go through the stream, and later direct writes too: queued behind it.
    p.accepted.write('stream;');
    expect(writer.write(Buffer.from('direct'))).toBe(false);
    const chunks = collect(p.client);
    p.client.resume();
    const total = big.length + 'stream;direct'.length;
    await until(() => received(chunks) >= total && drained > 0);
    expect(drained).toBe(1);
    const all = Buffer.concat(chunks);
    expect(all.subarray(0, big.length).equals(big)).toBe(true);
    expect(all.subarray(big.length).toString()).toBe('stream;direct');
    expect(writer.write(Buffer.from('!'))).toBe(true); // direct again once nothing is pending
  });

  it('writes through the stream while the stream holds bytes, so nothing overtakes them', async () => {
    const p = await pair();
    open.push(p);
    p.client.pause();
    const big = randomBytes(16 * 1024 * 1024);
    p.accepted.write(big); // the stream's own write: part of it waits in the stream
    await until(() => p.accepted.writableLength > 0 || p.accepted.writableNeedDrain);
    const writer = socketWriter(p.accepted, () => undefined);
    writer.write(Buffer.from('after'));
    const chunks = collect(p.client);
    p.client.resume();
    await until(() => received(chunks) >= big.length + 5);
    expect(Buffer.concat(chunks).subarray(big.length).toString()).toBe('after');
  });

  it('ignores a pending write cancelled by destroy (no error), and a write after destroy goes to the stream', async () => {
    const p = await pair();
    open.push(p);
    p.client.pause();
    const errors: Error[] = [];
    p.accepted.on('error', (err) => errors.push(err));
    const writer = socketWriter(p.accepted, () => undefined);
    expect(writer.write(randomBytes(16 * 1024 * 1024))).toBe(false);
    const closed = new Promise((resolve) => p.accepted.once('close', resolve));
    p.accepted.destroy();
    await closed;
    expect(errors).toEqual([]);
    expect(writer.write(Buffer.from('late'))).toBe(false);
  });

  it('leaves a TLS socket on the stream', async () => {
    const p = await pair();
    open.push(p);
    const tls = new TLSSocket(p.accepted, { isServer: true });
    expect(socketWriter(tls, () => undefined).direct).toBe(false);
    tls.destroy();
  });
});
