// The CPU of reading a client through the stream ('data' events) against client-reader.ts's shared buffer, in one
// process (issue 15's A/B of that change): a loopback ping-pong of 60-byte messages, the accepted side reading one
// way or the other, rounds interleaved; CPU (process.cpuUsage, both ends) per round trip, least and median.
// Run from dist: `node dist/gateway/pg/client-read-cpu.js [round trips per round] [rounds]`.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { readClient } from './client-reader.js';

const roundTrips = Number(process.argv[2] ?? 20_000);
const rounds = Number(process.argv[3] ?? 11);
const message = Buffer.alloc(60, 0x41);

async function once(mode: 'data' | 'shared'): Promise<number> {
  const server = createServer({ noDelay: true }, (socket: Socket) => {
    const answer = (): void => void socket.write(message);
    if (mode === 'shared') readClient(socket, answer);
    else socket.on('data', answer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', noDelay: true });
  await new Promise((resolve) => client.once('connect', resolve));
  let left = roundTrips;
  const started = process.cpuUsage();
  await new Promise<void>((done) => {
    client.on('data', () => (--left === 0 ? done() : void client.write(message)));
    client.write(message);
  });
  const used = process.cpuUsage(started);
  client.destroy();
  server.close();
  return (used.user + used.system) / roundTrips;
}

const results: Record<'data' | 'shared', number[]> = { data: [], shared: [] };
for (let round = 0; round < rounds; round++) {
  for (const mode of round % 2 ? (['data', 'shared'] as const) : (['shared', 'data'] as const)) {
    const micros = await once(mode);
    if (round > 0) results[mode].push(micros); // the first round warms both up
  }
}
for (const [mode, micros] of Object.entries(results)) {
  micros.sort((a, b) => a - b);
  console.log(`${mode.padEnd(6)} least ${micros[0]!.toFixed(2)} µs, median ${micros[micros.length >> 1]!.toFixed(2)} µs CPU per round trip (both ends)`);
}
