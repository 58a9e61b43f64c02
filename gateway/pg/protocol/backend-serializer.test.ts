import { Field } from 'pg-protocol/dist/messages.js';
import { Parser } from 'pg-protocol/dist/parser.js';
import { describe, expect, it } from 'vitest';
import { serializeBackend as b } from './backend-serializer.js';

/** Decodes with pg-protocol's client-side Parser: one frame in, exactly one message out. */
function decode(buf: Buffer): Record<string, unknown> {
  const out: unknown[] = [];
  new Parser().parse(buf, (msg) => out.push(msg));
  expect(out).toHaveLength(1);
  const msg = out[0] as Record<string, unknown>;
  // pg-protocol's `length` is the frame's length field: the frame must be exactly that long.
  expect(msg.length).toBe(buf.length - 1);
  expect(buf.readInt32BE(1)).toBe(buf.length - 1);
  return msg;
}

/** ErrorResponse/NoticeResponse fields by code, read by hand because pg-protocol ignores 'V'. */
function noticeFields(buf: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let at = 5;
  while (buf[at] !== 0) {
    const end = buf.indexOf(0, at + 1);
    fields[String.fromCharCode(buf[at] as number)] = buf.toString('utf8', at + 1, end);
    at = end + 1;
  }
  expect(at).toBe(buf.length - 1);
  return fields;
}

const fields = [
  new Field('id', 16384, 1, 23, 4, -1, 'text'),
  new Field('päyload', 3000000000, 2, 17, -1, -1, 'binary'),
];

describe('serializeBackend, decoded by pg-protocol Parser', () => {
  it('writes the authentication requests', () => {
    expect(decode(b.authenticationOk())).toMatchObject({ name: 'authenticationOk', length: 8 });
    expect(decode(b.authenticationCleartextPassword())).toMatchObject({ name: 'authenticationCleartextPassword' });
    expect(decode(b.authenticationMD5Password(Buffer.from([9, 8, 7, 6])))).toMatchObject({
      name: 'authenticationMD5Password',
      salt: Buffer.from([9, 8, 7, 6]),
    });
    expect(decode(b.authenticationSASL(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']))).toMatchObject({
      name: 'authenticationSASL',
      mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'],
    });
    expect(decode(b.authenticationSASLContinue('r=abc,s=c2FsdA==,i=4096'))).toMatchObject({
      name: 'authenticationSASLContinue',
      data: 'r=abc,s=c2FsdA==,i=4096',
    });
    expect(decode(b.authenticationSASLFinal(Buffer.from('v=xyz')))).toMatchObject({ name: 'authenticationSASLFinal', data: 'v=xyz' });
  });

  it('writes ParameterStatus, BackendKeyData and ReadyForQuery', () => {
    expect(decode(b.parameterStatus('server_version', '17.2'))).toMatchObject({
      name: 'parameterStatus',
      parameterName: 'server_version',
      parameterValue: '17.2',
    });
    expect(decode(b.backendKeyData(4242, Buffer.from([0xff, 0, 0, 1])))).toMatchObject({
      name: 'backendKeyData',
      processID: 4242,
      secretKey: -16777215,
    });
    // A 3.2 key: pg-protocol only reads 4 bytes of it, so the rest is checked by hand.
    const key = Buffer.from(Array.from({ length: 32 }, (_, i) => 255 - i));
    const long = b.backendKeyData(7, key);
    expect(decode(long)).toMatchObject({ name: 'backendKeyData', processID: 7, length: 4 + 4 + 32 });
    expect(long.subarray(9)).toEqual(key);
    for (const status of ['I', 'T', 'E'] as const) {
      expect(decode(b.readyForQuery(status))).toMatchObject({ name: 'readyForQuery', status, length: 5 });
    }
  });

  it('writes ErrorResponse with both severities, every field, and the optional ones omitted', () => {
    const all = {
      severity: 'ERROR', localizedSeverity: 'FEHLER', code: '42P01', message: 'relation "x" does not exist',
      detail: 'd', hint: 'h', position: '15', internalPosition: '3', internalQuery: 'iq', where: 'w',
      schema: 'public', table: 'x', column: 'c', dataType: 'dt', constraint: 'k', file: 'parse.c', line: '12', routine: 'r',
    };
    const buf = b.errorResponse(all);
    const decoded = decode(buf);
    const { localizedSeverity: _localized, message, ...rest } = all;
    // pg-protocol reports 'S' as severity (it ignores 'V') and puts 'M' in Error#message.
    expect(decoded).toMatchObject({ ...rest, name: 'error', severity: 'FEHLER' });
    expect((decoded as unknown as Error).message).toBe(message);
    expect(noticeFields(buf)).toMatchObject({ S: 'FEHLER', V: 'ERROR', C: '42P01', M: message, R: 'r', p: '3', q: 'iq' });

    const minimal = b.errorResponse({ severity: 'FATAL', code: '28P01', message: 'password authentication failed' });
    expect(noticeFields(minimal)).toEqual({ S: 'FATAL', V: 'FATAL', C: '28P01', M: 'password authentication failed' });
    expect(decode(minimal)).toMatchObject({ name: 'error', severity: 'FATAL', code: '28P01', detail: undefined });
  });

  it('writes NoticeResponse, dropping NULs from texts that may quote client input', () => {
    const buf = b.noticeResponse({ severity: 'WARNING', code: '01000', message: 'bad\0 name', hint: 'h\0' });
    expect(decode(buf)).toMatchObject({ name: 'notice', severity: 'WARNING', code: '01000', message: 'bad name', hint: 'h' });
    expect(noticeFields(buf)).toEqual({ S: 'WARNING', V: 'WARNING', C: '01000', M: 'bad name', H: 'h' });
  });

  it('writes RowDescription from pg-protocol Fields, including OIDs above 2^31', () => {
    const msg = decode(b.rowDescription(fields));
    expect(msg).toMatchObject({ name: 'rowDescription', fieldCount: 2 });
    expect(msg.fields).toEqual(fields);
    expect(decode(b.rowDescription([]))).toMatchObject({ name: 'rowDescription', fieldCount: 0, fields: [] });
  });

  it('writes DataRow with strings, buffers, empty values and NULLs', () => {
    const msg = decode(b.dataRow(['1', Buffer.from('zwei'), null, '', 'ü€']));
    expect(msg).toMatchObject({ name: 'dataRow', fieldCount: 5, fields: ['1', 'zwei', null, '', 'ü€'] });
    expect(decode(b.dataRow([]))).toMatchObject({ name: 'dataRow', fields: [] });
  });

  it('writes CommandComplete, ParameterDescription and the empty messages', () => {
    expect(decode(b.commandComplete('INSERT 0 3'))).toMatchObject({ name: 'commandComplete', text: 'INSERT 0 3' });
    expect(decode(b.parameterDescription([23, 25, 4000000000]))).toMatchObject({
      name: 'parameterDescription',
      parameterCount: 3,
      dataTypeIDs: [23, 25, 4000000000],
    });
    expect(decode(b.emptyQueryResponse())).toMatchObject({ name: 'emptyQuery', length: 4 });
    expect(decode(b.parseComplete())).toMatchObject({ name: 'parseComplete', length: 4 });
    expect(decode(b.bindComplete())).toMatchObject({ name: 'bindComplete', length: 4 });
    expect(decode(b.closeComplete())).toMatchObject({ name: 'closeComplete', length: 4 });
    expect(decode(b.noData())).toMatchObject({ name: 'noData', length: 4 });
    expect(decode(b.portalSuspended())).toMatchObject({ name: 'portalSuspended', length: 4 });
  });

  it('keeps pg-protocol in frame when every message arrives in one stream, split anywhere', () => {
    const frames = [
      b.authenticationOk(), b.parameterStatus('a', 'b'), b.backendKeyData(1, Buffer.alloc(4)), b.readyForQuery('I'),
      b.rowDescription(fields), b.dataRow(['x', null]), b.commandComplete('SELECT 1'), b.noticeResponse({ severity: 'NOTICE', code: '00000', message: 'n' }),
      b.parseComplete(), b.bindComplete(), b.noData(), b.portalSuspended(), b.closeComplete(), b.emptyQueryResponse(),
      b.parameterDescription([23]), b.errorResponse({ severity: 'ERROR', code: 'XX000', message: 'e' }), b.readyForQuery('E'),
    ];
    const names = ['authenticationOk', 'parameterStatus', 'backendKeyData', 'readyForQuery', 'rowDescription', 'dataRow',
      'commandComplete', 'notice', 'parseComplete', 'bindComplete', 'noData', 'portalSuspended', 'closeComplete',
      'emptyQuery', 'parameterDescription', 'error', 'readyForQuery'];
    const all = Buffer.concat(frames);
    for (let cut = 0; cut <= all.length; cut++) {
      const parser = new Parser();
      const got: string[] = [];
      // Copies: pg-protocol's Parser may move a partial frame within the chunk it was given, overwriting it.
      parser.parse(Buffer.from(all.subarray(0, cut)), (m) => got.push(m.name));
      parser.parse(Buffer.from(all.subarray(cut)), (m) => got.push(m.name));
      expect(got).toEqual(names);
    }
  });
});

describe('serializeBackend, checked by hand where pg-protocol has no decoder', () => {
  it('writes NegotiateProtocolVersion', () => {
    const buf = b.negotiateProtocolVersion(2, ['_pq_.compression', '_pq_.x']);
    expect(buf.toString('latin1', 0, 1)).toBe('v');
    expect(buf.readInt32BE(1)).toBe(buf.length - 1);
    expect(buf.readInt32BE(5)).toBe(196610);
    expect(buf.readInt32BE(9)).toBe(2);
    expect(buf.subarray(13).toString('latin1')).toBe('_pq_.compression\0_pq_.x\0');
    expect(b.negotiateProtocolVersion(0)).toEqual(Buffer.from([0x76, 0, 0, 0, 12, 0, 3, 0, 0, 0, 0, 0, 0]));
  });

  it('writes the single-byte SSLRequest/GSSENCRequest answers', () => {
    expect(b.sslAccepted()).toEqual(Buffer.from([0x53]));
    expect(b.sslRejected()).toEqual(Buffer.from([0x4e]));
  });

  it('returns a fresh buffer per call', () => {
    const one = b.parseComplete();
    one[0] = 0;
    expect(b.parseComplete()[0]).toBe(0x31);
  });

  it('refuses arguments that cannot be framed', () => {
    expect(() => b.authenticationMD5Password(Buffer.alloc(3))).toThrow(RangeError);
    expect(() => b.authenticationSASL([''])).toThrow(RangeError);
    expect(() => b.backendKeyData(1, Buffer.alloc(3))).toThrow(RangeError);
    expect(() => b.backendKeyData(1, Buffer.alloc(257))).toThrow(RangeError);
    expect(() => b.readyForQuery('X' as 'I')).toThrow(RangeError);
    expect(() => b.parameterStatus('a\0b', 'c')).toThrow(RangeError);
    expect(() => b.commandComplete('SELECT\0')).toThrow(RangeError);
    expect(() => b.dataRow(new Array<string>(65536).fill('x'))).toThrow(RangeError);
    expect(() => b.parameterDescription(new Array<number>(65536).fill(23))).toThrow(RangeError);
  });
});
