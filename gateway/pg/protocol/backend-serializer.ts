/**
 * Server→client messages, the half pg-protocol's serializer (client→server only)
 * does not cover. The gateway speaks as a server to its clients: authentication,
 * its own ErrorResponses, and results it answers itself. Each call returns a
 * fresh Buffer the caller owns. Arguments that cannot be framed correctly
 * (NUL in a C string, a count over 65535, a wrong salt or key size) throw
 * RangeError: they are bugs of the caller, not input from the network.
 */
import { Writer } from './buffer-writer.js';
import { BackendTag, type FieldDescription, type NoticeFields, type TransactionStatus } from './messages.js';

const enum AuthCode {
  Ok = 0,
  CleartextPassword = 3,
  MD5Password = 5,
  SASL = 10,
  SASLContinue = 11,
  SASLFinal = 12,
}

const auth = (code: AuthCode): Writer => new Writer(BackendTag.Authentication).int32(code);
const empty = (tag: number): Buffer => new Writer(tag, 8).finish();

/** ErrorResponse/NoticeResponse field codes, in the order PostgreSQL writes them. */
const NOTICE_FIELD_CODES: ReadonlyArray<readonly [keyof NoticeFields, string]> = [
  ['code', 'C'],
  ['message', 'M'],
  ['detail', 'D'],
  ['hint', 'H'],
  ['position', 'P'],
  ['internalPosition', 'p'],
  ['internalQuery', 'q'],
  ['where', 'W'],
  ['schema', 's'],
  ['table', 't'],
  ['column', 'c'],
  ['dataType', 'd'],
  ['constraint', 'n'],
  ['file', 'F'],
  ['line', 'L'],
  ['routine', 'R'],
];

/**
 * Error texts often quote client input (a query, a name); a NUL in one would cut
 * the field short and misframe the message, and refusing to report an error is
 * worse than dropping the NUL, so here it is removed rather than refused.
 */
const clean = (s: string): string => (s.includes('\0') ? s.replaceAll('\0', '') : s);

function noticeOrError(tag: number, fields: NoticeFields): Buffer {
  const w = new Writer(tag, 128);
  // Both severities: 'V' (never localized, since 9.6) is what clients should match on,
  // 'S' is what older clients read.
  w.byte(0x53).cstring(clean(fields.localizedSeverity ?? fields.severity));
  w.byte(0x56).cstring(clean(fields.severity));
  for (const [key, code] of NOTICE_FIELD_CODES) {
    const value = fields[key];
    if (value !== undefined) w.byte(code.charCodeAt(0)).cstring(clean(value));
  }
  return w.byte(0).finish();
}

const authenticationOk = (): Buffer => auth(AuthCode.Ok).finish();
const authenticationCleartextPassword = (): Buffer => auth(AuthCode.CleartextPassword).finish();

const authenticationMD5Password = (salt: Buffer): Buffer => {
  if (salt.length !== 4) throw new RangeError(`MD5 salt must be 4 bytes, got ${salt.length}`);
  return auth(AuthCode.MD5Password).bytes(salt).finish();
};

const authenticationSASL = (mechanisms: readonly string[]): Buffer => {
  const w = auth(AuthCode.SASL);
  for (const m of mechanisms) {
    // An empty name would read as the list's terminator.
    if (m === '') throw new RangeError('empty SASL mechanism name');
    w.cstring(m);
  }
  return w.byte(0).finish();
};

const authenticationSASLContinue = (data: Buffer | string): Buffer => auth(AuthCode.SASLContinue).bytes(data).finish();
const authenticationSASLFinal = (data: Buffer | string): Buffer => auth(AuthCode.SASLFinal).bytes(data).finish();

const parameterStatus = (name: string, value: string): Buffer =>
  new Writer(BackendTag.ParameterStatus).cstring(name).cstring(value).finish();

/** `secretKey` is 4 bytes for protocol 3.0 clients, up to 256 for 3.2. */
const backendKeyData = (processID: number, secretKey: Buffer): Buffer => {
  if (secretKey.length < 4 || secretKey.length > 256) {
    throw new RangeError(`cancel key must be 4 to 256 bytes, got ${secretKey.length}`);
  }
  return new Writer(BackendTag.BackendKeyData).int32(processID).bytes(secretKey).finish();
};

const readyForQuery = (status: TransactionStatus): Buffer => {
  if (status !== 'I' && status !== 'T' && status !== 'E') throw new RangeError(`invalid transaction status ${String(status)}`);
  return new Writer(BackendTag.ReadyForQuery, 8).byte(status.charCodeAt(0)).finish();
};

const errorResponse = (fields: NoticeFields): Buffer => noticeOrError(BackendTag.ErrorResponse, fields);
const noticeResponse = (fields: NoticeFields): Buffer => noticeOrError(BackendTag.NoticeResponse, fields);

const rowDescription = (fields: readonly FieldDescription[]): Buffer => {
  const w = new Writer(BackendTag.RowDescription, 32 + fields.length * 32).count(fields.length, 'columns');
  for (const f of fields) {
    w.cstring(f.name)
      .int32(f.tableID)
      .int16(f.columnID)
      .int32(f.dataTypeID)
      .int16(f.dataTypeSize)
      .int32(f.dataTypeModifier)
      .int16(f.format === 'binary' ? 1 : 0);
  }
  return w.finish();
};

/** Strings are written as UTF-8 (text format); Buffers as they are; null as SQL NULL. */
const dataRow = (values: readonly (Buffer | string | null)[]): Buffer => {
  const w = new Writer(BackendTag.DataRow, 16 + values.length * 8).count(values.length, 'columns');
  for (const v of values) {
    if (v === null) {
      w.int32(-1);
    } else {
      w.int32(typeof v === 'string' ? Buffer.byteLength(v) : v.length).bytes(v);
    }
  }
  return w.finish();
};

const commandComplete = (tag: string): Buffer => new Writer(BackendTag.CommandComplete).cstring(tag).finish();

const parameterDescription = (dataTypeIDs: readonly number[]): Buffer => {
  const w = new Writer(BackendTag.ParameterDescription, 8 + dataTypeIDs.length * 4).count(dataTypeIDs.length, 'parameters');
  for (const oid of dataTypeIDs) w.int32(oid);
  return w.finish();
};

/**
 * Tells a client asking for a newer 3.x minor (or _pq_. options) what the server
 * supports; FrontendParser accepts any 3.x StartupMessage so that the owner can
 * answer with this instead of disconnecting.
 */
const negotiateProtocolVersion = (newestMinor: number, unrecognizedOptions: readonly string[] = []): Buffer => {
  const w = new Writer(BackendTag.NegotiateProtocolVersion).int32((3 << 16) | newestMinor);
  w.int32(unrecognizedOptions.length);
  for (const o of unrecognizedOptions) w.cstring(o);
  return w.finish();
};

/** The single-byte answers to SSLRequest and GSSENCRequest: not framed messages. */
const encryptionAccepted = (): Buffer => Buffer.from('S');
const encryptionRejected = (): Buffer => Buffer.from('N');

export const serializeBackend = {
  authenticationOk,
  authenticationCleartextPassword,
  authenticationMD5Password,
  authenticationSASL,
  authenticationSASLContinue,
  authenticationSASLFinal,
  parameterStatus,
  backendKeyData,
  readyForQuery,
  errorResponse,
  noticeResponse,
  rowDescription,
  dataRow,
  commandComplete,
  emptyQueryResponse: (): Buffer => empty(BackendTag.EmptyQueryResponse),
  parseComplete: (): Buffer => empty(BackendTag.ParseComplete),
  bindComplete: (): Buffer => empty(BackendTag.BindComplete),
  closeComplete: (): Buffer => empty(BackendTag.CloseComplete),
  noData: (): Buffer => empty(BackendTag.NoData),
  portalSuspended: (): Buffer => empty(BackendTag.PortalSuspended),
  parameterDescription,
  negotiateProtocolVersion,
  /** 'S': go ahead with the TLS (or GSSAPI) handshake. */
  sslAccepted: encryptionAccepted,
  /** 'N': continue unencrypted (or close). Also the answer to GSSENCRequest. */
  sslRejected: encryptionRejected,
};
