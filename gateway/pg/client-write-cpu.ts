// The CPU of writing through the socket's Writable stream against socket-writer.ts's direct handle write, in one
// process (issue 15's A/B of that change): a loopback ping-pong of 60-byte messages, both ends writing one way or the
// other, rounds interleaved; CPU (process.cpuUsage, both ends) per round trip, least and median.
// Run from dist: `node dist/gateway/pg/client-write-cpu.js [round trips per round] [rounds]`.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { socketWriter } from './socket-writer.js';

const roundTrips = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 11);
const message = Buffer.alloc(60, 0x41);

function writerOf(socket: Socket, mode: 'stream' | 'direct'): (data: Buffer) => void {
  if (mode === 'stream') return (data) => void socket.write(data);
  const writer = socketWriter(socket, () => undefined);
  if (!writer.direct) throw new Error('the direct write is not engaged on this Node');
  return (data) => void writer.write(data);
}

async function once(mode: 'stream' | 'direct'): Promise<number> {
  const server = createServer({ noDelay: true }, (socket: Socket) => {
    const write = writerOf(socket, mode);
    socket.on('data', () => write(message));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', noDelay: true });
  await new Promise((resolve) => client.once('connect', resolve));
  const write = writerOf(client, mode);
  let left = roundTrips;
  const started = process.cpuUsage();
  await new Promise<void>((done) => {
    client.on('data', () => (--left === 0 ? done() : write(message)));
    write(message);
  });
  const used = process.cpuUsage(started);
  client.destroy();
  server.close();
  return (used.user + used.system) / roundTrips;
}

const results: Record<'stream' | 'direct', number[]> = { stream: [], direct: [] };
for (let round = 0; round < rounds; round++) {
  for (const mode of round % 2 ? (['stream', 'direct'] as const) : (['direct', 'stream'] as const)) {
    const micros = await once(mode);
    if (round > 0) results[mode].push(micros); // the first round warms both up
  }
}
for (const [mode, micros] of Object.entries(results)) {
  micros.sort((a, b) => a - b);
  console.log(`${mode.padEnd(6)} least ${micros[0]!.toFixed(2)} µs, median ${micros[micros.length >> 1]!.toFixed(2)} µs CPU per round trip (both ends)`);
}
