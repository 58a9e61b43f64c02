import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../clock.js';
import { HopscopeError } from '../errors.js';
import { verifySignature, type Signer, type TrustedKeys } from '../keys.js';

/**
 * A hopscope token: `hs1.<base64url(claims JSON)>.<base64url(Ed25519 signature)>`.
 * The signature covers the ASCII text `hs1.<base64url(claims JSON)>`.
 */
export const TOKEN_PREFIX = 'hs1';

export const TokenClaims = z.object({
  v: z.literal(1),
  kid: z.string().min(1), // signing key id
  jti: z.string().min(1), // token id
  sub: z.string().min(1), // identity
  kind: z.enum(['identity', 'hop']),
  iat: z.number().int(), // seconds since epoch
  exp: z.number().int(),
  parent: z.string().min(1).optional(), // parent session id, for hop tokens
  root: z.string().min(1).optional(), // token id this one derives from, for hop tokens
}).strict();
export type TokenClaims = z.infer<typeof TokenClaims>;

export interface IssueOptions {
  identity: string;
  ttlSeconds: number;
  kind?: 'identity' | 'hop';
  parentSession?: string;
  rootTokenId?: string;
}

export function issueToken(signer: Signer, clock: Clock, opts: IssueOptions): { token: string; claims: TokenClaims } {
  if (!(opts.ttlSeconds > 0)) throw new RangeError('token lifetime must be positive');
  const iat = Math.floor(clock.nowMicros() / 1e6);
  const claims: TokenClaims = {
    v: 1,
    kid: signer.keyId,
    jti: randomBytes(12).toString('base64url'),
    sub: opts.identity,
    kind: opts.kind ?? 'identity',
    iat,
    exp: iat + Math.ceil(opts.ttlSeconds),
    ...(opts.parentSession ? { parent: opts.parentSession } : {}),
    ...(opts.rootTokenId ? { root: opts.rootTokenId } : {}),
  };
  const body = `${TOKEN_PREFIX}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return { token: `${body}.${signer.sign(body).toString('base64url')}`, claims };
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Verifies a token's form, signature and lifetime, and that it names `identity`.
 * Throws a HopscopeError with a stable code; never echoes the token itself.
 */
export function verifyToken(token: string, keys: TrustedKeys, clock: Clock, identity?: string): TokenClaims {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== TOKEN_PREFIX || !BASE64URL.test(parts[1]!) || !BASE64URL.test(parts[2]!)) {
    throw new HopscopeError('TOKEN_MALFORMED', 'the token is malformed');
  }
  let claims: TokenClaims;
  try {
    claims = TokenClaims.parse(JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')));
  } catch (err) {
    throw new HopscopeError('TOKEN_MALFORMED', 'the token is malformed', String(err));
  }
  const key = keys.get(claims.kid);
  if (!key) throw new HopscopeError('TOKEN_UNKNOWN_KEY', 'the token was signed by an unknown key', claims.kid);
  if (!verifySignature(key, `${parts[0]}.${parts[1]}`, Buffer.from(parts[2]!, 'base64url'))) {
    throw new HopscopeError('TOKEN_BAD_SIGNATURE', 'the token signature is invalid');
  }
  const now = clock.nowMicros() / 1e6;
  if (now >= claims.exp) throw new HopscopeError('TOKEN_EXPIRED', 'the token has expired', `exp=${claims.exp}`);
  if (now + 60 < claims.iat) throw new HopscopeError('TOKEN_NOT_YET_VALID', 'the token is not valid yet');
  if (identity !== undefined && claims.sub !== identity) {
    throw new HopscopeError('TOKEN_WRONG_IDENTITY', `the token was not issued to ${identity}`, `sub=${claims.sub}`);
  }
  return claims;
}

/** Parses durations such as `90s`, `15m`, `2h`, `1d` (a bare number is seconds). */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new RangeError(`not a duration: ${JSON.stringify(text)} (use e.g. 90s, 15m, 2h, 1d)`);
  const n = Number(m[1]);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[m[2] ?? 's']!;
  return n * unit;
}
