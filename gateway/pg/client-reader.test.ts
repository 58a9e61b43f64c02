import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { READ_AHEAD_BYTES, readClient } from './client-reader.js';

/** A loopback server and a client connected to it; the accepted socket as net.Server made it (no `onread`). */
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

const open: { server: Server; client: Socket; accepted: Socket }[] = [];
afterEach(() => {
  for (const { server, client, accepted } of open.splice(0)) {
    client.destroy();
    accepted.destroy();
    server.close();
  }
});

describe('readClient', () => {
  it('reads an accepted socket into the shared buffer on this Node, every byte in order, each chunk its own', async () => {
    const p = await pair();
    open.push(p);
    const chunks: Buffer[] = [];
    expect(readClient(p.accepted, (chunk) => chunks.push(chunk)).shared).toBe(true);
    // Many writes of random bytes: a chunk that were a view of the shared buffer would be overwritten by later reads.
    const sent = randomBytes(3 * 1024 * 1024);
    for (let i = 0; i < sent.length; i += 1000) p.client.write(sent.subarray(i, i + 1000));
    await until(() => chunks.reduce((n, c) => n + c.length, 0) >= sent.length);
    expect(chunks.length).toBeGreaterThan(1);
    expect(Buffer.concat(chunks).equals(sent)).toBe(true);
  });

  it('hands out first what the stream read before the switch, on the next tick, then the rest', async () => {
    const p = await pair();
    open.push(p);
    p.accepted.pause(); // as the listener does while it checks the password: the stream still reads into its buffer
    p.client.write('before the switch;');
    await until(() => p.accepted.readableLength > 0);
    const chunks: Buffer[] = [];
    expect(readClient(p.accepted, (chunk) => chunks.push(chunk)).shared).toBe(true);
    expect(chunks).toHaveLength(0); // not within the call: a caller may resume the socket right after it
    p.accepted.resume();
    p.client.write('after it');
    await until(() => Buffer.concat(chunks).length >= 'before the switch;after it'.length);
    expect(Buffer.concat(chunks).toString()).toBe('before the switch;after it');
  });

  it('delivers nothing while paused, all of it in order after resume', async () => {
    const p = await pair();
    open.push(p);
    const chunks: Buffer[] = [];
    const reader = readClient(p.accepted, (chunk) => {
      chunks.push(chunk);
      reader.pause();
    });
    p.client.write('one');
    await until(() => chunks.length === 1);
    p.client.write('two');
    await new Promise<void>((resolve) => p.client.write('', () => resolve()));
    await until(() => p.accepted.bytesRead === 6); // read (a paused client is still read from), not handed out
    expect(chunks.map(String)).toEqual(['one']);
    reader.resume();
    expect(chunks.map(String)).toEqual(['one', 'two']);
  });

  it('notices a paused client leaving, as a paused stream did (a held statement must not outlive its client)', async () => {
    const p = await pair();
    open.push(p);
    const reader = readClient(p.accepted, () => undefined);
    reader.pause();
    const closed = new Promise((resolve) => p.accepted.once('close', resolve));
    p.client.write('bye');
    p.client.end();
    await closed;
  });

  it('stops reading a paused client past the read-ahead limit, and reads the rest after resume', async () => {
    const p = await pair();
    open.push(p);
    const chunks: Buffer[] = [];
    const reader = readClient(p.accepted, (chunk) => chunks.push(chunk));
    reader.pause();
    const sent = randomBytes(8 * 1024 * 1024);
    p.client.write(sent);
    await until(() => p.accepted.bytesRead >= READ_AHEAD_BYTES);
    await sleep(100); // an absence: past the limit nothing more is read, however long one waits
    expect(p.accepted.bytesRead).toBeLessThan(READ_AHEAD_BYTES + 128 * 1024);
    expect(chunks).toHaveLength(0);
    reader.resume();
    await until(() => chunks.reduce((n, c) => n + c.length, 0) >= sent.length);
    expect(Buffer.concat(chunks).equals(sent)).toBe(true);
  });

  it('leaves a TLS socket on data events', async () => {
    const p = await pair();
    open.push(p);
    const tls = new TLSSocket(p.accepted, { isServer: true });
    expect(readClient(tls, () => undefined).shared).toBe(false);
    expect(tls.listenerCount('data')).toBe(1);
    tls.destroy();
  });
});
