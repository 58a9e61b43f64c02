import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  PUBLIC_KEY_FILE, SIGNING_KEY_FILE, generateSigner, keyIdOf, loadOrCreateSigner, loadTrustedKeys, publicKeyFromPem,
  trustedKeysOf, verifySignature,
} from './keys.js';
import { TempDir } from './recording/testing/recordings.js';

const tmp = new TempDir();
afterAll(() => tmp.remove());
const mode = (path: string) => statSync(path).mode & 0o777;

describe('loadOrCreateSigner', () => {
  it('creates the key pair on first use: private 0600 in a 0700 folder', () => {
    const dir = join(tmp.path, 'keys-new', 'nested');
    const signer = loadOrCreateSigner(dir);
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, SIGNING_KEY_FILE))).toBe(0o600);
    expect(existsSync(join(dir, PUBLIC_KEY_FILE))).toBe(true);
    expect(signer.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(signer.publicKey).toContain('BEGIN PUBLIC KEY');
  });

  it('reuses the same key on the second call', () => {
    const dir = join(tmp.path, 'keys-reuse');
    const first = loadOrCreateSigner(dir);
    const second = loadOrCreateSigner(dir);
    expect(second.keyId).toBe(first.keyId);
    expect(second.publicKey).toBe(first.publicKey);
    // A signature by one verifies with the other's public key: it is the same private key.
    const sig = first.sign('hello');
    expect(verifySignature(publicKeyFromPem(second.publicKey), 'hello', sig)).toBe(true);
  });

  it('signs so that only the matching public key verifies, and only the same data', () => {
    const a = generateSigner();
    const b = generateSigner();
    expect(a.keyId).not.toBe(b.keyId);
    const sig = a.sign(Buffer.from('data'));
    expect(verifySignature(publicKeyFromPem(a.publicKey), 'data', sig)).toBe(true);
    expect(verifySignature(publicKeyFromPem(a.publicKey), 'Data', sig)).toBe(false);
    expect(verifySignature(publicKeyFromPem(b.publicKey), 'data', sig)).toBe(false);
    expect(verifySignature(publicKeyFromPem(a.publicKey), 'data', Buffer.from('short'))).toBe(false);
  });
});

describe('trusted keys', () => {
  it('loads every PEM public key of a directory, by key id, ignoring private keys and other files', () => {
    const dir = join(tmp.path, 'keys-trust');
    const gateway = loadOrCreateSigner(dir); // also writes the private key, which must be ignored
    const other = generateSigner();
    writeFileSync(join(dir, 'old-gateway.pem'), other.publicKey);
    writeFileSync(join(dir, 'notes.pub'), 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI not a PEM\n');
    writeFileSync(join(dir, 'readme.txt'), other.publicKey);
    const keys = loadTrustedKeys([dir]);
    expect([...keys.keys()].sort()).toEqual([gateway.keyId, other.keyId].sort());
    expect(keyIdOf(keys.get(gateway.keyId)!)).toBe(gateway.keyId);
  });

  it('loads a single key file, and merges several paths', () => {
    const a = generateSigner();
    const b = generateSigner();
    const fileA = tmp.write('a.pub', a.publicKey);
    const fileB = tmp.write('b.key', b.publicKey); // a named file is read whatever its extension
    expect([...loadTrustedKeys([fileA]).keys()]).toEqual([a.keyId]);
    expect(new Set(loadTrustedKeys([fileA, fileB]).keys())).toEqual(new Set([a.keyId, b.keyId]));
  });

  it('throws a clear error for a missing path', () => {
    const missing = join(tmp.path, 'no-such-keys');
    expect(() => loadTrustedKeys([missing])).toThrow(`no such key file or directory: ${missing}`);
  });

  it('refuses a public key that is not Ed25519', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => trustedKeysOf([rsa])).toThrow('not an Ed25519 public key');
    expect(() => loadTrustedKeys([tmp.write('rsa.pub', rsa)])).toThrow('not an Ed25519 public key');
  });

  it('returns no keys for an empty directory or no paths', () => {
    const dir = join(tmp.path, 'keys-empty');
    mkdirSync(dir);
    expect(loadTrustedKeys([dir]).size).toBe(0);
    expect(loadTrustedKeys([]).size).toBe(0);
  });
});
