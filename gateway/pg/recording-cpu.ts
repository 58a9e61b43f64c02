// The CPU of recording one pgbench -S round trip, without PostgreSQL or sockets (issue 15): the pg.query event and
// its commit (write before forward), then the server's answer (RowDescription, DataRow, CommandComplete,
// ReadyForQuery) through ResultRecorder and commitSoon, as session.ts does; fsync none, one file per round.
// Builds given as dist roots are loaded side by side and run interleaved (an A/B in one process); CPU from
// process.cpuUsage per round trip, least and median after a warm-up round.
// `node dist/gateway/pg/recording-cpu.js [round trips per round] [rounds] [dist root ...]` (default: this dist).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serializeBackend as backend } from './protocol/index.js';

const [tripsText = '30000', roundsText = '9', ...given] = process.argv.slice(2);
const trips = Number(tripsText);
const rounds = Number(roundsText);
const roots = given.length ? given : [fileURLToPath(new URL('../../', import.meta.url))];

const answer = [
  backend.rowDescription([{ name: 'abalance', tableID: 16397, columnID: 3, dataTypeID: 23, dataTypeSize: 4, dataTypeModifier: -1, format: 'text' }]),
  backend.dataRow(['-2349']),
  backend.commandComplete('SELECT 1'),
  backend.readyForQuery('I'),
];
const query = '{"sql":"SELECT abalance FROM pgbench_accounts WHERE aid = 48213;"}';

interface Build { name: string; run(dir: string): number }

async function load(root: string): Promise<Build> {
  const at = (path: string): Promise<Record<string, unknown>> => import(pathToFileURL(join(root, path)).href) as Promise<Record<string, unknown>>;
  const { RecordingWriter } = await at('gateway/recording/writer.js') as { RecordingWriter: { open(o: unknown): Writer } };
  const { ResultRecorder } = await at('gateway/pg/results.js') as { ResultRecorder: new (w: Writer, max: number, now: () => number) => Recorder };
  const { generateSigner } = await at('common/keys.js') as { generateSigner(): unknown };
  const { systemClock } = await at('common/clock.js') as { systemClock: { nowMicros(): number } };
  const signer = generateSigner();
  return {
    name: root,
    run(dir: string): number {
      const writer = RecordingWriter.open({ dir, session: `s${Math.random().toString(36).slice(2)}`, protocol: 'postgres', signer, clock: systemClock, fsync: 'none', checkpointEvery: 1000 });
      const results = new ResultRecorder(writer, 100, () => systemClock.nowMicros());
      const started = process.cpuUsage();
      for (let i = 0; i < trips; i++) {
        const seq = writer.appendJson('pg.query', query);
        results.statementSent('query', seq);
        writer.commit();
        for (const frame of answer) results.onFrame(frame[0]!, frame);
        writer.commitSoon();
      }
      const used = process.cpuUsage(started);
      writer.close({ reason: 'done', cause: 'client-quit', statementsInFlight: 0 });
      return (used.user + used.system) / trips;
    },
  };
}
interface Writer { appendJson(type: string, json: string): number; commit(): unknown; commitSoon(): void; close(end: unknown): void }
interface Recorder { statementSent(kind: 'query', seq: number): void; onFrame(tag: number, frame: Buffer): void }

const builds = await Promise.all(roots.map(load));
const dir = mkdtempSync(join(tmpdir(), 'recording-cpu-'));
const micros = builds.map(() => [] as number[]);
for (let round = 0; round < rounds; round++) {
  const order = builds.map((_, i) => i);
  if (round % 2) order.reverse();
  for (const i of order) {
    const m = builds[i]!.run(dir);
    if (round > 0) micros[i]!.push(m);
  }
}
rmSync(dir, { recursive: true, force: true });
builds.forEach((b, i) => {
  const m = micros[i]!.sort((a, c) => a - c);
  console.log(`${b.name}: least ${m[0]!.toFixed(2)} µs, median ${m[m.length >> 1]!.toFixed(2)} µs CPU per round trip`);
});
