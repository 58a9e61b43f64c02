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
import { describeRevocation, type Revocation, type RevocationSource } from './policy/revocations.js';
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
  revocations: RevocationSource;
  /** A member of a fleet: admission asks it whether to admit, finds hop parents on other gateways, publishes the session. */
  fleet?: FleetAdmission;
}

/** What admission needs of the fleet (gateway/fleet/member.ts). */
export interface FleetAdmission {
  readonly name: string;
  admission(): { admit: true; localOnly: boolean } | { admit: false; message: string };
  /** The gateway of the fleet where this session is live, if any. */
  parentGateway(session: string): Promise<string | undefined>;
  /** Publishes an admitted session before anything is connected upstream; throws when it cannot. */
  admitted(info: SessionInfo): Promise<void>;
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
  const fleetAdmission = deps.fleet?.admission();
  // Admitted while the control plane was away (config `whenUnreachable: admit-local`): recorded as such.
  const localOnly = fleetAdmission?.admit && fleetAdmission.localOnly ? { fleet: { gateway: deps.fleet!.name, admission: 'local-only' } }
    : deps.fleet ? { fleet: { gateway: deps.fleet.name } } : {};
  try {
    claims = verifyToken(req.token, deps.trusted, deps.clock, req.identity);
    revocation = deps.revocations.revocationOf(claims);
    if (revocation) throw new HopscopeError('TOKEN_REVOKED', `the token is revoked: ${describeRevocation(revocation)}`);
    target = authorize(deps.config, req.identity, req.target, type) as T;
    if (fleetAdmission && !fleetAdmission.admit) throw new HopscopeError('CONTROL_PLANE_UNAVAILABLE', fleetAdmission.message);
    lineage = await fleetParent(deps, claims) ?? lineageOf(claims, req.client, deps.registry);
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
      ...req.details, ...localOnly,
    });
    await writer.commit();
  } catch (err) {
    writer?.close({ reason: 'recording failed at start', cause: 'recording-failed' });
    return refuse('RECORDING_UNAVAILABLE', 'the session cannot be recorded, so it is refused', (err as HopscopeError).detail);
  }
  const info: SessionInfo = {
    id, protocol: req.protocol, identity: req.identity, target: target.name, client, tokenId: claims.jti,
    rootTokenId: rootTokenOf(claims), parent: lineage?.parent, linkKind: lineage?.linkKind, startedMicros,
  };
  // In a fleet, a session no peer can see could not be cut by a revocation taken elsewhere: refused unless local-only.
  if (deps.fleet && !(fleetAdmission?.admit && fleetAdmission.localOnly)) {
    try {
      await deps.fleet.admitted(info);
    } catch (err) {
      writer.close({ reason: 'the control plane could not be told of the session', cause: 'refused' });
      return refuse('CONTROL_PLANE_UNAVAILABLE', "the session cannot be published to the fleet's control plane, so it is refused", (err as Error).message);
    }
  }
  deps.registry.admitted(info);
  // Token, revocation, authorization, lineage and the durable session start: what admission adds to a login.
  deps.metrics.policyStepSeconds.observe({ protocol: req.protocol, step: 'admission' }, (performance.now() - started) / 1000);
  return { claims, target, writer, info };
}

/**
 * A hop token whose parent session is live on another gateway of the fleet: the link is proven the same way
 * (the token is signed by a fleet key and names the parent). A parent live nowhere is left to lineageOf, which refuses it.
 */
async function fleetParent(deps: AdmissionDeps, claims: TokenClaims): Promise<Lineage | undefined> {
  if (!deps.fleet || claims.kind !== 'hop' || !claims.parent || deps.registry.get(claims.parent)) return undefined;
  const gateway = await deps.fleet.parentGateway(claims.parent);
  if (!gateway) return undefined;
  return { parent: claims.parent, linkKind: 'hop-token', inferred: false, evidence: { tokenId: claims.jti, parentSession: claims.parent, parentGateway: gateway } };
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
