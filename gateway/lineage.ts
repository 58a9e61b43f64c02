import { HopscopeError } from '../common/errors.js';
import type { TokenClaims } from '../common/tokens/index.js';
import type { LiveSession, SessionInfo, SessionRegistry } from './sessions.js';

export interface Lineage {
  parent: string;
  linkKind: 'hop-token' | 'token-reuse' | 'address-time';
  /** Proven links need none; inferred ones say what they rest on. */
  inferred: boolean;
  evidence: Record<string, unknown>;
}

/**
 * Who is this connection's parent?
 * - A hop token names it, signed: proven (`hop-token`). Its parent must still be
 *   live: a hop token outlives nothing, so one whose session ended is refused.
 * - A token that a live SSH session presented, presented again: an inner agent
 *   reusing an ancestor's token (`token-reuse`, inferred).
 * - A connection from the address of a live SSH session's target host
 *   (`address-time`, inferred): something on that host, during that session.
 * Inferred links carry the evidence they rest on, and every candidate session.
 * Throws HOP_PARENT_ENDED (the admission path records it as a refusal).
 */
export function lineageOf(claims: TokenClaims, client: { address: string }, registry: SessionRegistry): Lineage | undefined {
  if (claims.kind === 'hop' && claims.parent) {
    if (!registry.get(claims.parent)) {
      throw new HopscopeError('HOP_PARENT_ENDED', 'the hop token belongs to a session that has ended', `parent=${claims.parent}`);
    }
    return { parent: claims.parent, linkKind: 'hop-token', inferred: false, evidence: { tokenId: claims.jti, parentSession: claims.parent } };
  }
  const address = normalizeAddress(client.address);
  const ssh = registry.list().filter((s) => s.info.protocol === 'ssh');
  const reusing = newestFirst(ssh.filter((s) => s.info.tokenId === claims.jti));
  if (reusing.length) {
    // Prefer a session whose target host is where this connection comes from.
    const fromTarget = reusing.filter((s) => s.info.targetAddress === address);
    const parent = (fromTarget[0] ?? reusing[0])!.info;
    return {
      parent: parent.id, linkKind: 'token-reuse', inferred: true,
      evidence: {
        reason: 'the token this connection presents is in use by a live SSH session',
        tokenId: claims.jti, clientAddress: address, parentTarget: parent.target, parentTargetAddress: parent.targetAddress ?? null,
        fromParentTarget: parent.targetAddress === address, candidates: reusing.map((s) => s.info.id),
      },
    };
  }
  const onTarget = newestFirst(ssh.filter((s) => s.info.targetAddress !== undefined && s.info.targetAddress === address));
  if (onTarget.length) {
    const parent = onTarget[0]!.info;
    return {
      parent: parent.id, linkKind: 'address-time', inferred: true,
      evidence: {
        reason: 'the connection comes from the target host of a live SSH session',
        clientAddress: address, parentTarget: parent.target, parentStartedMicros: parent.startedMicros,
        parentIdentity: parent.identity, candidates: onTarget.map((s) => s.info.id),
      },
    };
  }
  return undefined;
}

/** The identity token at the root of a chain: a hop token carries it, an identity token is it. */
export function rootTokenOf(claims: TokenClaims): string {
  return claims.root ?? claims.jti;
}

/** `::ffff:127.0.0.1` and `127.0.0.1` are one host. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

function newestFirst(sessions: LiveSession[]): LiveSession[] {
  return [...sessions].sort((a, b) => b.info.startedMicros - a.info.startedMicros);
}

export type { SessionInfo };
