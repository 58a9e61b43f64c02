/**
 * The two client→server packets the gateway's upstream connection needs that
 * pg-protocol's `serialize` cannot write as needed; for everything else
 * (password, SASL, query, parse, bind, ...) use pg-protocol's `serialize`.
 *
 * - serialize.startup always writes protocol 3.0 and appends
 *   client_encoding=UTF8 after the caller's parameters, which would override the
 *   encoding a proxied client asked for; this writes exactly the given params.
 * - serialize.cancel takes the secret as a number, i.e. 4 bytes; protocol 3.2
 *   keys are up to 256 bytes.
 */
import { Writer } from './buffer-writer.js';
import { StartupCode } from './messages.js';

/** A StartupMessage with exactly `params`, in their insertion order. */
export function serializeFrontendStartup(
  params: Readonly<Record<string, string>>,
  protocolVersion: number = StartupCode.Protocol30,
): Buffer {
  if (protocolVersion >>> 16 !== 3) throw new RangeError(`not a protocol 3.x version: ${protocolVersion}`);
  const w = new Writer(0, 128).int32(protocolVersion);
  for (const key of Object.keys(params)) {
    // An empty key would read as the end of the list.
    if (key === '') throw new RangeError('empty startup parameter name');
    w.cstring(key).cstring(params[key] as string);
  }
  return w.byte(0).finish();
}

/** A CancelRequest; `secretKey` as received in BackendKeyData (4 to 256 bytes). */
export function serializeCancelRequest(processID: number, secretKey: Buffer): Buffer {
  if (secretKey.length < 4 || secretKey.length > 256) {
    throw new RangeError(`cancel key must be 4 to 256 bytes, got ${secretKey.length}`);
  }
  return new Writer(0, 12 + secretKey.length).int32(StartupCode.CancelRequest).int32(processID).bytes(secretKey).finish();
}

/**
 * The upstream StartupMessage for a client's one: the client's parameters byte
 * for byte and in its order (client_encoding, options, application_name …, in
 * whatever encoding it wrote them), with `user` and `database` replaced by the
 * target's and the parameters a client may not choose left out. `clientPacket`
 * is the client's whole StartupMessage (length, version, pairs).
 */
export function upstreamStartup(clientPacket: Buffer, user: string, database: string, omit: (key: string) => boolean): Buffer {
  const w = new Writer(0, clientPacket.length + 64).int32(StartupCode.Protocol30);
  w.cstring('user').cstring(user).cstring('database').cstring(database);
  let offset = 8;
  for (;;) {
    const keyEnd = clientPacket.indexOf(0, offset);
    if (keyEnd <= offset) break; // the terminating empty name (or a malformed tail the decoder already refused)
    const valueEnd = clientPacket.indexOf(0, keyEnd + 1);
    if (valueEnd < 0) break;
    const key = clientPacket.toString('latin1', offset, keyEnd);
    if (key !== 'user' && key !== 'database' && !omit(key)) w.bytes(clientPacket.subarray(offset, valueEnd + 1));
    offset = valueEnd + 1;
  }
  return w.byte(0).finish();
}

/** A Query whose text is given as bytes already in the session's client encoding. */
export function serializeQueryBytes(sql: Buffer): Buffer {
  return new Writer(0x51, sql.length + 6).bytes(sql).byte(0).finish();
}

/** A Parse whose name and text are given as bytes in the session's client encoding, with its parameter types. */
export function serializeParseBytes(name: Buffer, sql: Buffer, paramTypes: readonly number[]): Buffer {
  const w = new Writer(0x50, name.length + sql.length + 9 + paramTypes.length * 4).bytes(name).byte(0).bytes(sql).byte(0);
  w.count(paramTypes.length, 'parameter types');
  for (const t of paramTypes) w.int32(t);
  return w.finish();
}
