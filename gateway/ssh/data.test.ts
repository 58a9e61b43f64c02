import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../common/clock.js';
import { generateSigner, trustedKeysOf } from '../../common/keys.js';
import { EventType, verifyRecordingFile, type RecordingEvent } from '../../common/recording/index.js';
import { RecordingWriter } from '../recording/index.js';
import { decodeRecordedBytes, type RecordedBytes } from './bytes.js';
import { COALESCE_BYTES, DataRecorder } from './data.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function recorder() {
  const dir = await mkdtemp(join(tmpdir(), 'hopscope-data-'));
  dirs.push(dir);
  const signer = generateSigner();
  const writer = RecordingWriter.open({ dir, session: 's-data', protocol: 'ssh', signer, clock: systemClock, fsync: 'none', checkpointEvery: 50 });
  const failures: unknown[] = [];
  return { writer, signer, failures, data: new DataRecorder(writer, systemClock, (err) => failures.push(err)) };
}

describe('DataRecorder', () => {
  it('records every byte, in order, coalesced per channel and stream up to the cap, in a file that verifies', async () => {
    const { writer, signer, failures, data } = await recorder();
    const sent = new Map<string, Buffer[]>();
    const send = (type: typeof EventType.SshOutput | typeof EventType.SshInput, channel: number, stream: 'stdout' | 'stderr' | undefined, chunk: Buffer) => {
      const key = `${type}/${channel}/${stream ?? '-'}`;
      sent.set(key, [...(sent.get(key) ?? []), chunk]);
      data.push(type, channel, stream, chunk, stream === 'stderr' ? { ssn: 1 } : undefined);
    };
    for (let i = 0; i < 200; i++) {
      send(EventType.SshOutput, 0, 'stdout', randomBytes(32 * 1024)); // binary: base64
      if (i % 7 === 0) send(EventType.SshOutput, 0, 'stderr', Buffer.from(`warning ${i} ✓\n`)); // text: utf8
      if (i % 11 === 0) send(EventType.SshInput, 1, undefined, randomBytes(1000));
    }
    await new Promise((r) => setTimeout(r, 20)); // the batch timer writes what is staged
    writer.append(EventType.SshExit, { channel: 0, status: 0 });
    data.close();
    writer.close({ reason: 'done', cause: 'client-quit' });
    expect(failures).toEqual([]);

    const events: RecordingEvent[] = [];
    const report = await verifyRecordingFile(writer.path, trustedKeysOf([signer.publicKey]), (v) => events.push(v.event));
    expect(report.status).toBe('intact');
    const got = new Map<string, Buffer[]>();
    let stderrMasked = 0;
    for (const e of events.filter((ev) => ev.type === EventType.SshOutput || ev.type === EventType.SshInput)) {
      const rec = e.data as unknown as RecordedBytes & { channel: number; stream?: string; masked?: { rule: string; count: number }[] };
      const bytes = decodeRecordedBytes(rec);
      expect(bytes.length).toBe(rec.bytes);
      expect(rec.bytes).toBeLessThanOrEqual(COALESCE_BYTES);
      // Masking notes: [{rule, count}], as in PostgreSQL results.
      stderrMasked += rec.masked?.find((m) => m.rule === 'ssn')?.count ?? 0;
      const key = `${e.type}/${rec.channel}/${rec.stream ?? '-'}`;
      got.set(key, [...(got.get(key) ?? []), bytes]);
    }
    for (const [key, chunks] of sent) expect(Buffer.concat(got.get(key)!).equals(Buffer.concat(chunks)), key).toBe(true);
    expect(stderrMasked).toBe(29);
    // Fewer events than chunks: stdout came in 200 packets of 32 KiB, joined up to the cap, with a new event after
    // each of the 45 turns where stderr or input came in between (i % 7 or i % 11 is 0).
    expect(got.get(`${EventType.SshOutput}/0/stdout`)!.length).toBeLessThanOrEqual((200 * 32 * 1024) / COALESCE_BYTES + 45);
    const utf8 = events.find((e) => e.data.stream === 'stderr')!;
    expect(utf8.data).toMatchObject({ encoding: 'utf8', data: 'warning 0 ✓\n' });
  });
});
