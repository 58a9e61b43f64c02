import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { HopscopeError } from '../../common/errors.js';
import type { TokenClaims } from '../../common/tokens/index.js';

export const REVOCATIONS_FILE = 'revocations.json';

const Revocation = z.object({
  identity: z.string().optional(),
  tokenId: z.string().optional(),
  /** Seconds since the epoch: an identity's tokens issued at or before this are refused. */
  at: z.number(),
  by: z.string().optional(),
}).strict();
export type Revocation = z.infer<typeof Revocation>;

/**
 * Revocations, persisted in keys.dir so a restart keeps them. Revoking an
 * identity refuses every token it was issued until then (a token issued later
 * works again, once the incident is handled); revoking a token id refuses that
 * token and every hop token derived from it.
 */
export class RevocationStore {
  private list: Revocation[];

  constructor(private readonly keysDir: string) {
    this.list = readRevocations(keysDir);
  }

  add(r: Revocation): void {
    this.list = readRevocations(this.keysDir); // another process (the CLI) may have added some
    this.list.push(r);
    const path = join(this.keysDir, REVOCATIONS_FILE);
    writeFileSync(`${path}.tmp`, `${JSON.stringify(this.list, null, 2)}\n`, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  }

  reload(): void {
    this.list = readRevocations(this.keysDir);
  }

  /** Why a token may no longer be used, or undefined. */
  revokedReason(claims: TokenClaims): string | undefined {
    for (const r of this.list) {
      if (r.tokenId && (r.tokenId === claims.jti || r.tokenId === claims.root)) return `token ${r.tokenId} was revoked`;
      if (r.identity && r.identity === claims.sub && claims.iat <= r.at) return `identity ${r.identity} was revoked`;
    }
    return undefined;
  }
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
