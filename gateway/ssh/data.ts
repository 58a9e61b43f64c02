import { isUtf8 } from 'node:buffer';
import type { Clock } from '../../common/clock.js';
import type { MaskNote } from '../../common/recording/index.js';
import { addCounts } from '../policy/index.js';
import type { MaskCounts } from '../policy/types.js';
import type { RecordingWriter } from '../recording/index.js';
import type { DataEventName } from './context.js';

/**
 * The largest data event: consecutive chunks of one channel and stream are joined up to this many bytes. 64 KB,
 * not more: an event's text (base64 of 64 KB is 87,384 characters) then stays below V8's largest regular heap
 * object (128 KB), so it is made and collected in the young generation; from 96 KB on it goes to the large-object
 * space, and base64 of 200 MB in 256 KB events cost 0.4 s of CPU against 0.06 s in 64 KB ones (issue 15).
 */
export const COALESCE_BYTES = 64 * 1024;
/** Staged data events are written once this many bytes wait... */
export const COMMIT_BYTES = 1024 * 1024;
/** ...or this long after the first of them, whichever comes first. */
export const COMMIT_DELAY_MS = 5;

/** What a data event records (ssh.input and ssh.output share it). */
interface DataPayload {
  channel: number;
  stream?: 'stdout' | 'stderr';
  data: string;
  encoding: 'utf8' | 'base64';
  bytes: number;
  masked?: MaskNote[];
}

interface Pending {
  type: DataEventName;
  channel: number;
  stream: 'stdout' | 'stderr' | undefined;
  chunks: Buffer[];
  size: number;
  /** When the first byte arrived: the event's time. */
  t: number;
  counts: MaskCounts | undefined;
}

/**
 * SSH data (output, and exec or subsystem input) on its way to a session's
 * recording, always in full. Data is not a command, so it need not reach the
 * disk one SSH packet at a time: consecutive chunks of one channel and stream
 * become one event (up to COALESCE_BYTES), and data events are written in
 * batches (COMMIT_BYTES or COMMIT_DELAY_MS). Commands and every other event go
 * through the session's `record`, which first stages what is pending here, so
 * the file keeps the order of the wire; input is flushed before it is forwarded
 * (see InputRelay). Memory is bounded by COALESCE_BYTES + COMMIT_BYTES; output
 * forwarded in the last COMMIT_DELAY_MS is what a gateway crash could lose.
 *
 * Payloads are recorded as `{channel, stream?, data, encoding, bytes, masked?: [{rule, count}]}`
 * (see bytes.ts): valid UTF-8 as text, anything else as base64 built without
 * a detour through a JSON-escaped string.
 */
/** Counts by rule as the recording's masking notes (one shape in both protocols): [{rule, count}], no column in SSH text. */
export function maskNotesOf(counts: MaskCounts): MaskNote[] {
  return Object.entries(counts).map(([rule, count]) => ({ rule, count }));
}

/**
 * Where the chunks of one event are joined: one buffer for the whole process, reused. The encoder turns the payload
 * into text (base64 or UTF-8) before `stage` returns and keeps no reference to it, and stage runs on one thread, so
 * one buffer serves every session; a fresh Buffer per event cost an allocation outside the heap and a copy
 * the garbage collector then had to account for (docs/BENCHMARKS.md, issue 15).
 */
let joinBuffer: Buffer | undefined;

function joined(chunks: Buffer[], size: number): Buffer {
  if (chunks.length === 1) return chunks[0]!;
  if (size > COALESCE_BYTES) return Buffer.concat(chunks, size);
  const into = (joinBuffer ??= Buffer.allocUnsafeSlow(COALESCE_BYTES));
  let at = 0;
  for (const chunk of chunks) at += chunk.copy(into, at);
  return into.subarray(0, size);
}

export class DataRecorder {
  private pending: Pending | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly writer: RecordingWriter, private readonly clock: Clock, private readonly failClosed: (err: unknown) => void) {}

  push(type: DataEventName, channel: number, stream: Pending['stream'], chunk: Buffer, counts?: MaskCounts): void {
    if (chunk.length === 0) return;
    try {
      const p = this.pending;
      if (p && (p.type !== type || p.channel !== channel || p.stream !== stream || p.size + chunk.length > COALESCE_BYTES)) this.stage();
      const q = (this.pending ??= { type, channel, stream, chunks: [], size: 0, t: this.clock.nowMicros(), counts: undefined });
      q.chunks.push(chunk);
      q.size += chunk.length;
      if (counts) addCounts((q.counts ??= {}), counts);
      if (q.size >= COALESCE_BYTES) this.stage();
      if (this.writer.stagedBytes >= COMMIT_BYTES) this.flush();
      else this.timer ??= setTimeout(this.onTimer, COMMIT_DELAY_MS);
    } catch (err) {
      this.failClosed(err);
    }
  }

  /** Stages what is pending as one event; nothing reaches the disk before the next commit. Throws if the recording failed. */
  stage(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    const payload = joined(p.chunks, p.size); // valid until the next stage: encoded below, not kept
    // One object per event, fields in the recorded order (an event per echoed key on a pty: no spreads of partial objects).
    // One shape for masking notes in both protocols: [{rule, count}] (no column in SSH text).
    const masked = p.counts ? maskNotesOf(p.counts) : undefined;
    if (isUtf8(payload)) {
      const data: DataPayload = p.stream
        ? { channel: p.channel, stream: p.stream, data: payload.toString('utf8'), encoding: 'utf8', bytes: p.size }
        : { channel: p.channel, data: payload.toString('utf8'), encoding: 'utf8', bytes: p.size };
      if (masked) data.masked = masked;
      this.writer.append(p.type, data, p.t);
    } else {
      const data: Omit<DataPayload, 'data'> = p.stream
        ? { channel: p.channel, stream: p.stream, encoding: 'base64', bytes: p.size }
        : { channel: p.channel, encoding: 'base64', bytes: p.size };
      if (masked) data.masked = masked;
      this.writer.appendBase64(p.type, data, 'data', payload, p.t);
    }
  }

  /**
   * The commit timer. A flush before it (input is flushed every turn, before it is forwarded) leaves it armed: it
   * then finds nothing or little to write, which costs less than a Timeout made and cancelled per turn.
   */
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.flush();
  };

  /** Stages and writes every data event held; a failure fails the session closed. */
  flush(): void {
    try {
      this.stage();
      this.writer.commit()?.catch((err: unknown) => this.failClosed(err));
    } catch (err) {
      this.failClosed(err);
    }
  }

  /** At the end of the session: stages what is pending (the writer's close writes it), and stops the timer. */
  close(): void {
    this.clearTimer();
    try {
      this.stage();
    } catch {
      // the recording has failed; the session reports it
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
