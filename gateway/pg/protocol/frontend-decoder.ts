/**
 * Decoding of one complete client→server frame. FrontendParser does the framing
 * (lengths, chunks, caps); these functions only read a frame already whole in
 * memory, so every failure here is "body does not match its declared length or
 * layout" and surfaces as BadFrame.
 */
import { HopscopeError } from '../../../common/errors.js';
import { BadFrame, BodyReader } from './buffer-reader.js';
import {
  FrontendTag,
  StartupCode,
  type SqlTextDecoder,
  type StartupPhaseMessage,
  type TaggedFrontendMessage,
} from './messages.js';

/** A SQL text in the session's encoding (UTF-8 by default); `undecodable` when the bytes are not valid in it. */
function sqlText(r: BodyReader, what: string, decode: SqlTextDecoder | undefined): { sql: string; undecodable?: true } {
  const bytes = r.cstringBytes(what);
  if (!decode) return { sql: bytes.toString('utf8') };
  const sql = decode(bytes);
  return sql === undefined ? { sql: bytes.toString('utf8'), undecodable: true } : { sql };
}

/** PostgreSQL 18 accepts cancel keys up to 256 bytes; 4 is what protocol 3.0 always used. */
const MIN_CANCEL_KEY = 4;
const MAX_CANCEL_KEY = 256;

/** `raw` is the whole startup packet: Int32 length, Int32 code, body. */
export function decodeStartupPacket(raw: Buffer): StartupPhaseMessage {
  const length = raw.length;
  const r = new BodyReader(raw.subarray(4));
  const code = r.int32('startup packet code');
  switch (code) {
    case StartupCode.SSLRequest:
      r.end('SSLRequest');
      return { name: 'sslRequest', length, raw };
    case StartupCode.GSSENCRequest:
      r.end('GSSENCRequest');
      return { name: 'gssEncRequest', length, raw };
    case StartupCode.CancelRequest: {
      const processID = r.int32('CancelRequest process ID');
      const secretKey = r.rest();
      if (secretKey.length < MIN_CANCEL_KEY || secretKey.length > MAX_CANCEL_KEY) {
        throw new BadFrame(`invalid length of cancel key in CancelRequest: ${secretKey.length}`);
      }
      return { name: 'cancelRequest', length, raw, processID, secretKey };
    }
    default:
      return decodeStartupMessage(raw, r, code);
  }
}

function decodeStartupMessage(raw: Buffer, r: BodyReader, code: number): StartupPhaseMessage {
  const majorVersion = code >>> 16;
  const minorVersion = code & 0xffff;
  // Any 3.x is accepted, not only 3.0 and 3.2: a newer client sends a newer minor
  // and expects NegotiateProtocolVersion back, not a disconnect (protocol docs).
  if (majorVersion !== 3) {
    throw new BadFrame(`unsupported frontend protocol or startup code ${majorVersion}.${minorVersion}`);
  }
  const parameters: Record<string, string> = Object.create(null) as Record<string, string>;
  for (;;) {
    const key = r.cstring('StartupMessage parameter name');
    if (key === '') break;
    parameters[key] = r.cstring(`StartupMessage parameter "${key}"`);
  }
  r.end('StartupMessage');
  return {
    name: 'startupMessage',
    length: raw.length,
    raw,
    protocolVersion: code,
    majorVersion,
    minorVersion,
    parameters,
  };
}

function readKind(r: BodyReader, what: string): 'S' | 'P' {
  const kind = r.byte(what);
  if (kind === 0x53) return 'S';
  if (kind === 0x50) return 'P';
  throw new BadFrame(`invalid ${what} subtype ${kind}`);
}

/** A list of Int16 format codes preceded by its UInt16 count, as in Bind. */
function readFormats(r: BodyReader, what: string): number[] {
  const n = r.uint16(`${what} count`);
  // Checked before allocating: a count can never claim more than the bytes present.
  if (n * 2 > r.remaining) throw new BadFrame(`${what} count ${n} overruns message`);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = r.int16(what);
  return out;
}

/** `raw` is the whole frame: tag, Int32 length, body. Returns null for an unknown tag. */
export function decodeTagged(tag: number, raw: Buffer, decodeSql?: SqlTextDecoder): TaggedFrontendMessage | null {
  const length = raw.length - 1;
  if (tag === FrontendTag.Query) return decodeQuery(raw, decodeSql);
  const r = new BodyReader(raw.subarray(5));
  switch (tag) {
    case FrontendTag.Parse: {
      const statement = r.cstring('Parse statement name');
      const text = sqlText(r, 'Parse query', decodeSql);
      const n = r.uint16('Parse parameter count');
      if (n * 4 > r.remaining) throw new BadFrame(`Parse parameter count ${n} overruns message`);
      const paramTypes = new Array<number>(n);
      for (let i = 0; i < n; i++) paramTypes[i] = r.uint32('Parse parameter type');
      r.end('Parse');
      return { name: 'parse', length, raw, statement, ...text, paramTypes };
    }
    case FrontendTag.Bind:
      return decodeBind(r, length, raw);
    case FrontendTag.Describe: {
      const kind = readKind(r, 'Describe');
      const objectName = r.cstring('Describe name');
      r.end('Describe');
      return { name: 'describe', length, raw, kind, objectName };
    }
    case FrontendTag.Close: {
      const kind = readKind(r, 'Close');
      const objectName = r.cstring('Close name');
      r.end('Close');
      return { name: 'close', length, raw, kind, objectName };
    }
    case FrontendTag.Execute: {
      const portal = r.cstring('Execute portal name');
      const maxRows = r.int32('Execute row limit');
      r.end('Execute');
      return { name: 'execute', length, raw, portal, maxRows };
    }
    case FrontendTag.Sync:
      r.end('Sync');
      return { name: 'sync', length, raw };
    case FrontendTag.Flush:
      r.end('Flush');
      return { name: 'flush', length, raw };
    case FrontendTag.Terminate:
      r.end('Terminate');
      return { name: 'terminate', length, raw };
    case FrontendTag.CopyData:
      return { name: 'copyData', length, raw, data: r.rest() };
    case FrontendTag.CopyDone:
      r.end('CopyDone');
      return { name: 'copyDone', length, raw };
    case FrontendTag.CopyFail: {
      const message = r.cstring('CopyFail');
      r.end('CopyFail');
      return { name: 'copyFail', length, raw, message };
    }
    case FrontendTag.AuthResponse:
      return { name: 'authResponse', length, raw, body: r.rest() };
    case FrontendTag.FunctionCall:
      return { name: 'functionCall', length, raw, body: r.rest() };
    default:
      return null;
  }
}

/**
 * A Query, the message of every simple-protocol statement: read in place (one view,
 * of its text), with the checks and messages BodyReader's cstring and end give.
 */
function decodeQuery(raw: Buffer, decodeSql: SqlTextDecoder | undefined): TaggedFrontendMessage {
  const length = raw.length - 1;
  const nul = raw.indexOf(0, 5);
  if (nul < 0) throw new BadFrame('unterminated string in Query');
  if (nul !== length) throw new BadFrame(`invalid Query message format: ${length - nul} trailing bytes`);
  const bytes = raw.subarray(5, nul);
  if (!decodeSql) return { name: 'query', length, raw, sql: bytes.toString('utf8') };
  const sql = decodeSql(bytes);
  return sql === undefined
    ? { name: 'query', length, raw, sql: bytes.toString('utf8'), undecodable: true }
    : { name: 'query', length, raw, sql };
}

function decodeBind(r: BodyReader, length: number, raw: Buffer): TaggedFrontendMessage {
  const portal = r.cstring('Bind portal name');
  const statement = r.cstring('Bind statement name');
  const paramFormats = readFormats(r, 'Bind parameter format');
  const n = r.uint16('Bind parameter count');
  // Each parameter takes at least its Int32 length, so this bounds the array by the frame.
  if (n * 4 > r.remaining) throw new BadFrame(`Bind parameter count ${n} overruns message`);
  const params = new Array<Buffer | null>(n);
  for (let i = 0; i < n; i++) {
    const len = r.int32('Bind parameter length');
    // -1 is NULL; any other negative length is malformed, as in PostgreSQL.
    params[i] = len === -1 ? null : r.bytes(len, 'Bind parameter');
  }
  const resultFormats = readFormats(r, 'Bind result format');
  r.end('Bind');
  return { name: 'bind', length, raw, portal, statement, paramFormats, params, resultFormats };
}

function violation(err: unknown): never {
  if (err instanceof BadFrame) throw new HopscopeError('PROTOCOL_VIOLATION', err.message);
  throw err;
}

/**
 * The password of a PasswordMessage body ('p' answering a cleartext or MD5
 * request). Throws HopscopeError PROTOCOL_VIOLATION if it is not exactly one
 * NUL-terminated string, as PostgreSQL checks ("invalid password packet size").
 */
export function readPassword(body: Buffer): string {
  try {
    const r = new BodyReader(body);
    const password = r.cstring('PasswordMessage');
    r.end('PasswordMessage');
    return password;
  } catch (err) {
    return violation(err);
  }
}

/**
 * Mechanism and initial response of a SASLInitialResponse body; `data` is null
 * when the client sent length -1 (no initial response). Throws HopscopeError
 * PROTOCOL_VIOLATION on a malformed body.
 */
export function readSaslInitial(body: Buffer): { mechanism: string; data: Buffer | null } {
  try {
    const r = new BodyReader(body);
    const mechanism = r.cstring('SASLInitialResponse mechanism');
    const len = r.int32('SASLInitialResponse length');
    const data = len === -1 ? null : r.bytes(len, 'SASLInitialResponse data');
    r.end('SASLInitialResponse');
    return { mechanism, data };
  } catch (err) {
    return violation(err);
  }
}
