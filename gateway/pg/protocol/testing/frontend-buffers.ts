/**
 * Test-only builders for client→server packets pg-protocol's `serialize` cannot
 * write (GSSENCRequest, long cancel keys, protocol 3.2 startup, FunctionCall,
 * arbitrary or malformed frames), written independently of the code under test
 * so that a round trip checks the parser against a second implementation.
 * In the manner of pg-protocol's testing/buffer-list.ts.
 */
import { FrontendParser, type FrontendParserOptions } from '../frontend-parser.js';
import type { FrontendMessage } from '../messages.js';

export class BufferList {
  private readonly buffers: Buffer[] = [];

  public add(b: Buffer): this {
    this.buffers.push(b);
    return this;
  }

  public int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v & 0xffff);
    return this.add(b);
  }

  public int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    return this.add(b);
  }

  public cstring(s: string): this {
    return this.add(Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]));
  }

  public string(s: string): this {
    return this.add(Buffer.from(s, 'utf8'));
  }

  public body(): Buffer {
    return Buffer.concat(this.buffers);
  }

  /** A tagged frame: tag, Int32 length (body + 4), body. */
  public frame(tag: string): Buffer {
    return tagged(tag, this.body());
  }

  /** An untagged startup-phase packet: Int32 length (body + 4), body. */
  public packet(): Buffer {
    const body = this.body();
    return Buffer.concat([new BufferList().int32(body.length + 4).body(), body]);
  }
}

export function tagged(tag: string, body: Buffer, length = body.length + 4): Buffer {
  return Buffer.concat([Buffer.from(tag, 'latin1'), new BufferList().int32(length).body(), body]);
}

export const frontendBuffers = {
  gssEncRequest: (): Buffer => new BufferList().int32(80877104).packet(),
  sslRequest: (): Buffer => new BufferList().int32(80877103).packet(),
  cancelRequest: (processID: number, secretKey: Buffer): Buffer =>
    new BufferList().int32(80877102).int32(processID).add(secretKey).packet(),
  /** Pairs, not a record, so tests can send duplicate keys. */
  startup: (params: [string, string][], protocolVersion = 196608): Buffer => {
    const list = new BufferList().int32(protocolVersion);
    for (const [k, v] of params) list.cstring(k).cstring(v);
    return list.cstring('').packet();
  },
  /** FunctionCall: OID, argument formats, arguments (Int32 length or -1), result format. */
  functionCall: (oid: number, formats: number[], args: (Buffer | null)[], resultFormat: number): Buffer => {
    const list = new BufferList().int32(oid).int16(formats.length);
    for (const f of formats) list.int16(f);
    list.int16(args.length);
    for (const a of args) {
      if (a === null) list.int32(-1);
      else list.int32(a.length).add(a);
    }
    return list.int16(resultFormat).frame('F');
  },
  /** GSSResponse: 'p' with the token as its whole body. */
  gssResponse: (token: Buffer): Buffer => tagged('p', token),
};

/**
 * Feeds chunks to a fresh parser the way the gateway will: startupDone() is
 * called from onMessage on the StartupMessage. Returns everything emitted.
 */
export function parseChunks(
  chunks: Buffer[],
  opts: FrontendParserOptions & { tagged?: boolean } = {},
): { messages: FrontendMessage[]; parser: FrontendParser } {
  const parser = new FrontendParser(opts);
  if (opts.tagged) parser.startupDone();
  const messages: FrontendMessage[] = [];
  const onMessage = (msg: FrontendMessage): void => {
    messages.push(msg);
    if (msg.name === 'startupMessage') parser.startupDone();
  };
  for (const chunk of chunks) parser.parse(chunk, onMessage);
  return { messages, parser };
}

/** `buf` cut at the given ascending positions. */
export function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    out.push(buf.subarray(prev, c));
    prev = c;
  }
  out.push(buf.subarray(prev));
  return out;
}

export function byteByByte(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) out.push(buf.subarray(i, i + 1));
  return out;
}
