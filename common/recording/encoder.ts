import { hash } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Signer } from '../keys.js';
import type { EventMap, EventName } from './events.js';
import {
  EventType, RECORDING_FORMAT, RECORDING_VERSION, headerSignedText, recoverySignedText, signedText, type RecordingHeader,
} from './format.js';

/** SHA-256 of a line as UTF-8, in hex (one-shot: no Hash object per line). */
export function lineHash(line: string | Buffer): string {
  return hash('sha256', line, 'hex');
}

/** One event line, without its newline, in the fixed field order every writer uses. */
export function encodeEvent(seq: number, t: number, type: string, data: Record<string, unknown>, prev: string): string {
  return encodeEventJson(seq, t, type, JSON.stringify(data), prev);
}

/** The same line with `data` already serialized (a JSON object text), for the hot events. */
function encodeEventJson(seq: number, t: number, type: string, dataJson: string, prev: string): string {
  return `{"seq":${seq},"t":${microsText(t)},"type":${typeJson(type)},"data":${dataJson},"prev":"${prev}"}`;
}

/** "000" … "999". */
const DIGITS3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
let cachedSecond = -1;
let cachedSecondText = '';

/**
 * `String(t)` for a time in microseconds. A time since the epoch is beyond V8's small
 * integers, and its generic number-to-text is the slow double conversion; the whole
 * seconds change once a second, so they are converted once and the microseconds
 * appended as two groups of three digits.
 */
function microsText(t: number): string {
  if (!(t >= 1_000_000 && t <= Number.MAX_SAFE_INTEGER && Number.isInteger(t))) return String(t);
  const second = Math.floor(t / 1_000_000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedSecondText = String(second);
  }
  const micros = t - second * 1_000_000;
  const millis = Math.floor(micros / 1000);
  return cachedSecondText + DIGITS3[millis]! + DIGITS3[micros - millis * 1000]!;
}

/** Event types are a small fixed set: their JSON text is built once each. */
const typeJsonCache = new Map<string, string>();
function typeJson(type: string): string {
  let json = typeJsonCache.get(type);
  if (json === undefined) {
    json = JSON.stringify(type);
    if (typeJsonCache.size < 256) typeJsonCache.set(type, json);
  }
  return json;
}

/** The header fields in the order every writer uses; `sig` is appended last. */
export function unsignedHeaderLine(h: Omit<RecordingHeader, 'sig'>): string {
  const { format, version, session, protocol, createdAt, gateway } = h;
  return JSON.stringify({ format, version, session, protocol, createdAt, gateway: { keyId: gateway.keyId, publicKey: gateway.publicKey } });
}

/** A v2 header line (without newline): the unsigned header with `sig` over headerSignedText. */
export function signedHeaderLine(session: string, protocol: RecordingHeader['protocol'], createdAt: number, signer: Signer): string {
  const unsigned = unsignedHeaderLine({
    format: RECORDING_FORMAT, version: RECORDING_VERSION, session, protocol, createdAt,
    gateway: { keyId: signer.keyId, publicKey: signer.publicKey },
  });
  const sig = signer.sign(headerSignedText(unsigned)).toString('base64');
  return `${unsigned.slice(0, -1)},"sig":"${sig}"}`;
}

/**
 * The two lines that close a session the gateway lost in a crash, chained after
 * `prev` (the last complete line): a session.end naming the crash, then a seal
 * whose signature states that the events through `afterSeq` are all there were.
 */
export function recoveryLines(
  signer: Signer, session: string, afterSeq: number, prev: string, t: number, detail: Record<string, unknown>,
): { lines: string; lastSeq: number; lastHash: string } {
  const end = encodeEvent(afterSeq + 1, t, EventType.SessionEnd, { reason: `recovered after crash at seq ${afterSeq}`, cause: 'crash-recovery', afterSeq, ...detail }, prev);
  const endHash = lineHash(end);
  const seq = afterSeq + 2;
  const sig = signer.sign(recoverySignedText(session, seq, t, endHash, afterSeq)).toString('base64');
  const seal = encodeEvent(seq, t, EventType.Seal, { keyId: signer.keyId, sig, events: seq - 1, recoveredAfterSeq: afterSeq }, endHash);
  return { lines: `${end}\n${seal}\n`, lastSeq: seq, lastHash: lineHash(seal) };
}

export interface EncoderOptions {
  session: string;
  protocol: RecordingHeader['protocol'];
  signer: Signer;
  clock: Clock;
}

/**
 * Produces the lines of one recording, in order. Pure: it does no I/O, so the
 * writer decides when bytes reach the disk. Each returned line ends with '\n'.
 */
export class RecordingEncoder {
  private seq = 0;
  private prev: string;
  private sealed = false;
  readonly header: string;

  constructor(private readonly opts: EncoderOptions) {
    const line = signedHeaderLine(opts.session, opts.protocol, opts.clock.nowMicros(), opts.signer);
    this.prev = lineHash(line);
    this.header = `${line}\n`;
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** SHA-256 of the last line produced (the chain head a journal records as a session's final hash). */
  get lastHash(): string {
    return this.prev;
  }

  get isSealed(): boolean {
    return this.sealed;
  }

  event<K extends EventName>(type: K, data: EventMap[K], t = this.opts.clock.nowMicros()): string {
    return this.append(type, JSON.stringify(data), t);
  }

  /**
   * An event whose data the caller serialized: `dataJson` must be exactly what
   * JSON.stringify would give for the data object (a hot event's specialised
   * serializer); the line is the same as `event` would write.
   */
  eventJson<K extends EventName>(type: K, dataJson: string, t = this.opts.clock.nowMicros()): string {
    return this.append(type, dataJson, t);
  }

  /**
   * An event carrying a byte payload as base64 in `data[field]` (written last),
   * assembled and hashed as one Buffer: the payload never becomes part of a
   * JSON-escaped string, and the line is not re-encoded for the disk. Reads back
   * exactly like `event(type, { ...data, [field]: payload.toString('base64') })`.
   * `t` may name an earlier time (when the first byte arrived), never one before
   * the previous event's.
   */
  eventWithBase64<K extends EventName, F extends keyof EventMap[K] & string>(
    type: K, data: Omit<EventMap[K], F>, field: F, payload: Buffer, t = this.opts.clock.nowMicros(),
  ): Buffer {
    if (this.sealed) throw new Error(`recording ${this.opts.session} is sealed`);
    const seq = ++this.seq;
    const meta = JSON.stringify(data);
    const open = `${meta.length > 2 ? `${meta.slice(0, -1)},` : '{'}${JSON.stringify(field)}:"`;
    const head = `{"seq":${seq},"t":${t},"type":${JSON.stringify(type)},"data":${open}`;
    const tail = `"},"prev":"${this.prev}"}\n`;
    const base64 = payload.toString('base64');
    const headBytes = Buffer.byteLength(head);
    const line = Buffer.allocUnsafe(headBytes + base64.length + tail.length);
    line.write(head, 0, 'utf8');
    line.write(base64, headBytes, 'latin1');
    line.write(tail, headBytes + base64.length, 'latin1');
    this.prev = lineHash(line.subarray(0, line.length - 1));
    return line;
  }

  /** A signed statement that every event up to now is as written. */
  checkpoint(): string {
    return this.signed('checkpoint', EventType.Checkpoint);
  }

  /** The last line: signed; nothing may follow it. */
  seal(): string {
    const line = this.signed('seal', EventType.Seal);
    this.sealed = true;
    return line;
  }

  private signed(kind: 'checkpoint' | 'seal', type: string): string {
    const seq = this.seq + 1;
    const t = this.opts.clock.nowMicros();
    const sig = this.opts.signer.sign(signedText(kind, this.opts.session, seq, t, this.prev)).toString('base64');
    return this.append(type, JSON.stringify({ keyId: this.opts.signer.keyId, sig, events: seq - 1 }), t);
  }

  private append(type: string, dataJson: string, t: number): string {
    if (this.sealed) throw new Error(`recording ${this.opts.session} is sealed`);
    const seq = ++this.seq;
    // Field order is fixed by construction; readers hash the bytes, never re-serialize.
    const line = encodeEventJson(seq, t, type, dataJson, this.prev);
    this.prev = lineHash(line);
    return `${line}\n`;
  }
}
