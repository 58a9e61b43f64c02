import type { Clock } from '../common/clock.js';
import { HopscopeError, type ErrorCode } from '../common/errors.js';
import type { Signer, TrustedKeys } from '../common/keys.js';
import { EventType } from '../common/recording/index.js';
import { verifyToken, type TokenClaims } from '../common/tokens/index.js';
import type { GatewayMetrics } from './admin/index.js';
import type { LoadedConfig, TargetConfig } from './config.js';
import { lineageOf, rootTokenOf, type Lineage } from './lineage.js';
import type { Logger } from './log.js';
import { newSessionId, RecordingWriter, type AuditLog, type Refusal } from './recording/index.js';
import { describeRevocation, type Revocation, type RevocationStore } from './policy/revocations.js';
import type { SessionInfo, SessionRegistry } from './sessions.js';

/** What every protocol adapter needs to admit a connection. */
export interface AdmissionDeps {
  config: LoadedConfig;
  trusted: TrustedKeys;
  signer: Signer;
  clock: Clock;
  metrics: GatewayMetrics;
  logger: Logger;
  audit: AuditLog;
  registry: SessionRegistry;
  revocations: RevocationStore;
}

export interface AdmissionRequest {
  protocol: 'postgres' | 'ssh';
  identity: string;
  target: string;
  /** The token the client presented (PostgreSQL password, SSH password). */
  token: string;
  client: { address: string; port: number };
  /** Protocol details for the session-start event (TLS, startup parameters, pty size, ...). */
  details: Record<string, unknown>;
}

export interface Admitted<T extends TargetConfig = TargetConfig> {
  info: SessionInfo;
  claims: TokenClaims;
  target: T;
  writer: RecordingWriter;
}

/** A refusal: already counted and recorded in the audit log; `message` is for the client. */
export class Refused extends HopscopeError {}

/**
 * The one admission path of both protocols: verify the token for the identity,
 * check the identity may reach the target, work out the lineage, and write the
 * session-start event durably. Nothing is connected upstream before this returns;
 * every refusal is recorded with its reason.
 */
export async function admit<T extends TargetConfig>(deps: AdmissionDeps, req: AdmissionRequest, type: T['type']): Promise<Admitted<T>> {
  const client = `${req.client.address}:${req.client.port}`;
  const started = performance.now();
  let claims: TokenClaims | undefined;
  let revocation: Revocation | undefined;
  const refuse = (code: ErrorCode, message: string, detail?: string): never => {
    deps.metrics.refusalsTotal.inc({ reason: code });
    // A revoked login is recorded with the revocation that refused it: what, by whom, when.
    const refusal: Refusal & { revocation?: Revocation; auth?: unknown; keyFingerprint?: unknown; tokenKind?: string } = {
      protocol: req.protocol, reason: code, message, client, identity: req.identity, target: req.target,
      ...(claims ? { tokenId: claims.jti, tokenKind: claims.kind } : {}), ...(detail ? { detail } : {}),
      ...(revocation ? { revocation } : {}), ...(req.details.auth !== undefined ? { auth: req.details.auth } : {}),
      ...(req.details.keyFingerprint !== undefined ? { keyFingerprint: req.details.keyFingerprint } : {}),
    };
    deps.audit.refused(refusal);
    throw new Refused(code, message, detail);
  };

  let target: T;
  let lineage: Lineage | undefined;
  try {
    claims = verifyToken(req.token, deps.trusted, deps.clock, req.identity);
    revocation = deps.revocations.revocationOf(claims);
    if (revocation) throw new HopscopeError('TOKEN_REVOKED', `the token is revoked: ${describeRevocation(revocation)}`);
    target = authorize(deps.config, req.identity, req.target, type) as T;
    lineage = lineageOf(claims, req.client, deps.registry);
  } catch (err) {
    const e = err as HopscopeError;
    return refuse(e.code ?? 'PROTOCOL_VIOLATION', e.message, e.detail);
  }
  const id = newSessionId(deps.clock);
  const startedMicros = deps.clock.nowMicros();
  let writer: RecordingWriter | undefined;
  try {
    writer = RecordingWriter.open({
      dir: deps.config.recording.dir, session: id, protocol: req.protocol, signer: deps.signer, clock: deps.clock,
      fsync: deps.config.recording.fsync, checkpointEvery: deps.config.recording.checkpointEvery,
      onCommit: (seconds, bytes) => {
        deps.metrics.recordingSeconds.observe(seconds);
        deps.metrics.recordingBytes.inc({}, bytes);
      },
      onFsync: (seconds) => deps.metrics.fsyncSeconds.observe(seconds),
    });
    writer.append(EventType.SessionStart, {
      identity: req.identity, tokenId: claims.jti, tokenKind: claims.kind, rootTokenId: rootTokenOf(claims),
      target: target.name, protocol: req.protocol, client,
      ...(lineage ? { parent: lineage.parent, linkKind: lineage.linkKind, inferred: lineage.inferred, evidence: lineage.evidence } : {}),
      ...req.details,
    });
    await writer.commit();
  } catch (err) {
    writer?.close({ reason: 'recording failed at start', cause: 'recording-failed' });
    return refuse('RECORDING_UNAVAILABLE', 'the session cannot be recorded, so it is refused', (err as HopscopeError).detail);
  }
  // Token, revocation, authorization, lineage and the durable session start: what admission adds to a login.
  deps.metrics.policyStepSeconds.observe({ protocol: req.protocol, step: 'admission' }, (performance.now() - started) / 1000);
  return {
    claims,
    target,
    writer,
    info: {
      id, protocol: req.protocol, identity: req.identity, target: target.name, client, tokenId: claims.jti,
      rootTokenId: rootTokenOf(claims), parent: lineage?.parent, linkKind: lineage?.linkKind, startedMicros,
    },
  };
}

function authorize(config: LoadedConfig, identity: string, targetName: string, type: TargetConfig['type']): TargetConfig {
  const who = config.identities.find((i) => i.name === identity);
  if (!who) throw new HopscopeError('IDENTITY_UNKNOWN', `unknown identity ${identity}`);
  const target = config.targets.find((t) => t.name === targetName);
  const kind = type === 'postgres' ? 'PostgreSQL' : 'SSH';
  if (!target || target.type !== type) throw new HopscopeError('TARGET_UNKNOWN', `unknown ${kind} target ${targetName}`);
  if (!who.targets.includes(target.name)) throw new HopscopeError('TARGET_NOT_ALLOWED', `identity ${identity} may not reach target ${target.name}`);
  return target;
}
