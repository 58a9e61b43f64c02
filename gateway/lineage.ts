import type { TokenClaims } from '../common/tokens/index.js';
import type { SessionInfo, SessionRegistry } from './sessions.js';

export interface Lineage {
  parent: string;
  linkKind: 'hop-token' | 'token-reuse' | 'address-time';
  /** Proven links need none; inferred ones say what they rest on. */
  inferred: boolean;
  evidence: Record<string, unknown>;
}

/**
 * Who is this connection's parent? A hop token names it, signed: proven.
 * (Inferred links — token reuse, address and time — are added with the SSH gateway.)
 */
export function lineageOf(claims: TokenClaims, _client: { address: string }, _registry: SessionRegistry): Lineage | undefined {
  if (claims.kind === 'hop' && claims.parent) {
    return { parent: claims.parent, linkKind: 'hop-token', inferred: false, evidence: { tokenId: claims.jti } };
  }
  return undefined;
}

/** The identity token at the root of a chain: a hop token carries it, an identity token is it. */
export function rootTokenOf(claims: TokenClaims): string {
  return claims.root ?? claims.jti;
}

export type { SessionInfo };
