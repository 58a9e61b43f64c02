// Raw bytes for the bad-input suite: PostgreSQL frontend messages built by hand,
// a real SSH client's first flight captured from a fake server, mutations, and a
// socket that sends bytes and waits for the gateway to answer or hang up.
import { connect, createServer, type Socket } from 'node:net';
import type ssh2 from 'ssh2';
import type { prng } from './support.js';

type Rng = ReturnType<typeof prng>;

const cstr = (s: string) => Buffer.from(`${s}\0`);
function msg(type: string, body: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeInt32BE(body.length + 4);
  return Buffer.concat([Buffer.from(type), len, body]);
}

export function pgStartup(user: string, database: string): Buffer {
  const body = Buffer.concat([Buffer.from([0, 3, 0, 0]), cstr('user'), cstr(user), cstr('database'), cstr(database), cstr('application_name'), cstr('fuzz'), Buffer.from([0])]);
  const len = Buffer.alloc(4);
  len.writeInt32BE(body.length + 4);
  return Buffer.concat([len, body]);
}

export const pgPassword = (token: string) => msg('p', cstr(token));

/** A plausible stream of frontend messages after authentication: simple and extended queries, a sync, a terminate. */
export function pgSession(rng: Rng): Buffer {
  const int16 = (n: number) => Buffer.from([n >> 8, n & 255]);
  const parts: Buffer[] = [];
  for (let i = 0, n = 1 + rng.int(4); i < n; i++) {
    switch (rng.int(4)) {
      case 0: parts.push(msg('Q', cstr(`SELECT ${rng.int(1000)} AS n`))); break;
      case 1: {
        const value = Buffer.from(String(rng.int(1000)));
        const len = Buffer.alloc(4);
        len.writeInt32BE(value.length);
        parts.push(msg('P', Buffer.concat([cstr(''), cstr('SELECT $1::int + 1'), int16(0)])),
          msg('B', Buffer.concat([cstr(''), cstr(''), int16(0), int16(1), len, value, int16(0)])),
          msg('D', Buffer.concat([Buffer.from('P'), cstr('')])), msg('E', Buffer.concat([cstr(''), Buffer.alloc(4)])), msg('S', Buffer.alloc(0)));
        break;
      }
      case 2: parts.push(msg('Q', cstr('BEGIN; SELECT 1; COMMIT'))); break;
      default: parts.push(msg('H', Buffer.alloc(0)), msg('S', Buffer.alloc(0)));
    }
  }
  parts.push(msg('X', Buffer.alloc(0)));
  return Buffer.concat(parts);
}

/** Flips, inserts, deletes or overwrites a few bytes, or cuts the buffer short; never returns the input unchanged. */
export function mutateBytes(input: Buffer, rng: Rng): Buffer {
  let b = Buffer.from(input);
  for (let k = 0, n = 1 + rng.int(4); k < n; k++) {
    const at = rng.int(Math.max(1, b.length));
    switch (rng.int(5)) {
      case 0: if (b.length) b[at] = b[at]! ^ (1 + rng.int(255)); break;
      case 1: b = Buffer.concat([b.subarray(0, at), Buffer.from([rng.int(256)]), b.subarray(at)]); break;
      case 2: b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rng.int(8))]); break;
      case 3: if (b.length) b.fill(rng.pick([0x00, 0xff, 0x7f, 0x80]), at, Math.min(b.length, at + 1 + rng.int(4))); break;
      default: b = b.subarray(0, at);
    }
  }
  return b.equals(input) ? Buffer.concat([input, Buffer.from([rng.int(256)])]) : b;
}

export function randomBytes(rng: Rng, max: number): Buffer {
  return Buffer.from(Array.from({ length: 1 + rng.int(max) }, () => rng.int(256)));
}

/** A real ssh2 client's first bytes (identification line and KEXINIT), captured by a server that only sends its banner. */
export async function sshFirstFlight(Client: typeof ssh2.Client): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const server = createServer((s) => {
    s.on('data', (d) => chunks.push(d));
    s.on('error', () => undefined);
    s.write('SSH-2.0-OpenSSH_9.2p1\r\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = new Client();
  client.on('error', () => undefined);
  client.connect({ host: '127.0.0.1', port: (server.address() as { port: number }).port, username: 'x', password: 'y', readyTimeout: 2000 });
  for (let i = 0; i < 100 && Buffer.concat(chunks).length < 200; i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 100));
  client.end();
  server.close();
  return Buffer.concat(chunks);
}

/** Sends `bytes` and resolves once the gateway hangs up, or after `idleMs` without an answer. */
export function poke(port: number, bytes: Buffer, idleMs = 250): Promise<'closed' | 'idle'> {
  return new Promise((resolve) => {
    const s: Socket = connect(port, '127.0.0.1', () => s.write(bytes));
    let timer = setTimeout(() => done('idle'), idleMs * 4);
    const done = (how: 'closed' | 'idle') => {
      clearTimeout(timer);
      s.destroy();
      resolve(how);
    };
    s.on('data', () => {
      clearTimeout(timer);
      timer = setTimeout(() => done('idle'), idleMs);
    });
    s.on('error', () => done('closed'));
    s.on('close', () => done('closed'));
  });
}

/** A slow-loris connection: one byte of `bytes` every `everyMs`; reports whether the gateway closed it. */
export function slowLoris(port: number, bytes: Buffer, everyMs: number): { closedByGateway(): boolean; stop(): void } {
  let closed = false;
  let stopped = false;
  let i = 0;
  const s = connect(port, '127.0.0.1');
  s.on('error', () => undefined);
  s.on('close', () => (closed = !stopped));
  const timer = setInterval(() => {
    if (!s.destroyed) s.write(bytes.subarray(i % bytes.length, (i % bytes.length) + 1));
    i++;
  }, everyMs);
  return { closedByGateway: () => closed, stop: () => { stopped = true; clearInterval(timer); s.destroy(); } };
}
