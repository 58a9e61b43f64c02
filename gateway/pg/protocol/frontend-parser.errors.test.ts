import { serialize } from 'pg-protocol';
import { describe, expect, it } from 'vitest';
import { isHopscopeError } from '../../../common/errors.js';
import { readPassword, readSaslInitial } from './frontend-decoder.js';
import { FrontendParser, type FrontendParserOptions } from './frontend-parser.js';
import type { FrontendMessage } from './messages.js';
import { BufferList, byteByByte, frontendBuffers, parseChunks, tagged } from './testing/frontend-buffers.js';

/** Feeds `bytes` whole and byte by byte; both must end in exactly one violation matching `pattern`. */
function expectViolation(bytes: Buffer, pattern: RegExp, opts: FrontendParserOptions & { tagged?: boolean } = { tagged: true }): FrontendMessage[] {
  let whole: FrontendMessage[] = [];
  for (const chunks of [[bytes], byteByByte(bytes)]) {
    const { messages, parser } = parseChunks(chunks, opts);
    const last = messages[messages.length - 1];
    expect(last).toMatchObject({ name: 'error', code: 'PROTOCOL_VIOLATION', sqlState: '08P01' });
    expect(last?.name === 'error' && last.message).toMatch(pattern);
    expect(messages.filter((m) => m.name === 'error')).toHaveLength(1);
    expect(parser.failure).toBe(last);
    expect(parser.bufferedBytes).toBe(0);
    if (chunks.length === 1) whole = messages;
    else expect(messages).toEqual(whole);
  }
  return whole;
}

const int32 = (n: number): Buffer => new BufferList().int32(n).body();

describe('FrontendParser bad input', () => {
  it('refuses a tagged length below 4', () => {
    for (const len of [0, 3, -1, -0x80000000]) expectViolation(tagged('Q', Buffer.from('x\0'), len), /invalid length/);
  });

  it('refuses a startup length below 8, or negative', () => {
    for (const len of [0, 4, 7, -8]) expectViolation(Buffer.concat([int32(len), int32(196608)]), /invalid length of startup packet/, {});
  });

  it('refuses an oversized tagged frame from its header alone, without buffering it', () => {
    const got: FrontendMessage[] = [];
    const parser = new FrontendParser();
    parser.startupDone();
    parser.parse(Buffer.concat([Buffer.from('d'), int32(1024 * 1024 * 1024 + 1)]), (m) => got.push(m));
    expect(got).toMatchObject([{ name: 'error', length: 1024 * 1024 * 1024 + 1 }]);
    expect(parser.bufferedBytes).toBe(0);
    // The same, with the header itself split, at the default cap's exact edge.
    const ok = parseChunks([Buffer.from('d\x40'), Buffer.from([0, 0, 0, 0xaa])], { tagged: true });
    expect(ok.messages).toEqual([]);
    expect(ok.parser.bufferedBytes).toBe(6);
    expect(ok.parser.failure).toBeNull();
  });

  it('applies configured caps: large, small, auth and startup', () => {
    const q = (n: number): Buffer => serialize.query('x'.repeat(n - 5));
    expect(parseChunks([q(100)], { tagged: true, maxMessageSize: 100 }).messages[0]?.name).toBe('query');
    expectViolation(q(101).subarray(0, 5), /invalid length 101 for message type "Q" \(allowed 4 to 100\)/, { tagged: true, maxMessageSize: 100 });
    expectViolation(tagged('S', Buffer.alloc(0), 10_001), /allowed 4 to 10000/);
    expectViolation(tagged('S', Buffer.alloc(0), 51), /allowed 4 to 50/, { tagged: true, maxSmallMessageSize: 50 });
    expectViolation(tagged('p', Buffer.alloc(0), 65_536), /allowed 4 to 65535/);
    expectViolation(int32(10_001), /allowed 8 to 10000/, {});
    const startup = frontendBuffers.startup([['user', 'x'.repeat(100)]]);
    expectViolation(startup.subarray(0, 4), /allowed 8 to 64/, { maxStartupMessageSize: 64 });
  });

  it('refuses bad caps at construction', () => {
    expect(() => new FrontendParser({ maxMessageSize: 3 })).toThrow(RangeError);
    expect(() => new FrontendParser({ maxStartupMessageSize: 7 })).toThrow(RangeError);
    expect(() => new FrontendParser({ maxMessageSize: 2 ** 31 })).toThrow(RangeError);
    expect(() => new FrontendParser({ maxAuthMessageSize: 1.5 })).toThrow(RangeError);
  });

  it('refuses an unknown tag as soon as its first byte arrives', () => {
    for (const tag of ['Z', 'A', '\0', 'q', '\xff']) {
      expectViolation(Buffer.concat([Buffer.from(tag, 'latin1'), int32(4)]), /invalid frontend message type/);
      expectViolation(Buffer.from(tag, 'latin1'), /invalid frontend message type/);
    }
  });

  it('refuses an unknown startup code and protocol versions other than 3.x', () => {
    for (const code of [80877105, 80877101, 2 << 16, 4 << 16, 0, -1]) {
      expectViolation(new BufferList().int32(code).packet(), /unsupported frontend protocol or startup code/, {});
    }
  });

  const bad: [string, Buffer, RegExp][] = [
    ['Query without terminator', tagged('Q', Buffer.from('select 1')), /unterminated string in Query/],
    ['Query with trailing bytes', tagged('Q', Buffer.from('select 1\0x')), /trailing bytes/],
    ['Parse with count overrun', new BufferList().cstring('').cstring('q').int16(3).int32(23).frame('P'), /Parse parameter count 3 overruns/],
    ['Parse with missing count', new BufferList().cstring('').cstring('q').frame('P'), /too short for Parse parameter count/],
    ['Bind with format count overrun', new BufferList().cstring('').cstring('').int16(2).int16(0).frame('B'), /overruns/],
    ['Bind with param length overrun', new BufferList().cstring('').cstring('').int16(0).int16(1).int32(10).string('abc').int16(0).frame('B'), /too short for Bind parameter/],
    ['Bind with length -2', new BufferList().cstring('').cstring('').int16(0).int16(1).int32(-2).int16(0).frame('B'), /negative length/],
    ['Bind without result formats', new BufferList().cstring('').cstring('').int16(0).int16(0).frame('B'), /Bind result format count/],
    ['Bind with param count overrun', new BufferList().cstring('').cstring('').int16(0).int16(65535).frame('B'), /Bind parameter count 65535 overruns/],
    ['Describe with bad kind', new BufferList().string('X').cstring('s').frame('D'), /invalid Describe subtype/],
    ['Describe empty', tagged('D', Buffer.alloc(0)), /too short for Describe/],
    ['Close with bad kind', new BufferList().string('s').cstring('').frame('C'), /invalid Close subtype/],
    ['Execute without row limit', new BufferList().cstring('p').frame('E'), /too short for Execute row limit/],
    ['Sync with a body', tagged('S', Buffer.from([0])), /invalid Sync message format/],
    ['Terminate with a body', tagged('X', Buffer.from([0])), /invalid Terminate message format/],
    ['CopyFail unterminated', tagged('f', Buffer.from('oops')), /unterminated string in CopyFail/],
  ];
  it.each(bad)('refuses a body that does not match its length or layout: %s', (_what, bytes, pattern) => {
    expectViolation(bytes, pattern);
  });

  it('refuses malformed startup-phase packets', () => {
    const startup = (body: Buffer): Buffer => new BufferList().int32(196608).add(body).packet();
    expectViolation(startup(Buffer.from('user\0u\0')), /unterminated string in StartupMessage parameter name/, {});
    expectViolation(startup(Buffer.from('user\0')), /unterminated string in StartupMessage parameter "user"/, {});
    expectViolation(startup(Buffer.from('user\0u\0\0x')), /invalid StartupMessage message format/, {});
    expectViolation(frontendBuffers.cancelRequest(1, Buffer.alloc(3)), /invalid length of cancel key/, {});
    expectViolation(frontendBuffers.cancelRequest(1, Buffer.alloc(257)), /invalid length of cancel key/, {});
    expectViolation(new BufferList().int32(80877102).int16(1).packet(), /too short for CancelRequest process ID/, {});
    expectViolation(new BufferList().int32(80877103).int32(0).packet(), /invalid SSLRequest message format/, {});
    expectViolation(new BufferList().int32(80877104).int32(0).packet(), /invalid GSSENCRequest message format/, {});
  });

  it('refuses bytes sent together with an SSLRequest, accepts them in a later chunk', () => {
    const ssl = serialize.requestSsl();
    const startup = serialize.startup({ user: 'u' });
    const together = parseChunks([Buffer.concat([ssl, startup])]);
    expect(together.messages.map((m) => m.name)).toEqual(['sslRequest', 'error']);
    expect(together.messages[1]).toMatchObject({ message: /unencrypted data after SSL/ });
    const gss = parseChunks([Buffer.concat([frontendBuffers.gssEncRequest().subarray(0, 3)]), Buffer.concat([frontendBuffers.gssEncRequest().subarray(3), Buffer.from([0])])]);
    expect(gss.messages.map((m) => m.name)).toEqual(['gssEncRequest', 'error']);
    const apart = parseChunks([ssl, startup]);
    expect(apart.messages.map((m) => m.name)).toEqual(['sslRequest', 'startupMessage']);
  });

  it('emits nothing after a violation, neither from the rest of the chunk nor from later parse calls', () => {
    const got: FrontendMessage[] = [];
    const parser = new FrontendParser();
    parser.startupDone();
    const sync = serialize.sync();
    parser.parse(Buffer.concat([sync, tagged('Z', Buffer.alloc(0)), sync]), (m) => got.push(m));
    parser.parse(sync, (m) => got.push(m));
    parser.parse(Buffer.alloc(0), (m) => got.push(m));
    expect(got.map((m) => m.name)).toEqual(['sync', 'error']);
    expect(parser.failure?.message).toMatch(/invalid frontend message type 90/);
  });

  it('lets an exception from onMessage propagate and abandons the parser', () => {
    const parser = new FrontendParser();
    parser.startupDone();
    const two = Buffer.concat([serialize.sync(), serialize.flush()]);
    expect(() => parser.parse(two, () => { throw new Error('handler bug'); })).toThrow('handler bug');
    expect(parser.failure?.message).toMatch(/abandoned after an exception/);
    const got: FrontendMessage[] = [];
    parser.parse(serialize.sync(), (m) => got.push(m));
    expect(got).toEqual([]);
  });

  it('has helpers that throw HopscopeError PROTOCOL_VIOLATION on malformed auth bodies', () => {
    const bodies: [() => unknown, RegExp][] = [
      [() => readPassword(Buffer.from('pw')), /unterminated/],
      [() => readPassword(Buffer.from('pw\0x')), /trailing/],
      [() => readSaslInitial(Buffer.from('SCRAM')), /unterminated/],
      [() => readSaslInitial(Buffer.from('SCRAM\0\0\0')), /too short/],
      [() => readSaslInitial(Buffer.concat([Buffer.from('SCRAM\0'), int32(5), Buffer.from('ab')])), /too short/],
      [() => readSaslInitial(Buffer.concat([Buffer.from('SCRAM\0'), int32(-2)])), /negative/],
    ];
    for (const [call, pattern] of bodies) {
      let caught: unknown;
      try {
        call();
      } catch (err) {
        caught = err;
      }
      expect(isHopscopeError(caught, 'PROTOCOL_VIOLATION')).toBe(true);
      expect((caught as Error).message).toMatch(pattern);
    }
  });
});
