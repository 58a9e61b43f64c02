import { createServer, connect, type Socket } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { readEvents } from '../helpers/gateway.js';
import type { FleetGatewayProcess } from '../helpers/fleet.js';
import { freePort } from '../helpers/ports.js';
import { ssh2Client, ssh2Exec } from '../helpers/sshd.js';

/** A pg client through a gateway of the fleet; `ended` settles when the gateway (or anyone) closes it. */
export async function pgOn(gw: FleetGatewayProcess, password: string) {
  const client = new pg.Client({ host: '127.0.0.1', port: gw.pgPort, user: 'agent', password, database: 'db' });
  client.on('error', () => undefined); // a cut session errors: the test reads the query's rejection
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  await client.connect();
  return { client, ended };
}

/** An SSH session through a gateway: its session id and the hop token the gateway handed it; `closed` settles when it is cut. */
export async function sshOn(gw: FleetGatewayProcess, password: string, identity = 'agent') {
  const client = await ssh2Client(gw.sshPort!, `${identity}:host`, { password });
  client.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  const out = (await ssh2Exec(client, 'echo "$HOPSCOPE_SESSION $HOPSCOPE_TOKEN"')).stdout.trim().split(' ');
  return { client, closed, session: out[0]!, hopToken: out[1]! };
}

/** The events of one session's recording on a gateway. */
export const eventsOf = (gw: FleetGatewayProcess, session: string) => readEvents(join(gw.recordingsDir, `${session}.jsonl`));

/**
 * A TCP proxy in front of the target database that can hold new connections (not forward them) until released:
 * it keeps a gateway's login "in flight" between admission and the upstream handshake, the window a revocation races.
 */
export async function holdingProxy(host: string, port: number) {
  const held: Socket[] = [];
  let holding = false;
  let heldListener: (() => void) | undefined;
  const forward = (s: Socket) => {
    const up = connect(port, host);
    s.pipe(up).pipe(s);
    up.on('error', () => s.destroy());
    s.on('error', () => up.destroy());
  };
  const server = createServer((s) => {
    if (!holding) return forward(s);
    s.pause();
    held.push(s);
    heldListener?.();
  });
  const listenPort = await freePort();
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  return {
    port: listenPort,
    hold() {
      holding = true;
    },
    /** Settles once a connection is held (the gateway admitted a login and is connecting upstream). */
    held: () => new Promise<void>((resolve) => (held.length ? resolve() : (heldListener = resolve))),
    release() {
      holding = false;
      for (const s of held.splice(0)) {
        s.resume();
        forward(s);
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
