import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Signs with the gateway's Ed25519 key. The private key never leaves this object. */
export interface Signer {
  readonly keyId: string;
  readonly publicKey: string; // SPKI PEM
  sign(data: Buffer | string): Buffer;
}

/** Public keys a reader trusts, by key id. */
export type TrustedKeys = ReadonlyMap<string, KeyObject>;

export const SIGNING_KEY_FILE = 'gateway_ed25519';
export const PUBLIC_KEY_FILE = 'gateway_ed25519.pub';

/** A key id is the first 16 hex digits of the SHA-256 of the SPKI DER: stable and short. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

export function signerFromPrivateKey(privateKey: KeyObject): Signer {
  const publicKey = createPublicKey(privateKey);
  const keyId = keyIdOf(publicKey);
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return {
    keyId,
    publicKey: pem,
    sign: (data) => sign(null, typeof data === 'string' ? Buffer.from(data) : data, privateKey),
  };
}

export function generateSigner(): Signer {
  return signerFromPrivateKey(generateKeyPairSync('ed25519').privateKey);
}

export function verifySignature(publicKey: KeyObject, data: Buffer | string, signature: Buffer): boolean {
  try {
    return verify(null, typeof data === 'string' ? Buffer.from(data) : data, publicKey, signature);
  } catch {
    return false;
  }
}

export function publicKeyFromPem(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 public key');
  return key;
}

export function trustedKeysOf(pems: Iterable<string>): TrustedKeys {
  const keys = new Map<string, KeyObject>();
  for (const pem of pems) {
    const key = publicKeyFromPem(pem);
    keys.set(keyIdOf(key), key);
  }
  return keys;
}

/**
 * Loads the gateway signing key from `dir`, creating the directory (0700) and the
 * key pair (private 0600) on first use.
 */
export function loadOrCreateSigner(dir: string): Signer {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const privatePath = join(dir, SIGNING_KEY_FILE);
  if (existsSync(privatePath)) {
    return signerFromPrivateKey(createPrivateKey(readFileSync(privatePath)));
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writeFileSync(privatePath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  chmodSync(privatePath, 0o600);
  writeFileSync(join(dir, PUBLIC_KEY_FILE), publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  return signerFromPrivateKey(privateKey);
}

/** Ed25519 public keys from files, or from every `*.pub` / `*.pem` file of a directory (a keys.dir). */
export function loadTrustedKeys(paths: Iterable<string>): TrustedKeys {
  const pems: string[] = [];
  for (const path of paths) {
    if (!existsSync(path)) throw new Error(`no such key file or directory: ${path}`);
    const files = statSync(path).isDirectory()
      ? readdirSync(path).filter((f) => f.endsWith('.pub') || f.endsWith('.pem')).map((f) => join(path, f))
      : [path];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      if (text.includes('BEGIN PUBLIC KEY')) pems.push(text);
    }
  }
  return trustedKeysOf(pems);
}
