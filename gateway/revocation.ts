import type { Clock } from '../common/clock.js';
import { HopscopeError } from '../common/errors.js';
import type { TrustedKeys } from '../common/keys.js';
import { EventType } from '../common/recording/index.js';
import { verifyToken } from '../common/tokens/index.js';
import type { LoadedConfig } from './config.js';
import type { RevocationStore } from './policy/index.js';
import type { AuditLog } from './recording/index.js';
import type { SessionRegistry } from './sessions.js';

export interface RevokeRequest { identity?: string; tokenId?: string; by: string }

/**
 * Revokes an identity or a token: persisted first (a restart keeps it), then
 * every live session under it — and every session descending from those, however
 * deep — is cut and recorded as revoked. Returns the ids of the sessions cut.
 */
export function revoke(req: RevokeRequest, deps: { registry: SessionRegistry; revocations: RevocationStore; audit: AuditLog; clock: Clock }): string[] {
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

/** The approver identity behind a bearer token, or an error saying why it may not approve. */
export function approverOf(token: string, config: LoadedConfig, trusted: TrustedKeys, clock: Clock, revocations: RevocationStore): string {
  const claims = verifyToken(token, trusted, clock);
  if (revocations.revokedReason(claims)) throw new HopscopeError('TOKEN_REVOKED', 'the token is revoked');
  if (claims.kind !== 'identity') throw new HopscopeError('APPROVAL_FORBIDDEN', 'hop tokens cannot approve');
  const identity = config.identities.find((i) => i.name === claims.sub);
  if (!identity?.approver) throw new HopscopeError('APPROVAL_FORBIDDEN', `${claims.sub} is not an approver`);
  return identity.name;
}
