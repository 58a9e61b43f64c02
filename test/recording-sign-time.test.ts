// Checkpoints by time: with one gateway-wide timer, every event a writer stages is
// covered by a signed checkpoint within SIGN_WITHIN_MS, busy or idle. Fake timers
// and a manual clock make the bound exact: no sleeping, no timing assumptions.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { generateSigner, trustedKeysOf } from '../common/keys.js';
import { EventType, verifyRecordingFile } from '../common/recording/index.js';
import { RecordingWriter, SIGN_WITHIN_MS } from '../gateway/recording/index.js';

const signer = generateSigner();
const trusted = trustedKeysOf([signer.publicKey]);
let dir: string;
let nowMicros = 1_764_720_000_000_000;
const clock = { nowMicros: () => nowMicros };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hopscope-signtime-'));
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.runOnlyPendingTimers(); // a round armed by a session end fires (finding nothing), so the next test starts with no timer
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

/** Advances the fake timers and the clock together. */
function advance(ms: number): void {
  nowMicros += ms * 1000;
  vi.advanceTimersByTime(ms);
}

function open(session: string): RecordingWriter {
  return RecordingWriter.open({ dir, session, protocol: 'postgres', signer, clock, fsync: 'none', checkpointEvery: 1000 });
}

it('an idle session: its one event is signed within SIGN_WITHIN_MS, not before a round is due', async () => {
  const w = open('idle');
  w.append(EventType.PgQuery, { sql: 'select 1' });
  w.commit();
  advance(SIGN_WITHIN_MS - 1);
  let r = await verifyRecordingFile(w.path, trusted);
  expect(r).toMatchObject({ lastSeq: 1, signedThroughSeq: 0, status: 'unverified' });
  advance(1);
  r = await verifyRecordingFile(w.path, trusted);
  expect(r).toMatchObject({ lastSeq: 2, signedThroughSeq: 2, intactThroughSeq: 2 }); // seq 2: the checkpoint
  // Nothing new: no further checkpoint (the timer is not re-armed by an idle writer).
  advance(10 * SIGN_WITHIN_MS);
  expect((await verifyRecordingFile(w.path, trusted)).lastSeq).toBe(2);
  w.close({ reason: 'client quit', cause: 'client-quit' });
  expect((await verifyRecordingFile(w.path, trusted)).status).toBe('intact');
});

it('many writers, events at uneven times: one timer, and every event is signed within the bound', async () => {
  const writers = [open('a'), open('b'), open('c')];
  const appended: { w: RecordingWriter; seq: number; at: number }[] = [];
  let elapsed = 0;
  // A deterministic spread of gaps (ms) between events, some far shorter, some longer than the bound.
  const gaps = [3, 250, 10, 999, 1, 1500, 40, 700, 700, 2, 1000, 333];
  for (let i = 0; i < gaps.length * 3; i++) {
    const w = writers[i % 3]!;
    const seq = w.append(EventType.PgQuery, { sql: `select ${i}` });
    w.commit();
    appended.push({ w, seq, at: elapsed });
    expect(vi.getTimerCount()).toBeLessThanOrEqual(1); // one gateway-wide timer, never one per session
    const gap = gaps[i % gaps.length]!;
    advance(gap);
    elapsed += gap;
    // Every event appended at least SIGN_WITHIN_MS ago is covered by a valid signature now.
    for (const a of appended.filter((x) => elapsed - x.at >= SIGN_WITHIN_MS)) {
      const r = await verifyRecordingFile(a.w.path, trusted);
      expect(r.signedThroughSeq, `${a.w.session} seq ${a.seq} appended at ${a.at} ms, now ${elapsed} ms`).toBeGreaterThanOrEqual(a.seq);
    }
  }
  for (const w of writers) w.close({ reason: 'client quit', cause: 'client-quit' });
  for (const w of writers) expect((await verifyRecordingFile(w.path, trusted)).status).toBe('intact');
  advance(SIGN_WITHIN_MS); // a round already armed finds only closed writers: nothing written, nothing re-armed
  expect(vi.getTimerCount()).toBe(0);
});
