import type { Clock } from '../common/clock.js';
import { HopscopeError } from '../common/errors.js';
import type { TrustedKeys } from '../common/keys.js';
import { EventType } from '../common/recording/index.js';
import { verifyToken } from '../common/tokens/index.js';
import type { LoadedConfig } from './config.js';
import type { Revocation, RevocationStore } from './policy/index.js';
import type { AuditLog } from './recording/index.js';
import type { SessionRegistry } from './sessions.js';

/** The audit event of a lifted revocation. TODO(common): EventType.Unrevoked in common/recording/format.ts. */
export const UNREVOKED_EVENT = 'unrevoked';

export interface RevokeRequest { identity?: string; tokenId?: string; by: string }
export interface UnrevokeRequest { action: 'unrevoke'; identity?: string; tokenId?: string; by: string; client?: string }
export interface ListRevocationsRequest { action: 'list' }

/**
 * What the admin API asks of revocations. One entry point because the admin
 * server reaches revocations through the one `revoke` function the gateway
 * wires in (gateway/server.ts): a plain request revokes, as it always did.
 */
export type RevocationCommand = RevokeRequest | UnrevokeRequest | ListRevocationsRequest;
export type RevocationOutcome =
  | { action: 'revoke'; sessionsCut: string[] }
  | { action: 'unrevoke'; lifted: Revocation[] }
  | { action: 'list'; revocations: Revocation[] };

interface RevocationDeps { registry: SessionRegistry; revocations: RevocationStore; audit: AuditLog; clock: Clock }

export function revoke(cmd: RevocationCommand, deps: RevocationDeps): RevocationOutcome {
  if ('action' in cmd) {
    if (cmd.action === 'list') return { action: 'list', revocations: deps.revocations.list() };
    return { action: 'unrevoke', lifted: unrevoke(cmd, deps) };
  }
  return { action: 'revoke', sessionsCut: revokeNow(cmd, deps) };
}

/**
 * Revokes an identity or a token: persisted first (a restart keeps it), then
 * every live session under it — and every session descending from those, however
 * deep — is cut and recorded as revoked. Returns the ids of the sessions cut.
 */
function revokeNow(req: RevokeRequest, deps: RevocationDeps): string[] {
  if (!req.identity === !req.tokenId) throw new HopscopeError('CONFIG_INVALID', 'revoke exactly one of an identity or a token id');
  const at = Math.floor(deps.clock.nowMicros() / 1e6);
  deps.revocations.add({ ...(req.identity ? { identity: req.identity } : {}), ...(req.tokenId ? { tokenId: req.tokenId } : {}), at, by: req.by });
  const roots = deps.registry.list().filter(({ info }) =>
    req.identity ? info.identity === req.identity : info.tokenId === req.tokenId || info.rootTokenId === req.tokenId);
  const cut = new Set<string>();
  for (const root of roots) {
    for (const session of deps.registry.withDescendants(root.info.id)) {
      if (cut.has(session.info.id)) continue;
      cut.add(session.info.id);
      const what = req.identity ? `identity ${req.identity}` : `token ${req.tokenId}`;
      session.terminate({
        code: 'revoked',
        message: `the session was revoked (${what})`,
        detail: session === root ? `revoked: ${what}` : `revoked: ${what}, via ancestor session ${root.info.id}`,
      });
    }
  }
  deps.audit.record(EventType.Revoked, { ...req, at, sessionsCut: [...cut] });
  return [...cut];
}

/** Lifts a revocation (from the running gateway and keys.dir) and records who did it; throws when nothing was revoked so. */
function unrevoke(req: UnrevokeRequest, deps: RevocationDeps): Revocation[] {
  if (!req.identity === !req.tokenId) throw new HopscopeError('CONFIG_INVALID', 'unrevoke exactly one of an identity or a token id');
  const which = req.identity !== undefined ? { identity: req.identity } : { tokenId: req.tokenId! };
  const lifted = deps.revocations.remove(which);
  const what = req.identity !== undefined ? `identity ${req.identity}` : `token ${req.tokenId}`;
  if (lifted.length === 0) throw new HopscopeError('CONFIG_INVALID', `${what} is not revoked`);
  deps.audit.record(UNREVOKED_EVENT, {
    ...which, by: req.by, ...(req.client ? { client: req.client } : {}), at: Math.floor(deps.clock.nowMicros() / 1e6), lifted,
  });
  return lifted;
}

/** The approver identity behind a bearer token, or an error saying why it may not approve. */
export function approverOf(token: string, config: LoadedConfig, trusted: TrustedKeys, clock: Clock, revocations: RevocationStore): string {
  const claims = verifyToken(token, trusted, clock);
  const revoked = revocations.revokedReason(claims);
  if (revoked) throw new HopscopeError('TOKEN_REVOKED', `the token is revoked: ${revoked}`);
  if (claims.kind !== 'identity') throw new HopscopeError('APPROVAL_FORBIDDEN', 'hop tokens cannot approve');
  const identity = config.identities.find((i) => i.name === claims.sub);
  if (!identity?.approver) throw new HopscopeError('APPROVAL_FORBIDDEN', `${claims.sub} is not an approver`);
  return identity.name;
}
