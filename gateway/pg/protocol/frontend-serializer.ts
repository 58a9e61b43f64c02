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
