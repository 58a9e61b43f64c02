import { describe, expect, it } from 'vitest';
import { fixedClock, type Clock } from '../clock.js';
import { HopscopeError, type ErrorCode } from '../errors.js';
import { generateSigner, signerFromPrivateKey, trustedKeysOf, type Signer } from '../keys.js';
import { TOKEN_PREFIX, issueToken, parseDuration, verifyToken } from './token.js';
import { generateKeyPairSync } from 'node:crypto';

const NOW = 1_700_000_000; // seconds
const at = (seconds: number): Clock => fixedClock(seconds * 1e6, 0);
const signer = generateSigner();
const keys = trustedKeysOf([signer.publicKey]);

function issue(opts: Partial<Parameters<typeof issueToken>[2]> = {}, by: Signer = signer, clock = at(NOW)) {
  return issueToken(by, clock, { identity: 'alice', ttlSeconds: 900, ...opts });
}

function codeOf(fn: () => unknown): ErrorCode | 'no error' {
  try {
    fn();
  } catch (err) {
    if (err instanceof HopscopeError) return err.code;
    throw err;
  }
  return 'no error';
}

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A token with these claims, correctly signed: only the claims are wrong. */
function signedWith(claims: unknown, by: Signer = signer): string {
  const body = `${TOKEN_PREFIX}.${b64(claims)}`;
  return `${body}.${by.sign(body).toString('base64url')}`;
}

describe('issueToken / verifyToken', () => {
  it('round-trips an identity token', () => {
    const { token, claims } = issue();
    expect(token).toMatch(/^hs1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(claims).toMatchObject({ v: 1, kid: signer.keyId, sub: 'alice', kind: 'identity', iat: NOW, exp: NOW + 900 });
    expect(claims.parent).toBeUndefined();
    expect(verifyToken(token, keys, at(NOW + 10), 'alice')).toEqual(claims);
    expect(verifyToken(token, keys, at(NOW + 10))).toEqual(claims);
  });

  it('round-trips a hop token with its parent session and root token', () => {
    const { token, claims } = issue({ kind: 'hop', parentSession: 'sess-9', rootTokenId: 'root-1' });
    expect(verifyToken(token, keys, at(NOW))).toMatchObject({ kind: 'hop', parent: 'sess-9', root: 'root-1' });
    expect(claims.jti).not.toBe(issue().claims.jti);
  });

  it('rounds a fractional lifetime up and refuses a non-positive one', () => {
    expect(issue({ ttlSeconds: 0.5 }).claims.exp).toBe(NOW + 1);
    expect(() => issue({ ttlSeconds: 0 })).toThrow(RangeError);
    expect(() => issue({ ttlSeconds: -5 })).toThrow(RangeError);
    expect(() => issue({ ttlSeconds: Number.NaN })).toThrow(RangeError);
  });

  it('never echoes the token in its errors', () => {
    const { token } = issue();
    try {
      verifyToken(token, keys, at(NOW + 10_000));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(HopscopeError);
      expect((err as HopscopeError).message).not.toContain(token.split('.')[1]!);
      expect((err as HopscopeError).message).toBe('the token has expired');
    }
  });
});

describe('refusals, each with a stable code', () => {
  const { token, claims } = issue();
  const [prefix, body, sig] = token.split('.') as [string, string, string];
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);

  it('refuses a token signed by another key that claims the trusted kid', () => {
    const attacker = generateSigner();
    expect(codeOf(() => verifyToken(signedWith(claims, attacker), keys, at(NOW)))).toBe('TOKEN_BAD_SIGNATURE');
    // …and the attacker's key on its own is unknown.
    expect(codeOf(() => verifyToken(issue({}, attacker).token, keys, at(NOW)))).toBe('TOKEN_UNKNOWN_KEY');
  });

  it('refuses a token with a flipped byte in its claims or its signature', () => {
    const tampered = b64({ ...claims, sub: 'mallory' });
    expect(codeOf(() => verifyToken(`${prefix}.${tampered}.${sig}`, keys, at(NOW)))).toBe('TOKEN_BAD_SIGNATURE');
    expect(codeOf(() => verifyToken(`${prefix}.${b64({ ...claims, exp: claims.exp + 1 })}.${sig}`, keys, at(NOW)))).toBe('TOKEN_BAD_SIGNATURE');
    expect(codeOf(() => verifyToken(`${prefix}.${body}.${flip(sig, 5)}`, keys, at(NOW)))).toBe('TOKEN_BAD_SIGNATURE');
    expect(codeOf(() => verifyToken(`${prefix}.${body}.${sig.slice(0, -4)}`, keys, at(NOW)))).toBe('TOKEN_BAD_SIGNATURE');
  });

  it('refuses an expired token, exactly at its expiry', () => {
    expect(codeOf(() => verifyToken(token, keys, at(NOW + 899)))).toBe('no error');
    expect(codeOf(() => verifyToken(token, keys, at(NOW + 900)))).toBe('TOKEN_EXPIRED');
    expect(codeOf(() => verifyToken(token, keys, at(NOW + 86_400)))).toBe('TOKEN_EXPIRED');
  });

  it('refuses a token not valid yet, allowing one minute of clock skew', () => {
    expect(codeOf(() => verifyToken(token, keys, at(NOW - 60)))).toBe('no error');
    expect(codeOf(() => verifyToken(token, keys, at(NOW - 61)))).toBe('TOKEN_NOT_YET_VALID');
  });

  it('refuses a token presented for another identity', () => {
    expect(codeOf(() => verifyToken(token, keys, at(NOW), 'bob'))).toBe('TOKEN_WRONG_IDENTITY');
    expect(codeOf(() => verifyToken(token, keys, at(NOW), 'Alice'))).toBe('TOKEN_WRONG_IDENTITY');
  });

  it('refuses a token signed by an unknown key', () => {
    const other = signerFromPrivateKey(generateKeyPairSync('ed25519').privateKey);
    expect(codeOf(() => verifyToken(issue({}, other).token, keys, at(NOW)))).toBe('TOKEN_UNKNOWN_KEY');
    expect(codeOf(() => verifyToken(token, new Map(), at(NOW)))).toBe('TOKEN_UNKNOWN_KEY');
  });

  it.each([
    ['a wrong prefix', () => `hs2.${body}.${sig}`],
    ['no prefix', () => `${body}.${sig}`],
    ['two parts', () => `${prefix}.${body}`],
    ['four parts', () => `${token}.${sig}`],
    ['empty', () => ''],
    ['an empty signature', () => `${prefix}.${body}.`],
    ['non-base64 claims', () => `${prefix}.${body.slice(0, 10)}+/=.${sig}`],
    ['non-base64 signature', () => `${prefix}.${body}.${sig.slice(0, 10)}*`],
    ['claims that are not JSON', () => signedWith('not json {')],
    ['claims that are a JSON string', () => signedWith('"alice"')],
    ['extra claims', () => signedWith({ ...claims, admin: true })],
    ['a missing subject', () => signedWith({ ...claims, sub: undefined })],
    ['a missing expiry', () => signedWith({ ...claims, exp: undefined })],
    ['a missing key id', () => signedWith({ ...claims, kid: undefined })],
    ['an unknown version', () => signedWith({ ...claims, v: 2 })],
    ['an unknown kind', () => signedWith({ ...claims, kind: 'root' })],
    ['a fractional expiry', () => signedWith({ ...claims, exp: claims.exp + 0.5 })],
  ])('refuses a malformed token: %s', (_what, make) => {
    expect(codeOf(() => verifyToken(make(), keys, at(NOW)))).toBe('TOKEN_MALFORMED');
  });
});

describe('parseDuration', () => {
  it.each([
    ['90s', 90], ['15m', 900], ['2h', 7200], ['1d', 86_400], ['45', 45], ['1.5h', 5400], ['500ms', 0.5], [' 10m ', 600], ['0', 0],
  ])('parses %j as %d seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(['', 'abc', '15 m', '-5m', '5w', '1h30m', 'm', '1e3', '.5h', '15M'])('refuses %j', (text) => {
    expect(() => parseDuration(text)).toThrow(RangeError);
    expect(() => parseDuration(text)).toThrow(/not a duration: .*use e\.g\. 90s, 15m, 2h, 1d/);
  });
});
