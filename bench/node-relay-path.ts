// Starts bench/node-relay.ts as a child process in front of PostgreSQL, for bench/pg.ts's relay paths: the floor a
// Node.js gateway sits on, measured in the same rounds as pgbouncer and the gateway (its own process, like a child gateway).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from '../test/helpers/ports.js';
import type { PgConn } from '../test/helpers/postgres.js';
import { spawnLong } from '../test/helpers/processes.js';

/** The relay paths of bench/pg.ts and how each runs the relay (see bench/node-relay.ts). */
export const NODE_RELAYS = {
  'node-relay': { mode: 'plain', record: false },
  'node-relay-onread': { mode: 'onread', record: false },
  'node-relay+write': { mode: 'onread', record: true },
} as const;
export type NodeRelayPath = keyof typeof NODE_RELAYS;

export interface NodeRelay {
  /** The upstream's credentials and database; only host and port are the relay's (it passes authentication through). */
  conn: PgConn;
  pid: number;
  stop(): Promise<void>;
}

export async function startNodeRelay(upstream: PgConn, repoRoot: string, path: NodeRelayPath, nodeArgs: string[] = []): Promise<NodeRelay> {
  const { mode, record } = NODE_RELAYS[path];
  // The recordings go where a bench gateway's do (the system's temporary directory), so the file system is the same.
  const dir = record ? await mkdtemp(join(tmpdir(), 'hopscope-bench-relay-')) : undefined;
  const port = await freePort();
  const script = join(repoRoot, 'dist', 'bench', 'node-relay.js');
  const proc = spawnLong('node', [...nodeArgs, script, '--listen', String(port), '--upstream', `${upstream.host}:${upstream.port}`, '--mode', mode, ...(dir ? ['--record', dir] : [])]);
  const stop = async () => {
    await proc.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([
      waitForPort('127.0.0.1', port, 30_000),
      proc.exited.then(() => Promise.reject(new Error('the relay exited'))),
    ]);
  } catch (err) {
    await stop();
    throw new Error(`${path} did not start: ${(err as Error).message}:\n${proc.output()}`);
  }
  return { conn: { ...upstream, host: '127.0.0.1', port }, pid: proc.pid, stop };
}
