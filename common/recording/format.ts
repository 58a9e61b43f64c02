import { z } from 'zod';

/**
 * The recording format. One file per session: a header line, then one JSON event
 * per line. Every event names the SHA-256 (hex) of the exact bytes of the line
 * before it (the header for seq 1), so any change, deletion, insertion or
 * reordering breaks the chain. Checkpoints and the final seal carry an Ed25519
 * signature over the chain head, so the chain cannot be recomputed by someone
 * without the gateway key. Version 1 is the only version so far; the reader keeps
 * accepting every version the writer ever wrote.
 */
export const RECORDING_FORMAT = 'hopscope.recording';
export const RECORDING_VERSIONS = [1] as const;
export const RECORDING_VERSION = 1;

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

export const SignatureData = z.object({
  keyId: z.string().min(1),
  sig: z.string().min(1), // base64
}).passthrough();
