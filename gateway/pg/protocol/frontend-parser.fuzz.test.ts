/**
 * Seeded fuzz of FrontendParser. Reproduce a failure with FUZZ_SEED=<printed seed>.
 * Properties checked on every case, fed whole and cut at random positions:
 * parse() never throws; at most one violation is emitted and nothing after it;
 * the emitted frames' raw bytes are exactly a prefix of the input (framing never
 * skips or invents bytes); the bytes held never exceed the largest frame the
 * caps allow; and the output does not depend on how the input was cut.
 */
import { isDeepStrictEqual } from 'node:util';
import { serialize } from 'pg-protocol';
import { describe, expect, it } from 'vitest';
import { FrontendParser, type FrontendParserOptions } from './frontend-parser.js';
import type { FrontendMessage } from './messages.js';
import { frontendBuffers, splitAt } from './testing/frontend-buffers.js';

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : 0x9e3779b9;

/** mulberry32: small, fast, and the same sequence on every platform. */
function rng(seed: number): { next: () => number; int: (n: number) => number } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n) };
}

const r = rng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[r.int(xs.length)] as T;
const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => r.int(256)));
const text = (max: number): string => Array.from({ length: r.int(max + 1) }, () => pick(['a', 'Z', '1', ' ', ';', 'é', '€', '\n'])).join('');

const SMALL_CAPS: FrontendParserOptions = { maxMessageSize: 2048, maxSmallMessageSize: 256, maxAuthMessageSize: 1024, maxStartupMessageSize: 512 };

const taggedFrames: (() => Buffer)[] = [
  () => serialize.query(text(40)),
  () => serialize.parse({ name: text(6), text: text(40), types: Array.from({ length: r.int(4) }, () => r.int(2 ** 32)) }),
  () => serialize.bind({ portal: text(4), statement: text(4), binary: r.next() < 0.5, values: Array.from({ length: r.int(5) }, () => pick([null, text(10), bytes(r.int(8))])) }),
  () => serialize.execute({ portal: text(4), rows: r.int(1000) }),
  () => serialize.describe({ type: pick(['S', 'P'] as const), name: text(5) }),
  () => serialize.close({ type: pick(['S', 'P'] as const), name: text(5) }),
  () => serialize.sync(),
  () => serialize.flush(),
  () => serialize.end(),
  () => serialize.copyData(bytes(r.int(64))),
  () => serialize.copyDone(),
  () => serialize.copyFail(text(20)),
  () => serialize.password(text(12)),
  () => serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', text(30)),
  () => serialize.sendSCRAMClientFinalMessage(text(30)),
  () => frontendBuffers.functionCall(r.int(5000), [r.int(2)], [bytes(4), null], r.int(2)),
];

const startupFrames: (() => Buffer)[] = [
  () => serialize.startup({ user: text(8) || 'u', database: text(8) }),
  () => frontendBuffers.startup([['user', text(8)], ['options', text(20)]], 196610),
  () => serialize.cancel(r.int(2 ** 31), r.int(2 ** 31)),
  () => frontendBuffers.cancelRequest(r.int(2 ** 31), bytes(4 + r.int(253))),
  () => serialize.requestSsl(),
  () => frontendBuffers.gssEncRequest(),
];

/** A valid sequence and where each frame starts (for length-field corruption). */
function validStream(tagged: boolean): { buf: Buffer; starts: number[]; count: number } {
  const frames: Buffer[] = [];
  let more = 1 + r.int(10);
  if (!tagged) {
    // Mostly a StartupMessage (tagged frames may follow it), sometimes any startup-phase packet alone.
    const first = r.next() < 0.8 ? (startupFrames[r.int(2)] as () => Buffer)() : pick(startupFrames)();
    frames.push(first);
    if (first.readInt32BE(4) >>> 16 !== 3) more = 0;
  }
  for (let i = 0; i < more; i++) frames.push(pick(taggedFrames)());
  const starts: number[] = [];
  let at = 0;
  for (const f of frames) {
    starts.push(at);
    at += f.length;
  }
  return { buf: Buffer.concat(frames), starts, count: frames.length };
}

function mutate(buf: Buffer, starts: number[], tagged: boolean): Buffer {
  let b = Buffer.from(buf);
  for (let n = 1 + r.int(3); n > 0; n--) {
    const at = r.int(b.length + 1);
    switch (r.int(6)) {
      case 0: // flip bits of one byte
        if (b.length > 0) b[at % b.length] = (b[at % b.length] as number) ^ (1 + r.int(255));
        break;
      case 1: // truncate
        b = b.subarray(0, at);
        break;
      case 2: // insert junk
        b = Buffer.concat([b.subarray(0, at), bytes(1 + r.int(8)), b.subarray(at)]);
        break;
      case 3: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + r.int(8))]);
        break;
      case 4: // duplicate a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + r.int(16)), b.subarray(at)]);
        break;
      default: {
        // corrupt a frame's length field with a boundary or random value
        // In a startup-phase stream only the first frame is untagged.
        const idx = r.int(starts.length);
        const start = (starts[idx] as number) + (tagged || idx > 0 ? 1 : 0);
        const old = start + 4 <= b.length ? b.readInt32BE(start) : 8;
        const v = pick([0, 1, 3, 4, 5, 7, 8, old - 1, old + 1, 256, 257, 512, 513, 2048, 2049, 0x7fffffff, -1, -0x80000000, r.int(2 ** 32) | 0]);
        if (start + 4 <= b.length) b.writeInt32BE(v | 0, start);
      }
    }
  }
  return b;
}

interface Run {
  messages: FrontendMessage[];
  maxBuffered: number;
}

const STARTUP_NAMES = new Set(['sslRequest', 'gssEncRequest', 'cancelRequest', 'startupMessage']);

/** Plain throws rather than expect(): this runs ~100k times and must stay fast. */
function ensure(ok: boolean, what: string): void {
  if (!ok) throw new Error(`seed ${SEED} case ${stats.cases}: ${what}`);
}

function run(input: Buffer, chunks: Buffer[], tagged: boolean, opts: FrontendParserOptions): Run {
  const parser = new FrontendParser(opts);
  if (tagged) parser.startupDone();
  const messages: FrontendMessage[] = [];
  let error: FrontendMessage | undefined;
  const onMessage = (m: FrontendMessage): void => {
    ensure(error === undefined, `message ${m.name} emitted after a violation`);
    messages.push(m);
    if (m.name === 'error') error = m;
    if (m.name === 'startupMessage') parser.startupDone();
  };
  const cap = Math.max((opts.maxMessageSize ?? 2 ** 30) + 1, opts.maxStartupMessageSize ?? 10_000);
  let fed = 0;
  let maxBuffered = 0;
  for (const c of chunks) {
    parser.parse(c, onMessage); // any throw fails the test: nothing may escape parse()
    fed += c.length;
    ensure(parser.bufferedBytes <= Math.min(fed, cap), `holds ${parser.bufferedBytes} bytes of ${fed} fed, cap ${cap}`);
    maxBuffered = Math.max(maxBuffered, parser.bufferedBytes);
  }
  const frames = messages.filter((m) => m.name !== 'error');
  for (const m of frames) {
    ensure(m.raw.length === (STARTUP_NAMES.has(m.name) ? m.length : m.length + 1), `${m.name} raw/length mismatch`);
  }
  const raws = Buffer.concat(frames.map((m) => m.raw));
  ensure(raws.equals(input.subarray(0, raws.length)), 'emitted frames are not a prefix of the input');
  if (error) {
    ensure(error.name === 'error' && error.code === 'PROTOCOL_VIOLATION' && error.sqlState === '08P01', 'bad violation shape');
    ensure(parser.failure === error, 'failure is not the emitted violation');
  }
  return { messages, maxBuffered };
}

const randomCuts = (len: number): number[] =>
  Array.from({ length: 1 + r.int(6) }, () => r.int(len + 1)).sort((a, b) => a - b);

const stats = { cases: 0, splits: 0, messages: 0, errors: 0, unmutatedOk: 0, maxBuffered: 0 };

/** One case: whole, then cut at random positions (and byte by byte now and then); outputs must agree. */
function check(input: Buffer, tagged: boolean, opts: FrontendParserOptions): Run {
  stats.cases++;
  const whole = run(input, [input], tagged, opts);
  const cutsList = [randomCuts(input.length), randomCuts(input.length)];
  if (stats.cases % 16 === 0) cutsList.push(Array.from({ length: input.length }, (_, i) => i));
  // Bytes sent in the same chunk as an SSLRequest are refused on purpose, so such outputs may differ by cut.
  const chunkSensitive = whole.messages.some((m) => m.name === 'sslRequest' || m.name === 'gssEncRequest');
  for (const cuts of cutsList) {
    stats.splits++;
    const split = run(input, splitAt(input, cuts), tagged, opts);
    if (!chunkSensitive && !isDeepStrictEqual(split.messages, whole.messages)) {
      throw new Error(`seed ${SEED} case ${stats.cases}: output depends on cuts ${cuts.join(',')} for ${input.toString('hex')}`);
    }
    stats.maxBuffered = Math.max(stats.maxBuffered, split.maxBuffered);
  }
  stats.messages += whole.messages.length;
  if (whole.messages.some((m) => m.name === 'error')) stats.errors++;
  return whole;
}

describe('FrontendParser fuzz', () => {
  it('survives random bytes and mutated valid streams, fed whole and cut anywhere', () => {
    console.log(`FrontendParser fuzz seed: ${SEED} (set FUZZ_SEED to replay)`);
    const started = Date.now();

    for (let i = 0; i < 3000; i++) {
      const tagged = i % 2 === 0;
      let input = bytes(r.int(96));
      // Half the time start like a real frame so the parser gets past the header.
      if (tagged && r.next() < 0.5) input = Buffer.concat([Buffer.from(pick('QPBDECHSXdcfpF'.split(''))), input]);
      if (!tagged && r.next() < 0.5 && input.length >= 4) input.writeInt32BE(input.length, 0);
      check(input, tagged, i % 3 === 0 ? {} : SMALL_CAPS);
    }

    for (let i = 0; i < 3000; i++) {
      const tagged = i % 3 !== 0;
      const { buf, starts } = validStream(tagged);
      check(mutate(buf, starts, tagged), tagged, i % 4 === 0 ? {} : SMALL_CAPS);
    }

    for (let i = 0; i < 800; i++) {
      const tagged = i % 2 === 0;
      const { buf, count } = validStream(tagged);
      const { messages } = check(buf, tagged, SMALL_CAPS);
      expect(messages.map((m) => m.name)).not.toContain('error');
      expect(messages).toHaveLength(count);
      stats.unmutatedOk++;
    }

    const elapsed = Date.now() - started;
    console.log(`FrontendParser fuzz: ${JSON.stringify(stats)} in ${elapsed} ms`);
    expect(stats.cases).toBe(6800);
    expect(stats.splits).toBeGreaterThanOrEqual(13_600);
    expect(stats.unmutatedOk).toBe(800);
    // Both paths were really exercised: many violations, many decoded frames.
    expect(stats.errors).toBeGreaterThan(2000);
    expect(stats.messages).toBeGreaterThan(8000);
  }, 60_000);
});
