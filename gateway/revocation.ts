import type { Clock } from '../common/clock.js';
import { HopscopeError } from '../common/errors.js';
import type { TrustedKeys } from '../common/keys.js';
import { EventType } from '../common/recording/index.js';
import { verifyToken } from '../common/tokens/index.js';
import type { LoadedConfig } from './config.js';
import type { Revocation, RevocationStore } from './policy/index.js';
import type { RevocationSource } from './policy/revocations.js';
import type { AuditLog } from './recording/index.js';
import type { LiveSession, SessionInfo, SessionRegistry, TerminationReason } from './sessions.js';

/** Who asked, as the admin API knows it: `by` the admin token's holder, from `client`, `via` the tool it declared (a label, not proof). */
export interface RevocationActor { by: string; client?: string; via?: string }
/** Why, in the revoker's words (optional): recorded with the revocation and in every session it cuts. */
export interface RevocationReason { reason?: string }
/** An identity (every login of it) or a token id (it and its hop tokens): exactly one. */
export type RevocationTarget = { identity: string; tokenId?: never } | { tokenId: string; identity?: never };
export type RevokeRequest = RevocationTarget & RevocationActor & RevocationReason;
export type UnrevokeRequest = RevocationTarget & RevocationActor;

/** What the admin API does with revocations (gateway/admin/server.ts): one function per action. */
export interface RevocationActions {
  /** What is revoked now (as persisted in keys.dir, which the CLI may also write, or in the fleet's control plane). */
  list(): Revocation[] | Promise<Revocation[]>;
  /** Revokes and cuts the live sessions under it; returns the ids of the sessions cut (in a fleet: on every gateway). */
  revoke(req: RevokeRequest): string[] | Promise<string[]>;
  /** Lifts it; returns the revocations lifted, none when it was not revoked (then nothing is recorded). */
  unrevoke(req: UnrevokeRequest): Revocation[] | Promise<Revocation[]>;
}

export interface RevocationDeps { registry: SessionRegistry; revocations: RevocationStore; audit: AuditLog; clock: Clock }

export function revocationActions(deps: RevocationDeps): RevocationActions {
  return {
    list: () => deps.revocations.list(),
    revoke: (req) => revoke(req, deps),
    unrevoke: (req) => unrevoke(req, deps),
  };
}

/** `identity bob` / `token 1a2b…`, as refusals and errors name it. */
export function describeTarget(t: RevocationTarget): string {
  return t.identity !== undefined ? `identity ${t.identity}` : `token ${t.tokenId}`;
}

/**
 * Revokes an identity or a token: persisted first (a restart keeps it), then
 * every live session under it — and every session descending from those, however
 * deep — is cut and recorded as revoked. Returns the ids of the sessions cut.
 */
export function revoke(req: RevokeRequest, deps: RevocationDeps): string[] {
  const which = targetOf(req, 'revoke');
  const at = Math.floor(deps.clock.nowMicros() / 1e6);
  const reason = req.reason ? { reason: req.reason } : {};
  deps.revocations.add({ ...which, at, by: req.by, ...reason });
  const cut = cutLocal({ ...which, by: req.by, ...reason }, deps.registry, []);
  deps.audit.record(EventType.Revoked, { ...which, ...actorOf(req), ...reason, at, sessionsCut: cut });
  return cut;
}

/** The revocation as a session's end names it: what, by whom, why. */
export type CutBy = RevocationTarget & { by: string; reason?: string };

/**
 * Ends this gateway's live sessions under a revocation: those it names and every
 * live session below them, however deep — below them on this gateway, and below
 * them anywhere in the fleet (`fleetCut`: session → the matched ancestor, from the
 * control plane's lineage). Returns the ids of the sessions ended here.
 */
export function cutLocal(which: CutBy, registry: SessionRegistry, fleetCut: readonly { id: string; root: string }[]): string[] {
  const roots = registry.list().filter(({ info }) =>
    which.identity !== undefined ? info.identity === which.identity : info.tokenId === which.tokenId || info.rootTokenId === which.tokenId);
  const what = describeTarget(which);
  const cut = new Map<string, { session: LiveSession; root: string }>();
  for (const root of roots) {
    for (const session of registry.withDescendants(root.info.id)) {
      if (!cut.has(session.info.id)) cut.set(session.info.id, { session, root: root.info.id });
    }
  }
  // Below a session of another gateway: that session is the ancestor named, and local descendants follow it.
  for (const { id, root } of fleetCut) {
    for (const session of registry.withDescendants(id)) {
      if (!cut.has(session.info.id)) cut.set(session.info.id, { session, root });
    }
  }
  const reasonFor = (id: string, root: string): TerminationReason => {
    const self = id === root;
    return {
      code: self ? 'revoked' : 'ancestor-revoked',
      message: `the session was revoked (${what})`,
      detail: self ? `revoked: ${what}` : `revoked: ${what}, via ancestor session ${root}`,
      revocation: { ...(which.identity !== undefined ? { identity: which.identity } : { tokenId: which.tokenId! }), by: which.by,
        ...(which.reason ? { reason: which.reason } : {}) },
      ...(self ? {} : { ancestor: root }),
    };
  };
  for (const { session, root } of cut.values()) session.terminate(reasonFor(session.info.id, root));
  // Logins in flight below what was cut, or named by the fleet's lineage: ended as soon as they are added.
  const condemned: string[] = [];
  const condemn = (id: string, root: string) => {
    if (cut.has(id) || condemned.includes(id) || !registry.condemn(id, reasonFor(id, root))) return;
    condemned.push(id);
    for (const child of registry.pendingChildren(id)) condemn(child.id, root);
  };
  const matches = (info: SessionInfo) =>
    (which.identity !== undefined ? info.identity === which.identity : info.tokenId === which.tokenId || info.rootTokenId === which.tokenId);
  for (const info of registry.pendingList()) if (matches(info)) condemn(info.id, info.id);
  for (const [id, { root }] of cut) for (const child of registry.pendingChildren(id)) condemn(child.id, root);
  for (const { id, root } of fleetCut) condemn(id, root);
  return [...cut.keys(), ...condemned];
}

/** Lifts a revocation (from the running gateway and keys.dir) and records who did it; nothing lifted: nothing recorded. */
export function unrevoke(req: UnrevokeRequest, deps: RevocationDeps): Revocation[] {
  const which = targetOf(req, 'unrevoke');
  const lifted = deps.revocations.remove(which);
  if (lifted.length === 0) return [];
  deps.audit.record(EventType.Unrevoked, { ...which, ...actorOf(req), at: Math.floor(deps.clock.nowMicros() / 1e6), lifted });
  return lifted;
}

/** Exactly one of identity and tokenId, checked at run time too (the admin API's body is untyped). */
export function targetOf(t: RevocationTarget, verb: string): RevocationTarget {
  if ((t.identity === undefined) === (t.tokenId === undefined)) {
    throw new HopscopeError('CONFIG_INVALID', `${verb} exactly one of an identity or a token id`);
  }
  return t.identity !== undefined ? { identity: t.identity } : { tokenId: t.tokenId! };
}

export function actorOf(a: RevocationActor): RevocationActor {
  return { by: a.by, ...(a.client ? { client: a.client } : {}), ...(a.via ? { via: a.via } : {}) };
}

/** The approver identity behind a bearer token, or an error saying why it may not approve. */
export function approverOf(token: string, config: LoadedConfig, trusted: TrustedKeys, clock: Clock, revocations: RevocationSource): string {
  const claims = verifyToken(token, trusted, clock);
  const revoked = revocations.revokedReason(claims);
  if (revoked) throw new HopscopeError('TOKEN_REVOKED', `the token is revoked: ${revoked}`);
  if (claims.kind !== 'identity') throw new HopscopeError('APPROVAL_FORBIDDEN', 'hop tokens cannot approve');
  const identity = config.identities.find((i) => i.name === claims.sub);
  if (!identity?.approver) throw new HopscopeError('APPROVAL_FORBIDDEN', `${claims.sub} is not an approver`);
  return identity.name;
}
