import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { HopscopeError } from '../../common/errors.js';
import type { EventMap } from '../../common/recording/index.js';
import type { TokenClaims } from '../../common/tokens/index.js';

export const REVOCATIONS_FILE = 'revocations.json';

const Revocation = z.object({
  identity: z.string().optional(),
  tokenId: z.string().optional(),
  /** When it was revoked, in seconds since the epoch. */
  at: z.number(),
  by: z.string().optional(),
  /** Why, as the revoker gave it. */
  reason: z.string().optional(),
}).strict();
export type Revocation = z.infer<typeof Revocation>;

/** Which revocation to lift: an identity or a token id, as it was revoked. */
export interface RevocationSelector { identity?: string; tokenId?: string }

/** What admission reads: the revocation that refuses a token, from memory (a lone gateway's keys.dir, or the fleet's copy). */
export interface RevocationSource {
  revocationOf(claims: TokenClaims): Revocation | undefined;
  revokedReason(claims: TokenClaims): string | undefined;
}

/**
 * Revocations, persisted in keys.dir so a restart keeps them. Revoking an
 * identity refuses every login of it — token, keyboard-interactive, registered
 * key (whose stand-in token is issued after the revocation) and hop token —
 * until it is lifted explicitly (`hopscope token unrevoke`). Revoking a token
 * id refuses that token and every hop token derived from it.
 */
export class RevocationStore implements RevocationSource {
  private entries: Revocation[];

  constructor(private readonly keysDir: string) {
    this.entries = readRevocations(keysDir);
  }

  add(r: Revocation): void {
    this.entries = readRevocations(this.keysDir); // another process (the CLI) may have added some
    this.entries.push(r);
    this.save();
  }

  /** Lifts every revocation of exactly this identity or token id; returns those lifted (none: nothing changed). */
  remove(which: RevocationSelector): Revocation[] {
    if (!which.identity === !which.tokenId) throw new HopscopeError('CONFIG_INVALID', 'unrevoke exactly one of an identity or a token id');
    this.entries = readRevocations(this.keysDir);
    const lifted = this.entries.filter((r) => selects(which, r));
    if (lifted.length === 0) return [];
    this.entries = this.entries.filter((r) => !selects(which, r));
    this.save();
    return lifted;
  }

  /** What is revoked now, as persisted (another process may have written the file). */
  list(): Revocation[] {
    this.entries = readRevocations(this.keysDir);
    return [...this.entries];
  }

  reload(): void {
    this.entries = readRevocations(this.keysDir);
  }

  /** The revocation that refuses these claims, or undefined. */
  revocationOf(claims: TokenClaims): Revocation | undefined {
    return this.entries.find((r) => (r.tokenId !== undefined && (r.tokenId === claims.jti || r.tokenId === claims.root))
      || (r.identity !== undefined && r.identity === claims.sub));
  }

  /** Why a token may no longer be used (what was revoked, by whom, when), or undefined. */
  revokedReason(claims: TokenClaims): string | undefined {
    const r = this.revocationOf(claims);
    return r && describeRevocation(r);
  }

  private save(): void {
    const path = join(this.keysDir, REVOCATIONS_FILE);
    writeFileSync(`${path}.tmp`, `${JSON.stringify(this.entries, null, 2)}\n`, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  }
}

function selects(which: RevocationSelector, r: Revocation): boolean {
  return which.identity !== undefined ? r.identity === which.identity : r.tokenId === which.tokenId;
}

/** `identity bob was revoked by admin at 2025-01-02T03:04:05Z`. */
export function describeRevocation(r: Revocation): string {
  const what = r.identity !== undefined ? `identity ${r.identity}` : `token ${r.tokenId}`;
  return `${what} was revoked${r.by ? ` by ${r.by}` : ''} at ${new Date(r.at * 1000).toISOString().replace('.000Z', 'Z')}`;
}

export function readRevocations(keysDir: string): Revocation[] {
  const path = join(keysDir, REVOCATIONS_FILE);
  if (!existsSync(path)) return [];
  try {
    return z.array(Revocation).parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch (err) {
    // Refuse to run with a revocation list we cannot read: that would un-revoke silently.
    throw new HopscopeError('CONFIG_INVALID', `${path} is not a valid revocation list: ${(err as Error).message}`);
  }
}

/** The `session.end` of a session refused or cut because of this revocation: cause, who revoked and why. */
export function revokedEnd(r: Revocation): Pick<EventMap['session.end'], 'cause' | 'by' | 'revocation'> {
  return { cause: 'revoked', ...(r.by !== undefined ? { by: r.by } : {}), revocation: { ...r } };
}
