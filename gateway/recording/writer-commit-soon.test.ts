// commitSoon: events nothing waits for (a PostgreSQL result) reach the file within one COMMIT_SOON_MS tick of the
// gateway-wide timer, or sooner with the session's next commit, whatever order commits and ticks come in. Fake
// timers make the bound exact: no sleeping.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { generateSigner } from '../../common/keys.js';
import { EventType } from '../../common/recording/index.js';
import { COMMIT_SOON_MS, RecordingWriter } from './writer.js';

const signer = generateSigner();
let dir: string;
const clock = { nowMicros: () => 1_764_720_000_000_000 };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hopscope-soon-'));
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
});
afterEach(() => {
  vi.advanceTimersByTime(COMMIT_SOON_MS * 2); // the interval finds nothing listed and stops
  vi.runOnlyPendingTimers();
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

function open(session: string, at = dir): RecordingWriter {
  return RecordingWriter.open({ dir: at, session, protocol: 'postgres', signer, clock, fsync: 'none', checkpointEvery: 1000 });
}

const events = (w: RecordingWriter): string[] => readFileSync(w.path, 'utf8').split('\n').slice(1, -1);

it('writes a commitSoon event at the next tick, not before', () => {
  const w = open('tick');
  w.append(EventType.PgQuery, { sql: 'select 1' });
  w.commitSoon();
  expect(events(w)).toHaveLength(0);
  vi.advanceTimersByTime(COMMIT_SOON_MS);
  expect(events(w).map((l) => JSON.parse(l).data)).toEqual([{ sql: 'select 1' }]);
});

it('a session that committed since it was listed, then staged again, is written by the same tick', () => {
  const w = open('again');
  w.append(EventType.PgQuery, { sql: 'select 1' });
  w.commitSoon();
  w.commit(); // the next command's write: the first event is on disk now
  expect(events(w)).toHaveLength(1);
  w.append(EventType.PgQuery, { sql: 'select 2' });
  w.commitSoon(); // still listed from before the commit
  vi.advanceTimersByTime(COMMIT_SOON_MS);
  expect(events(w)).toHaveLength(2);
  // Listed again after that tick: written by the following one.
  w.append(EventType.PgQuery, { sql: 'select 3' });
  w.commitSoon();
  vi.advanceTimersByTime(COMMIT_SOON_MS);
  expect(events(w)).toHaveLength(3);
});

it('a tick writes every waiting session and skips one closed while listed', () => {
  const [a, b, c] = [open('a'), open('b'), open('c')];
  for (const w of [a, b, c]) {
    w.append(EventType.PgQuery, { sql: 'select 1' });
    w.commitSoon();
  }
  b.close({ reason: 'bye', cause: 'client-quit', statementsInFlight: 0 });
  vi.advanceTimersByTime(COMMIT_SOON_MS);
  expect(events(a)).toHaveLength(1);
  expect(events(c)).toHaveLength(1);
  expect(events(b).map((l) => JSON.parse(l).type)).toEqual([EventType.PgQuery, EventType.SessionEnd, EventType.Seal]);
});

it('writes the same bytes whether each event is committed at once or left to the tick', () => {
  const write = (at: string, soon: boolean): Buffer => {
    mkdirSync(at);
    const w = open('same', at);
    for (let i = 0; i < 50; i++) {
      w.append(EventType.PgQuery, { sql: `select ${i}` });
      w.commit();
      w.append(EventType.PgResult, { statement: i, command: 'SELECT 1', rowCount: 1, columns: [], rows: [], rowsRecorded: 0, durationMicros: 3 });
      if (soon) {
        w.commitSoon();
        if (i % 3 === 0) vi.advanceTimersByTime(COMMIT_SOON_MS);
      } else {
        w.commit();
      }
    }
    w.close({ reason: 'bye', cause: 'client-quit', statementsInFlight: 0 });
    return readFileSync(w.path);
  };
  const atOnce = write(join(dir, 'now'), false);
  expect(write(join(dir, 'soon'), true).equals(atOnce)).toBe(true);
});
