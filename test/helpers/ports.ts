import { randomInt } from 'node:crypto';
import { connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const LOW = 20_000;
const HIGH = 32_000; // below the Linux ephemeral range (32768+), so outgoing connections never take it
const handedOut = new Set<number>();

/**
 * A loopback port that nothing listens on right now. Random rather than
 * sequential so that test files running in parallel processes rarely pick the
 * same one; the window between this check and the server's own bind remains,
 * so servers started by helpers retry on "address in use" (see `isAddressInUse`).
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = randomInt(LOW, HIGH + 1);
    if (handedOut.has(port)) continue;
    if (await canListen(host, port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port found on ${host} in ${LOW}–${HIGH}`);
}

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Resolves once a TCP connection to host:port succeeds; rejects after timeoutMs. */
export async function waitForPort(host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await canConnect(host, port)) return;
    if (Date.now() > deadline) throw new Error(`nothing accepted connections on ${host}:${port} within ${timeoutMs} ms`);
    await sleep(25);
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Whether a server's log says its port was taken between `freePort` and its bind. */
export function isAddressInUse(log: string): boolean {
  return /address already in use|could not bind/i.test(log);
}
