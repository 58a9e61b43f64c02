import { isDeepStrictEqual } from 'node:util';
import { serialize } from 'pg-protocol';
import { describe, expect, it } from 'vitest';
import { readPassword, readSaslInitial } from './frontend-decoder.js';
import { FrontendParser } from './frontend-parser.js';
import { serializeCancelRequest, serializeFrontendStartup } from './frontend-serializer.js';
import type { FrontendMessage } from './messages.js';
import { byteByByte, frontendBuffers, parseChunks, splitAt } from './testing/frontend-buffers.js';

interface Case {
  what: string;
  buf: Buffer;
  tagged: boolean;
  /** Everything but `raw`, which must always equal `buf`. */
  expected: Record<string, unknown>;
}

const params = (o: Record<string, string>): Record<string, string> => Object.assign(Object.create(null), o);
const longKey = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7));

const cases: Case[] = [
  {
    what: 'StartupMessage 3.0 (pg-protocol)',
    buf: serialize.startup({ user: 'alice', database: 'shop' }),
    tagged: false,
    expected: {
      name: 'startupMessage', protocolVersion: 196608, majorVersion: 3, minorVersion: 0,
      parameters: params({ user: 'alice', database: 'shop', client_encoding: 'UTF8' }),
    },
  },
  {
    what: 'StartupMessage 3.2 with a duplicate key (builder)',
    buf: frontendBuffers.startup([['user', 'bob'], ['application_name', 'ä€'], ['user', 'carol']], 196610),
    tagged: false,
    expected: {
      name: 'startupMessage', protocolVersion: 196610, majorVersion: 3, minorVersion: 2,
      parameters: params({ user: 'carol', application_name: 'ä€' }),
    },
  },
  { what: 'SSLRequest (pg-protocol)', buf: serialize.requestSsl(), tagged: false, expected: { name: 'sslRequest' } },
  { what: 'GSSENCRequest (builder)', buf: frontendBuffers.gssEncRequest(), tagged: false, expected: { name: 'gssEncRequest' } },
  {
    what: 'CancelRequest 4-byte key (pg-protocol)',
    buf: serialize.cancel(4242, 0x01020304),
    tagged: false,
    expected: { name: 'cancelRequest', processID: 4242, secretKey: Buffer.from([1, 2, 3, 4]) },
  },
  {
    what: 'CancelRequest 32-byte key (builder)',
    buf: frontendBuffers.cancelRequest(77, longKey),
    tagged: false,
    expected: { name: 'cancelRequest', processID: 77, secretKey: longKey },
  },
  { what: 'Query', buf: serialize.query('select 1; -- ü'), tagged: true, expected: { name: 'query', sql: 'select 1; -- ü' } },
  { what: 'Query empty', buf: serialize.query(''), tagged: true, expected: { name: 'query', sql: '' } },
  {
    what: 'Parse',
    buf: serialize.parse({ name: 's1', text: 'select $1, $2', types: [23, 3000000000] }),
    tagged: true,
    expected: { name: 'parse', statement: 's1', sql: 'select $1, $2', paramTypes: [23, 3000000000] },
  },
  {
    what: 'Parse unnamed, no types',
    buf: serialize.parse({ text: 'select 1' }),
    tagged: true,
    expected: { name: 'parse', statement: '', sql: 'select 1', paramTypes: [] },
  },
  {
    what: 'Bind',
    buf: serialize.bind({ portal: 'p1', statement: 's1', values: ['a', null, Buffer.from([1, 0, 2])], binary: true }),
    tagged: true,
    expected: {
      name: 'bind', portal: 'p1', statement: 's1', paramFormats: [0, 0, 1],
      params: [Buffer.from('a'), null, Buffer.from([1, 0, 2])], resultFormats: [1],
    },
  },
  {
    what: 'Bind empty',
    buf: serialize.bind(),
    tagged: true,
    expected: { name: 'bind', portal: '', statement: '', paramFormats: [], params: [], resultFormats: [0] },
  },
  { what: 'Execute unnamed', buf: serialize.execute(), tagged: true, expected: { name: 'execute', portal: '', maxRows: 0 } },
  {
    what: 'Execute with limit',
    buf: serialize.execute({ portal: 'p1', rows: 100 }),
    tagged: true,
    expected: { name: 'execute', portal: 'p1', maxRows: 100 },
  },
  {
    what: 'Describe statement',
    buf: serialize.describe({ type: 'S', name: 's1' }),
    tagged: true,
    expected: { name: 'describe', kind: 'S', objectName: 's1' },
  },
  { what: 'Describe portal', buf: serialize.describe({ type: 'P' }), tagged: true, expected: { name: 'describe', kind: 'P', objectName: '' } },
  {
    what: 'Close portal',
    buf: serialize.close({ type: 'P', name: 'p1' }),
    tagged: true,
    expected: { name: 'close', kind: 'P', objectName: 'p1' },
  },
  { what: 'Close statement', buf: serialize.close({ type: 'S' }), tagged: true, expected: { name: 'close', kind: 'S', objectName: '' } },
  { what: 'Sync', buf: serialize.sync(), tagged: true, expected: { name: 'sync' } },
  { what: 'Flush', buf: serialize.flush(), tagged: true, expected: { name: 'flush' } },
  { what: 'Terminate', buf: serialize.end(), tagged: true, expected: { name: 'terminate' } },
  {
    what: 'CopyData',
    buf: serialize.copyData(Buffer.from('1\tx\n2\ty\n\0\xff')),
    tagged: true,
    expected: { name: 'copyData', data: Buffer.from('1\tx\n2\ty\n\0\xff') },
  },
  { what: 'CopyData empty', buf: serialize.copyData(Buffer.alloc(0)), tagged: true, expected: { name: 'copyData', data: Buffer.alloc(0) } },
  { what: 'CopyDone', buf: serialize.copyDone(), tagged: true, expected: { name: 'copyDone' } },
  { what: 'CopyFail', buf: serialize.copyFail('gave up'), tagged: true, expected: { name: 'copyFail', message: 'gave up' } },
  {
    what: 'PasswordMessage',
    buf: serialize.password('s3cret'),
    tagged: true,
    expected: { name: 'authResponse', body: Buffer.from('s3cret\0') },
  },
  {
    what: 'SASLInitialResponse',
    buf: serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=*,r=abc'),
    tagged: true,
    expected: { name: 'authResponse', body: Buffer.from('SCRAM-SHA-256\0\0\0\0\x0cn,,n=*,r=abc', 'latin1') },
  },
  {
    what: 'SASLResponse',
    buf: serialize.sendSCRAMClientFinalMessage('c=biws,r=abc,p=xyz'),
    tagged: true,
    expected: { name: 'authResponse', body: Buffer.from('c=biws,r=abc,p=xyz') },
  },
  {
    what: 'GSSResponse (builder)',
    buf: frontendBuffers.gssResponse(Buffer.from([0x60, 0, 1, 2])),
    tagged: true,
    expected: { name: 'authResponse', body: Buffer.from([0x60, 0, 1, 2]) },
  },
  {
    what: 'FunctionCall (builder)',
    buf: frontendBuffers.functionCall(1598, [1], [Buffer.from([0, 0, 0, 5]), null], 1),
    tagged: true,
    expected: { name: 'functionCall', body: frontendBuffers.functionCall(1598, [1], [Buffer.from([0, 0, 0, 5]), null], 1).subarray(5) },
  },
];

function expectMessage(msg: FrontendMessage | undefined, c: Case): void {
  expect(msg).toEqual({ ...c.expected, length: c.tagged ? c.buf.length - 1 : c.buf.length, raw: c.buf });
}

describe('FrontendParser round trip', () => {
  it.each(cases)('$what: whole, byte by byte, and split at every position', (c) => {
    const splits = [[c.buf], byteByByte(c.buf)];
    for (let i = 0; i <= c.buf.length; i++) splits.push(splitAt(c.buf, [i]));
    for (const chunks of splits) {
      const { messages, parser } = parseChunks(chunks, { tagged: c.tagged });
      expect(messages).toHaveLength(1);
      expectMessage(messages[0], c);
      expect(parser.bufferedBytes).toBe(0);
    }
  });

  const startup = cases[0] as Case;
  const stream = [startup, ...cases.filter((c) => c.tagged)];
  const all = Buffer.concat(stream.map((c) => c.buf));

  it('decodes a StartupMessage and every tagged kind concatenated, however the stream is cut', () => {
    const whole = parseChunks([all]);
    expect(whole.messages.map((m) => m.name)).toEqual(stream.map((c) => c.expected.name));
    stream.forEach((c, i) => expectMessage(whole.messages[i], c));
    expect(whole.parser.inStartupPhase).toBe(false);
    expect(whole.parser.failure).toBeNull();
    const check = (chunks: Buffer[]): void => {
      const { messages, parser } = parseChunks(chunks);
      // isDeepStrictEqual first because it is fast; expect() only to show a diff.
      if (!isDeepStrictEqual(messages, whole.messages)) expect(messages).toEqual(whole.messages);
      expect(parser.bufferedBytes).toBe(0);
    };
    check(byteByByte(all));
    for (let i = 0; i <= all.length; i++) check(splitAt(all, [i]));
    for (let i = 0; i + 7 <= all.length; i += 3) check(splitAt(all, [i, i + 1, i + 7]));
  });

  it('hands out subarrays of the chunk for frames that arrive whole (no copy)', () => {
    const { messages } = parseChunks([all]);
    const bind = messages.find((m) => m.name === 'bind');
    expect(bind?.name).toBe('bind');
    if (bind?.name !== 'bind') return;
    expect(bind.raw.buffer).toBe(all.buffer);
    expect(bind.params[0]?.buffer).toBe(all.buffer);
  });

  it('gives a split frame its own buffer, untouched by later input', () => {
    const q1 = serialize.query('select 1');
    const q2 = serialize.query('select 2');
    const parser = new FrontendParser();
    parser.startupDone();
    const got: FrontendMessage[] = [];
    parser.parse(q1.subarray(0, 3), (m) => got.push(m));
    parser.parse(Buffer.concat([q1.subarray(3), q2.subarray(0, 2)]), (m) => got.push(m));
    parser.parse(q2.subarray(2), (m) => got.push(m));
    expect(got.map((m) => (m.name === 'query' ? m.sql : m.name))).toEqual(['select 1', 'select 2']);
    expect(got[0]?.name === 'query' && got[0].raw).toEqual(q1);
  });

  it('reads PasswordMessage and SASLInitialResponse bodies with the helpers', () => {
    const { messages } = parseChunks(
      [serialize.password('pw ü'), serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=,r=x')],
      { tagged: true },
    );
    const [pw, sasl] = messages;
    expect(pw?.name === 'authResponse' && readPassword(pw.body)).toBe('pw ü');
    expect(sasl?.name === 'authResponse' && readSaslInitial(sasl.body)).toEqual({
      mechanism: 'SCRAM-SHA-256',
      data: Buffer.from('n,,n=,r=x'),
    });
    const noInitial = Buffer.from('SCRAM-SHA-256\0\xff\xff\xff\xff', 'latin1');
    expect(readSaslInitial(noInitial)).toEqual({ mechanism: 'SCRAM-SHA-256', data: null });
  });

  it('keeps a hostile __proto__ startup key as plain data', () => {
    const { messages } = parseChunks([frontendBuffers.startup([['__proto__', 'x'], ['user', 'u']])]);
    const m = messages[0];
    expect(m?.name).toBe('startupMessage');
    if (m?.name !== 'startupMessage') return;
    expect(Object.getPrototypeOf(m.parameters)).toBeNull();
    expect(m.parameters['__proto__']).toBe('x');
    expect(m.parameters['user']).toBe('u');
  });

  it('accepts a newer 3.x minor so the owner can answer NegotiateProtocolVersion', () => {
    const { messages } = parseChunks([frontendBuffers.startup([['user', 'u']], (3 << 16) | 7)]);
    expect(messages[0]).toMatchObject({ name: 'startupMessage', majorVersion: 3, minorVersion: 7 });
  });
});

describe('serializeFrontendStartup / serializeCancelRequest', () => {
  it('write exactly the given startup params and protocol, matching the independent builder', () => {
    const buf = serializeFrontendStartup({ user: 'u', database: 'd', client_encoding: 'LATIN1' }, 196610);
    expect(buf).toEqual(frontendBuffers.startup([['user', 'u'], ['database', 'd'], ['client_encoding', 'LATIN1']], 196610));
    expect(serializeFrontendStartup({ user: 'u' })).toEqual(frontendBuffers.startup([['user', 'u']]));
    const { messages } = parseChunks([buf]);
    expect(messages[0]).toMatchObject({ name: 'startupMessage', parameters: params({ user: 'u', database: 'd', client_encoding: 'LATIN1' }) });
  });

  it('write a cancel request with a 4-byte key like pg-protocol and with a long key like the builder', () => {
    expect(serializeCancelRequest(4242, Buffer.from([1, 2, 3, 4]))).toEqual(serialize.cancel(4242, 0x01020304));
    expect(serializeCancelRequest(77, longKey)).toEqual(frontendBuffers.cancelRequest(77, longKey));
  });

  it('refuse what cannot be framed', () => {
    expect(() => serializeFrontendStartup({ '': 'x' })).toThrow(RangeError);
    expect(() => serializeFrontendStartup({ user: 'a\0b' })).toThrow(RangeError);
    expect(() => serializeFrontendStartup({ user: 'u' }, 2 << 16)).toThrow(RangeError);
    expect(() => serializeCancelRequest(1, Buffer.alloc(3))).toThrow(RangeError);
    expect(() => serializeCancelRequest(1, Buffer.alloc(257))).toThrow(RangeError);
  });
});
