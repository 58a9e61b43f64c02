import { z } from 'zod';

/**
 * The recording format. One file per session: a header line, then one JSON event
 * per line. Every event names the SHA-256 (hex) of the exact bytes of the line
 * before it (the header for seq 1), so any change, deletion, insertion or
 * reordering breaks the chain. Checkpoints and the final seal carry an Ed25519
 * signature over the chain head, so the chain cannot be recomputed by someone
 * without the gateway key. The reader keeps accepting every version the writer ever wrote:
 * - v1: checkpoints every N events; the header is not signed, so a whole file can be
 *   fabricated with the gateway's public key, and its unsigned tail proves nothing.
 * - v2: the header carries `sig` (headerSignedText); checkpoints come by count and
 *   within about a second by time; sessions are listed in the folder's journal.
 */
export const RECORDING_FORMAT = 'hopscope.recording';
export const RECORDING_VERSIONS = [1, 2] as const;
export const RECORDING_VERSION = 2;

export const RecordingHeader = z.object({
  format: z.literal(RECORDING_FORMAT),
  version: z.number().int(),
  session: z.string().min(1),
  protocol: z.enum(['postgres', 'ssh', 'gateway']),
  createdAt: z.number().int(), // microseconds since the epoch
  gateway: z.object({
    keyId: z.string().min(1),
    publicKey: z.string().min(1), // SPKI PEM; pinned against trusted keys by readers
  }).strict(),
  /** v2: Ed25519 signature (base64) over headerSignedText of the header without it. */
  sig: z.string().min(1).optional(),
}).strict();
export type RecordingHeader = z.infer<typeof RecordingHeader>;

export const RecordingEvent = z.object({
  seq: z.number().int().min(1),
  t: z.number().int(), // microseconds since the epoch
  type: z.string().min(1),
  data: z.record(z.string(), z.unknown()),
  prev: z.string().regex(/^[0-9a-f]{64}$/),
}).strict();
export type RecordingEvent = z.infer<typeof RecordingEvent>;

/** Event types never change once shipped; new ones may be added. */
export const EventType = {
  SessionStart: 'session.start',
  SessionEnd: 'session.end',
  Refused: 'refused',
  Checkpoint: 'checkpoint',
  Seal: 'seal',
  PgQuery: 'pg.query',
  PgParse: 'pg.parse',
  PgBind: 'pg.bind',
  PgExecute: 'pg.execute',
  PgResult: 'pg.result',
  PgError: 'pg.error',
  PgNotice: 'pg.notice',
  PgCopyData: 'pg.copy.data',
  PgCancel: 'pg.cancel',
  // SSH. Byte payloads (`data`) are a string with `encoding` 'utf8' (valid UTF-8 as is)
  // or 'base64' (anything else), plus `bytes`, the raw length; every event of a
  // session channel names its `channel` number.
  SshInput: 'ssh.input',
  SshOutput: 'ssh.output',
  SshResize: 'ssh.resize',
  SshExec: 'ssh.exec',
  SshExit: 'ssh.exit',
  SshPty: 'ssh.pty',
  SshEnv: 'ssh.env',
  SshShell: 'ssh.shell',
  SshSubsystem: 'ssh.subsystem',
  SshSignal: 'ssh.signal',
  SshLine: 'ssh.line',
  SshPolicy: 'ssh.policy',
  SshSftp: 'ssh.sftp',
  SshForward: 'ssh.forward',
  SshHop: 'ssh.hop',
  SshUpstream: 'ssh.upstream',
  SshChannelEnd: 'ssh.channel.end',
  /** A file written over sftp or scp: {channel, via, path, sha256, bytes}; the session's uploads map holds path → sha256. */
  SshUpload: 'ssh.upload',
  PolicyBlock: 'policy.block',
  ApprovalRequested: 'approval.requested',
  ApprovalDecided: 'approval.decided',
  Revoked: 'revoked',
  Unrevoked: 'unrevoked',
  GatewayStart: 'gateway.start',
  GatewayStop: 'gateway.stop',
  /** Policies reloaded (SIGHUP) and put in force: {file, generation, sections}. A refused reload is a `refused` event. */
  GatewayReload: 'gateway.reload',
} as const;
export type EventTypeName = (typeof EventType)[keyof typeof EventType];

/**
 * The exact text each signature covers: bound to the session, position, time and
 * chain head. The time is signed too because the seal is the last line: no later
 * line's hash protects its bytes.
 */
export function signedText(kind: 'checkpoint' | 'seal', session: string, seq: number, t: number, prev: string): string {
  return `${RECORDING_FORMAT}/${kind}/v1:${session}:${seq}:${t}:${prev}`;
}

/**
 * What a v2 header's `sig` covers: the header line exactly as written before the
 * signature was added (fixed field order: format, version, session, protocol,
 * createdAt, gateway), so format, version, session, time and key are all bound.
 */
export function headerSignedText(unsignedHeaderLine: string): string {
  return `${RECORDING_FORMAT}/header/v2:${unsignedHeaderLine}`;
}

/**
 * What the seal of a recovered recording signs: the gateway, restarted after a
 * crash, states that the events up to `afterSeq` are all the session wrote.
 */
export function recoverySignedText(session: string, seq: number, t: number, prev: string, afterSeq: number): string {
  return `${RECORDING_FORMAT}/recovery/v2:${session}:${seq}:${t}:${prev}:${afterSeq}`;
}

/** A signature as the writers encode it: canonical base64 of 64 bytes (no malleable padding bits). */
export function isCanonicalSignature(sig: string): boolean {
  return sig.length === 88 && Buffer.from(sig, 'base64').toString('base64') === sig;
}

export const SignatureData = z.object({
  keyId: z.string().min(1),
  sig: z.string().min(1), // base64
}).passthrough();
