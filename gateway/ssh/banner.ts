import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const MESSAGE_USERAUTH_BANNER = 53;

interface PacketWriter {
  allocStart: number;
  alloc(size: number): Buffer;
  finalize(packet: Buffer): Buffer;
}
interface ProtocolInternals { _packetRW?: { write?: PacketWriter } }

let sendPacket: ((protocol: unknown, packet: Buffer) => void) | undefined;
try {
  ({ sendPacket } = require('ssh2/lib/protocol/utils.js') as { sendPacket: typeof sendPacket });
} catch {
  sendPacket = undefined;
}

/**
 * Sends an SSH_MSG_USERAUTH_BANNER during authentication, which OpenSSH prints
 * on stderr: the only way to tell a refused client *why* before the reject.
 * ssh2 sends a banner only once, before authentication starts, so this writes
 * the message the way its Protocol does (ssh2 1.x internals); if those change,
 * the refusal still happens, only the explanation is lost (and logged).
 */
export function sendAuthBanner(connection: unknown, text: string): boolean {
  const protocol = (connection as { _protocol?: ProtocolInternals })._protocol;
  const writer = protocol?._packetRW?.write;
  if (!sendPacket || !writer) return false;
  const message = text.endsWith('\r\n') ? text : `${text}\r\n`;
  const len = Buffer.byteLength(message);
  let p = writer.allocStart;
  const packet = writer.alloc(1 + 4 + len + 4);
  packet[p] = MESSAGE_USERAUTH_BANNER;
  packet.writeUInt32BE(len, ++p);
  packet.write(message, (p += 4), len, 'utf8');
  packet.writeUInt32BE(0, p + len); // empty language tag
  sendPacket(protocol, writer.finalize(packet));
  return true;
}
