import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { HopscopeError } from '../../common/errors.js';

export const HOST_KEY_FILE = 'ssh_host_ed25519_key';
const COMMENT = 'hopscope gateway host key';
const KEY_TYPE = 'ssh-ed25519';

/**
 * The gateway's SSH host key, in keys.dir, created (0600, OpenSSH format) on
 * first start so clients can pin it. A new key is read back and checked before
 * it is saved; a stored key that cannot be read stops the start with an error
 * naming the file — it is never replaced silently, clients may have pinned it.
 */
export function loadOrCreateHostKey(keysDir: string): Buffer {
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const path = join(keysDir, HOST_KEY_FILE);
  if (!existsSync(path)) {
    const pair = generateHostKey();
    writeFileSync(path, pair.private, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
    writeFileSync(`${path}.pub`, `${pair.public}\n`, { mode: 0o644 });
  }
  const stored = readFileSync(path);
  const problem = hostKeyProblem(stored);
  if (problem) {
    throw new HopscopeError('CONFIG_INVALID', `the SSH host key ${path} cannot be used: ${problem}. It was not replaced: `
      + 'restore the right key, or remove it (and its .pub) to have a new one generated — clients that pinned the old one will see a changed host key');
  }
  return stored;
}

/**
 * A new Ed25519 host key: `private` in OpenSSH format, `public` as an
 * authorized_keys line. Serialized here rather than by ssh2's keygen, which
 * strips every leading zero byte of the DER public key — the BIT STRING's
 * unused-bits byte and, for one key in 256, the key's own first byte — and so
 * wrote a 31-byte public key that nothing (ssh2 included) can read back.
 * Checked (parsed, signed, verified) before it is returned.
 */
export function generateHostKey(): { private: string; public: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d ?? '', 'base64url');
  const pub = Buffer.from(jwk.x ?? '', 'base64url');
  if (seed.length !== 32 || pub.length !== 32) throw new Error(`unexpected Ed25519 key sizes (${seed.length}, ${pub.length})`);
  const pair = { private: openSshPrivateKey(seed, pub, COMMENT), public: `${KEY_TYPE} ${sshPublicBlob(pub).toString('base64')} ${COMMENT}` };
  const problem = hostKeyProblem(pair.private, pub);
  if (problem) throw new Error(`a generated SSH host key failed its check: ${problem}`);
  return pair;
}

/**
 * Why a host key cannot serve (undefined when it can): it must parse as one
 * private key, have the expected public key when one is given, and sign data
 * its own public key verifies.
 */
export function hostKeyProblem(text: string | Buffer, expectedPublic?: Buffer): string | undefined {
  const parsed = ssh2.utils.parseKey(text);
  if (parsed instanceof Error) return `it does not parse (${parsed.message})`;
  const key = Array.isArray(parsed) ? undefined : parsed;
  if (!key) return 'it holds more than one key';
  if (!key.isPrivateKey()) return 'it is not a private key';
  if (key.type !== KEY_TYPE) return `it is a ${key.type} key, not ${KEY_TYPE}`;
  if (expectedPublic && !key.getPublicSSH().equals(sshPublicBlob(expectedPublic))) return 'its public key is not the one generated';
  const probe = randomBytes(32);
  let signature: Buffer | Error;
  try {
    signature = key.sign(probe);
  } catch (err) {
    return `it cannot sign (${(err as Error).message})`;
  }
  if (signature instanceof Error) return `it cannot sign (${signature.message})`;
  const publicOnly = ssh2.utils.parseKey(`${KEY_TYPE} ${key.getPublicSSH().toString('base64')}`);
  if (publicOnly instanceof Error || Array.isArray(publicOnly) || !publicOnly.verify(probe, signature)) return 'its public key does not verify its own signature';
  return undefined;
}

function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function sshPublicBlob(pub: Buffer): Buffer {
  return Buffer.concat([sshString(KEY_TYPE), sshString(pub)]);
}

/** PROTOCOL.key: "openssh-key-v1", no cipher, one key; the private section padded to 8 bytes. */
function openSshPrivateKey(seed: Buffer, pub: Buffer, comment: string): string {
  const check = randomBytes(4);
  const section = Buffer.concat([
    check, check,
    sshString(KEY_TYPE), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment),
  ]);
  const padLength = (8 - (section.length % 8)) % 8;
  const padding = Buffer.from(Array.from({ length: padLength }, (_, i) => i + 1));
  const count = Buffer.alloc(4);
  count.writeUInt32BE(1);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'), sshString('none'), sshString('none'), sshString(''), count,
    sshString(sshPublicBlob(pub)), sshString(Buffer.concat([section, padding])),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}
