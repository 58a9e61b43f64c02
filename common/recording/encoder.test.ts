import { describe, expect, it } from 'vitest';
import { fixedClock } from '../clock.js';
import { generateSigner, publicKeyFromPem, verifySignature } from '../keys.js';
import { RecordingEncoder, encodeEvent, lineHash } from './encoder.js';
import { EventType, RecordingEvent, RecordingHeader, signedText } from './format.js';

const signer = generateSigner();
const make = () => new RecordingEncoder({ session: 's-1', protocol: 'ssh', signer, clock: fixedClock(1000, 10) });

describe('RecordingEncoder', () => {
  it('writes a valid header naming the signing key', () => {
    const enc = make();
    expect(enc.header.endsWith('\n')).toBe(true);
    const header = RecordingHeader.parse(JSON.parse(enc.header));
    expect(header).toMatchObject({ format: 'hopscope.recording', version: 2, session: 's-1', protocol: 'ssh', createdAt: 1000 });
    expect(header.sig).toMatch(/^[A-Za-z0-9+/]{86}==$/);
    expect(header.gateway).toEqual({ keyId: signer.keyId, publicKey: signer.publicKey });
  });

  it('chains each event to the exact bytes of the line before, in a fixed field order', () => {
    const enc = make();
    // The encoder writes any data it is given, byte for byte (`as never`: shapes beside the point here).
    const a = enc.event(EventType.SessionStart, { identity: 'alice' } as never);
    const b = enc.event('ssh.exec', { command: 'ls "x"\n' } as never);
    expect(a).toBe(`{"seq":1,"t":1010,"type":"session.start","data":{"identity":"alice"},"prev":"${lineHash(enc.header.slice(0, -1))}"}\n`);
    const eb = RecordingEvent.parse(JSON.parse(b));
    expect(eb).toMatchObject({ seq: 2, t: 1020, prev: lineHash(a.slice(0, -1)), data: { command: 'ls "x"\n' } });
    expect(b.split('\n')).toHaveLength(2); // one line: newlines in data are escaped
    expect(enc.lastSeq).toBe(2);
  });

  it('writes a base64 payload event as one Buffer that reads and chains like any other line', () => {
    const enc = make();
    const payload = Buffer.from([0, 0xff, 0x0a, 0x22, 0x5c, 0xc3, 0x28, 7]);
    const line = enc.eventWithBase64('ssh.output', { channel: 0, stream: 'stdout', encoding: 'base64', bytes: 8 }, 'data', payload, 1005);
    const text = line.toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.split('\n')).toHaveLength(2);
    const ev = RecordingEvent.parse(JSON.parse(text));
    expect(ev).toMatchObject({ seq: 1, t: 1005, type: 'ssh.output', prev: lineHash(enc.header.slice(0, -1)) });
    expect(ev.data).toEqual({ channel: 0, stream: 'stdout', encoding: 'base64', bytes: 8, data: payload.toString('base64') });
    expect(Buffer.from(ev.data.data as string, 'base64')).toEqual(payload);
    const next = RecordingEvent.parse(JSON.parse(enc.event('ssh.exit', {} as never)));
    expect(next.prev).toBe(lineHash(text.slice(0, -1)));
    const empty = enc.eventWithBase64('ssh.input', {} as never, 'data', Buffer.alloc(0)).toString();
    expect(JSON.parse(empty).data).toEqual({ data: '' });
  });

  it('signs checkpoints and the seal over session, seq, time and chain head', () => {
    const enc = make();
    const start = enc.event(EventType.SessionStart, {} as never);
    const cp = RecordingEvent.parse(JSON.parse(enc.checkpoint()));
    expect(cp).toMatchObject({ seq: 2, type: 'checkpoint', prev: lineHash(start.slice(0, -1)) });
    expect(cp.data).toMatchObject({ keyId: signer.keyId, events: 1 });
    const key = publicKeyFromPem(signer.publicKey);
    const sig = Buffer.from(cp.data.sig as string, 'base64');
    expect(verifySignature(key, signedText('checkpoint', 's-1', 2, cp.t, cp.prev), sig)).toBe(true);
    expect(verifySignature(key, signedText('checkpoint', 's-1', 2, cp.t + 1, cp.prev), sig)).toBe(false);
    expect(verifySignature(key, signedText('seal', 's-1', 2, cp.t, cp.prev), sig)).toBe(false);
    expect(verifySignature(key, signedText('checkpoint', 's-2', 2, cp.t, cp.prev), sig)).toBe(false);
  });

  it('refuses any event after the seal', () => {
    const enc = make();
    enc.event(EventType.SessionEnd, {} as never);
    const seal = RecordingEvent.parse(JSON.parse(enc.seal()));
    expect(seal).toMatchObject({ seq: 2, type: 'seal', data: { events: 1 } });
    expect(enc.isSealed).toBe(true);
    expect(() => enc.event('pg.query', {})).toThrow('recording s-1 is sealed');
    expect(() => enc.checkpoint()).toThrow('sealed');
    expect(() => enc.seal()).toThrow('sealed');
  });

  it('writes any time as String(t) would, the microseconds since the epoch too', () => {
    const times = [0, 7, 999_999, 1_000_000, 1_000_001, 1_795_660_499_000_000, 1_795_660_499_000_999, 1_795_660_499_131_445,
      1_795_660_499_999_999, 1_795_660_500_000_000, Number.MAX_SAFE_INTEGER, 1_500_000.5, -5, 1e21];
    for (let i = 0; i < 1000; i++) times.push(1_795_660_000_000_000 + Math.floor(Math.random() * 3_000_000));
    for (const t of times) expect(encodeEvent(1, t, 'x', {}, 'p')).toBe(`{"seq":1,"t":${String(t)},"type":"x","data":{},"prev":"p"}`);
  });
});
