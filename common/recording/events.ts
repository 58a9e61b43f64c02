import { z } from 'zod';
import { EventType } from './format.js';

/**
 * The data of every event the gateway writes, as of the current format version
 * (2): one zod schema and one TypeScript type per event type. The gateway's
 * encoder takes `EventMap[K]` for an event of type K, so nothing is written that
 * this file does not describe; the importer reads through `decodeEvent`
 * (decode.ts), which checks these schemas and upgrades version-1 shapes.
 * Schemas strip fields they do not name when decoding (the raw data is stored
 * as recorded anyway); the few that carry open-ended maps say so.
 */

const channel = z.number().int().min(0);
const seqRef = z.number().int().nullable(); // the seq of the event an event refers to (a statement, a command)

/** Values masked: one entry per column (PostgreSQL rows) or none (COPY data, SSH text), per rule. Version 1 SSH wrote `{rule: count}`. */
export const MaskNote = z.object({ column: z.string().optional(), rule: z.string(), count: z.number().int().min(0) });
export type MaskNote = z.infer<typeof MaskNote>;
const masked = z.array(MaskNote);

/** Why a session ended, as the gateway knows it (never read off free text). */
export const END_CAUSES = [
  'client-quit', // the client closed the connection or sent Terminate
  'target-closed', // the target closed the connection
  'client-error', // the client connection failed
  'target-error', // the target connection failed
  'target-unavailable', // the target could not be reached or refused the gateway
  'protocol-violation', // the client broke the protocol
  'revoked', // the session's identity or token was revoked
  'ancestor-revoked', // a session it descends from was revoked
  'gateway-shutdown',
  'crash-recovery', // ended by the next start of the gateway after a crash
  'recording-failed', // the recording could not be written: fail closed
  'refused', // admitted, then refused before it started (unsupported parameter or encoding, catalog unreadable)
  'timeout', // the client did not finish authenticating in time
  'session-error', // any other failure of the session
  'unrecorded', // read only: a version-1 end whose reason that gateway did not classify
] as const;
export const EndCause = z.enum(END_CAUSES);
export type EndCause = z.infer<typeof EndCause>;

/** Who did something through the admin API or the CLI: `by` the holder of the admin credential, from `client`, `via` the tool it declared. */
const actor = { by: z.string(), client: z.string().optional(), via: z.string().optional() };
const revocationTarget = { identity: z.string().optional(), tokenId: z.string().optional() };

export const RevocationNote = z.object({ ...revocationTarget, at: z.number().optional(), by: z.string().optional(), reason: z.string().optional() });

/** Payload fields of SSH data events (see ssh/bytes.ts): UTF-8 text as is, anything else as base64. */
const bytesFields = { data: z.string(), encoding: z.enum(['utf8', 'base64']), bytes: z.number().int().min(0) };

const sshData = z.object({ channel, stream: z.enum(['stdout', 'stderr']).optional(), ...bytesFields, masked: masked.optional() });
const verdict = { action: z.string(), rule: z.string().optional(), reason: z.string().optional() };

export const EventSchemas = {
  [EventType.SessionStart]: z.looseObject({ // + the protocol's own details (tls, params, auth, pty…)
    identity: z.string(), tokenId: z.string(), tokenKind: z.string(), rootTokenId: z.string().optional(), target: z.string(),
    protocol: z.string(), client: z.string(), parent: z.string().optional(), linkKind: z.string().optional(),
    inferred: z.boolean().optional(), evidence: z.unknown().optional(),
  }),
  [EventType.SessionEnd]: z.object({
    reason: z.string(), cause: EndCause,
    /** Revocations: who revoked, and what (identity or token), with the reason given. */
    by: z.string().optional(), revocation: RevocationNote.optional(), ancestor: z.string().optional(),
    statementsInFlight: z.number().int().optional(), sessionsEnded: z.number().int().optional(),
    /** crash-recovery: the last event the crashed gateway wrote. */
    afterSeq: z.number().int().optional(),
  }),
  [EventType.Refused]: z.looseObject({ // + what the refusal has to say (revocation, auth, keyFingerprint, route…)
    protocol: z.string(), reason: z.string(), message: z.string(), client: z.string(),
    identity: z.string().optional(), target: z.string().optional(), tokenId: z.string().optional(), tokenKind: z.string().optional(),
    detail: z.string().optional(), route: z.string().optional(), revocation: RevocationNote.optional(),
  }),
  [EventType.Checkpoint]: z.looseObject({ keyId: z.string(), sig: z.string(), events: z.number().int() }),
  [EventType.Seal]: z.looseObject({ keyId: z.string(), sig: z.string(), events: z.number().int() }),
  [EventType.PgQuery]: z.object({ sql: z.string().optional(), forwarded: z.string().optional(), functionCall: z.literal(true).optional() }),
  [EventType.PgParse]: z.object({ statement: z.string(), sql: z.string(), forwarded: z.string().optional(), verdict: z.string() }),
  [EventType.PgBind]: z.looseObject({ statement: z.string().optional(), portal: z.string().optional() }),
  [EventType.PgExecute]: z.object({
    sql: z.string().nullable(), statement: z.string().nullable(), parse: seqRef, portal: z.string(), params: z.unknown(),
    forwarded: z.string().optional(), maxRows: z.number().int().optional(),
  }),
  [EventType.PgResult]: z.object({
    statement: seqRef, command: z.string(), rowCount: z.number().int(),
    columns: z.array(z.object({ name: z.string(), typeOid: z.number().int(), format: z.enum(['text', 'binary']) })),
    rows: z.array(z.array(z.unknown())), rowsRecorded: z.number().int(), copyBytes: z.number().int().optional(),
    masked: masked.optional(), suspended: z.literal(true).optional(), durationMicros: z.number().int().nullable(),
  }),
  [EventType.PgError]: z.object({
    statement: seqRef.optional(), severity: z.string().optional(), code: z.string().optional(), message: z.string().optional(),
    detail: z.string().optional(), hint: z.string().optional(), position: z.string().optional(), reason: z.string().optional(),
  }),
  [EventType.PgNotice]: z.object({
    statement: seqRef.optional(), severity: z.string().optional(), code: z.string().optional(), message: z.string().optional(),
    detail: z.string().optional(), hint: z.string().optional(), position: z.string().optional(),
  }),
  [EventType.PgCopyData]: z.object({ bytes: z.number().int().min(0) }),
  [EventType.PgCancel]: z.object({ client: z.string(), held: z.boolean() }),
  [EventType.SshInput]: sshData,
  [EventType.SshOutput]: sshData,
  [EventType.SshResize]: z.object({ channel, cols: z.number().int(), rows: z.number().int(), width: z.number().int().optional(), height: z.number().int().optional() }),
  [EventType.SshExec]: z.object({ channel, command: z.string(), pty: z.boolean(), ...verdict }),
  [EventType.SshExit]: z.object({ channel, status: z.number().int().optional(), signal: z.string().optional(), coreDumped: z.boolean().optional() }),
  [EventType.SshPty]: z.looseObject({ channel, term: z.string().optional(), cols: z.number().int(), rows: z.number().int() }),
  [EventType.SshEnv]: z.object({ channel, name: z.string(), value: z.string().optional(), accepted: z.boolean().optional() }),
  [EventType.SshShell]: z.object({ channel, pty: z.boolean() }),
  [EventType.SshSubsystem]: z.object({ channel, name: z.string(), accepted: z.boolean() }),
  [EventType.SshSignal]: z.object({ channel, signal: z.string() }),
  [EventType.SshLine]: z.object({
    channel, line: z.string(), judged: z.string().optional(), partial: z.boolean().optional(), uncertain: z.boolean(),
    uncertainReasons: z.array(z.string()).optional(), lines: z.number().int().optional(), ...verdict,
  }),
  [EventType.SshSftp]: z.looseObject({ // + the operation's own fields (to, flags, read, written, decision…)
    channel, op: z.string(), path: z.string().optional(), masked: masked.optional(),
  }),
  [EventType.SshForward]: z.object({
    channel: channel.optional(), kind: z.string(), dest: z.string().optional(), allowed: z.boolean().optional(), reason: z.string().optional(),
    origin: z.string().optional(), step: z.string().optional(), error: z.string().optional(), sent: z.number().optional(), received: z.number().optional(),
  }),
  [EventType.SshHop]: z.object({ tokenId: z.string(), expiresAt: z.number().int(), offered: z.array(z.string()) }),
  [EventType.SshUpstream]: z.object({
    ok: z.boolean(), address: z.string().optional(), hostKey: z.string().optional(),
    code: z.string().optional(), message: z.string().optional(), detail: z.string().nullable().optional(),
  }),
  [EventType.SshChannelEnd]: z.object({ channel, error: z.string().optional() }),
  [EventType.SshUpload]: z.object({
    channel, via: z.string(), path: z.string(), as: z.string().optional(), sha256: z.string().optional(), bytes: z.number().int().optional(),
    error: z.string().optional(),
  }),
  [EventType.PolicyBlock]: z.object({
    statement: seqRef, rule: z.string(), reason: z.string(), action: z.string(), channel: channel.optional(),
    approval: z.string().optional(), decision: z.string().optional(),
  }),
  [EventType.ApprovalRequested]: z.object({
    statement: seqRef, id: z.string(), rule: z.string(), reason: z.string().optional(), operation: z.string(), channel: channel.optional(),
  }),
  [EventType.ApprovalDecided]: z.object({
    statement: seqRef, id: z.string(), decision: z.enum(['approved', 'denied', 'timeout', 'cancelled']),
    approver: z.string().nullable(), reason: z.string().nullable(), waitedMicros: z.number().nullable(),
    operation: z.string().optional(), rule: z.string().optional(), channel: channel.optional(),
  }),
  [EventType.Revoked]: z.object({
    ...revocationTarget, ...actor, reason: z.string().optional(), at: z.number(), sessionsCut: z.array(z.string()),
    // In a fleet: the gateway that took the revocation and its id in the control plane (sessionsCut: those cut on every gateway
    // when this gateway took it; those cut here when a peer did).
    fleet: z.object({ origin: z.string(), revocation: z.number() }).optional(),
  }),
  [EventType.Unrevoked]: z.object({ ...revocationTarget, ...actor, reason: z.string().optional(), at: z.number(), lifted: z.array(RevocationNote) }),
  [EventType.GatewayStart]: z.looseObject({ keyId: z.string(), listeners: z.record(z.string(), z.unknown()), config: z.unknown() }),
  [EventType.GatewayStop]: z.object({ sessionsEnded: z.number().int() }),
  [EventType.GatewayReload]: z.object({ file: z.string(), generation: z.number().int(), sections: z.array(z.string()) }),
} as const;

type Schemas = typeof EventSchemas;
/** Event type name → the data an event of that type carries (current version). */
export type EventMap = { [K in keyof Schemas]: z.infer<Schemas[K]> };
/** Every event type the gateway writes today (`ssh.policy` is only read: version 1). */
export type EventName = keyof EventMap;

/** `ssh.policy` (version 1 only): SSH approvals before the shared lifecycle; decoded as approval.* events. */
export const LegacySshPolicy = z.object({
  channel: channel.optional(), operation: z.string(), rule: z.string(), step: z.string(),
  approver: z.string().nullable().optional(), approvalId: z.string().optional(), waitedMicros: z.number().optional(),
});
