// A bare ssh2 relay: the floor under the gateway's SSH path (issue 15). The same library and the same two SSH
// connections the gateway makes — an ssh2 Server for the client (default algorithms, an Ed25519 host key, a socket
// with noDelay handed to injectSocket) and an ssh2 Client to the target's OpenSSH with a private key (a socket with
// noDelay, keepalive 30 s) — and nothing else: no admission, no recording, no masking, no parsing. Exec and shell
// channels (pty, env, window changes, signals, exit status) are relayed with pause/resume on write backpressure, as
// gateway/ssh/channel.ts does. `--write FILE`: each chunk, input and output, is first written to FILE with
// writeSync (no hashing, no encoding, no fsync) — the floor of a relay that records before it forwards.
// Run by bench/ssh.ts as a child process (its CPU is read from /proc):
//   node dist/bench/ssh2-relay.js --listen 127.0.0.1:2222 --password secret --target 127.0.0.1:22 --user me --key ~/.ssh/id_ed25519 [--write /tmp/x]
// It prints `listening` once it accepts connections and, for the first connection, the algorithms each side negotiated.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { parseArgs } from 'node:util';
import ssh2 from 'ssh2';
import { generateHostKey } from '../gateway/ssh/hostkey.js';

const { values: args } = parseArgs({ options: {
  listen: { type: 'string' }, password: { type: 'string' }, target: { type: 'string' }, user: { type: 'string' },
  key: { type: 'string' }, write: { type: 'string' },
} });
const need = (name: 'listen' | 'password' | 'target' | 'user' | 'key'): string => {
  const v = args[name];
  if (!v) throw new Error(`--${name} is required`);
  return v;
};
const [listenHost, listenPort] = need('listen').split(':') as [string, string];
const [targetHost, targetPort] = need('target').split(':') as [string, string];
const password = need('password');
const user = need('user');
const privateKey = readFileSync(need('key'));
const writePath = args.write;

/** What each side negotiated, printed once (the bench keeps it in its JSON). */
let printed = { client: false, target: false };
const describe = (n: ssh2.NegotiatedAlgorithms) =>
  `kex=${n.kex} hostkey=${n.serverHostKey} client->server=${n.cs.cipher}/${n.cs.mac || 'implicit'} server->client=${n.sc.cipher}/${n.sc.mac || 'implicit'} compress=${n.cs.compress}`;

/** Connects to the target as the gateway's upstream.ts does; resolves once authenticated. */
function connectTarget(): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: targetHost, port: Number(targetPort), noDelay: true });
    const client = new ssh2.Client();
    socket.once('error', reject);
    client.once('ready', () => resolve(client)).once('error', reject);
    client.on('handshake', (n) => {
      if (!printed.target) console.log(`negotiated target: ${describe(n)}`);
      printed = { ...printed, target: true };
    });
    socket.once('connect', () => client.connect({ sock: socket, username: user, privateKey, readyTimeout: 10_000, keepaliveInterval: 30_000 }));
  });
}

/** Output (or input) on its way: written to the file first with --write, then to `to`; `from` pauses while `to` is full. */
function forward(from: NodeJS.ReadableStream & { pause(): void; resume(): void }, to: NodeJS.WritableStream & { once(e: 'drain', f: () => void): unknown }, fd: number | undefined): void {
  from.on('data', (chunk: Buffer) => {
    if (fd !== undefined) writeSync(fd, chunk);
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
}

type Pty = { term: string; cols: number; rows: number; width: number; height: number };

function relaySession(session: ssh2.Session, upstream: ssh2.Client, fd: number | undefined): void {
  let pty: Pty | undefined;
  const env: Record<string, string> = {};
  let up: ssh2.ClientChannel | undefined;
  session.on('pty', (accept, _reject, info) => {
    pty = { term: info.term, cols: info.cols, rows: info.rows, width: info.width, height: info.height };
    accept?.();
  });
  session.on('env', (accept, _reject, info) => {
    env[info.key] = info.val;
    accept?.();
  });
  session.on('window-change', (accept, _reject, info) => {
    up?.setWindow(info.rows, info.cols, info.height, info.width);
    accept?.();
  });
  session.on('signal', (accept, _reject, info) => {
    up?.signal(info.name);
    accept?.();
  });
  const open = (down: ssh2.ServerChannel, request: (cb: (err: Error | undefined, ch: ssh2.ClientChannel) => void) => void) => {
    down.pause(); // nothing from the client moves before the target's channel is open
    request((err, channel) => {
      if (err) {
        down.stderr.write(`ssh2-relay: the target refused the request: ${err.message}\r\n`);
        down.exit(255);
        return void down.end();
      }
      up = channel;
      forward(channel, down, fd);
      forward(channel.stderr, down.stderr, fd);
      forward(down, channel, fd);
      down.on('end', () => channel.end());
      channel.on('exit', (code: number | null, signal?: string, dump?: string) => {
        if (code !== null) down.exit(code);
        else down.exit(signal ?? 'KILL', Boolean(dump), '');
      });
      channel.on('close', () => down.end());
      down.on('close', () => channel.close());
      down.resume();
    });
  };
  session.on('exec', (accept, _reject, info) => open(accept(), (cb) => upstream.exec(info.command, { env, pty: pty ?? false }, cb)));
  session.on('shell', (accept) => open(accept(), (cb) => upstream.shell(pty ?? false, { env }, cb)));
}

const server = new ssh2.Server({ hostKeys: [generateHostKey().private], ident: 'ssh2-relay' }, (conn) => {
  let upstream: ssh2.Client | undefined;
  let fd: number | undefined;
  conn.on('handshake', (n) => {
    if (!printed.client) console.log(`negotiated client: ${describe(n)}`);
    printed = { ...printed, client: true };
  });
  conn.on('authentication', (ctx) => {
    if (ctx.method !== 'password' || ctx.password !== password) return ctx.reject(['password']);
    // As the gateway: the target is reached before the client is accepted.
    connectTarget().then((client) => {
      upstream = client;
      ctx.accept();
    }, (err: Error) => {
      console.error(`target: ${err.message}`);
      ctx.reject([]);
    });
  });
  conn.on('ready', () => {
    if (writePath) fd = openSync(writePath, 'w'); // one file, overwritten per connection: the disk holds one transfer
    conn.on('session', (accept) => relaySession(accept(), upstream!, fd));
  });
  conn.on('error', () => undefined);
  conn.on('close', () => {
    upstream?.end();
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
  });
});

const listener = createServer({ noDelay: true }, (socket) => server.injectSocket(socket));
listener.listen(Number(listenPort), listenHost, () => console.log(`listening on ${listenHost}:${listenPort}${writePath ? `, writing to ${writePath}` : ''}`));
process.on('SIGTERM', () => {
  listener.close();
  process.exit(0);
});
