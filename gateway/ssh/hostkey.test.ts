import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { generateHostKey, HOST_KEY_FILE, hostKeyProblem, loadOrCreateHostKey } from './hostkey.js';

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'hopscope-hostkey-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** The raw 32-byte public key of an authorized_keys line. */
const rawPublic = (line: string) => {
  const blob = Buffer.from(line.split(' ')[1]!, 'base64');
  return blob.subarray(4 + blob.readUInt32BE(0) + 4);
};

describe('SSH host keys', () => {
  it('reads back every one of 2,000 generated keys, including those whose public key starts with a zero byte', () => {
    let leadingZero = 0;
    for (let i = 0; i < 2000; i++) {
      const pair = generateHostKey();
      const pub = rawPublic(pair.public);
      expect(pub.length).toBe(32);
      if (pub[0] === 0) leadingZero++;
      const key = ssh2.utils.parseKey(pair.private);
      if (key instanceof Error || Array.isArray(key)) throw new Error(`key ${i} does not parse: ${String(key)}\n${pair.private}`);
      expect(key.getPublicSSH().equals(Buffer.from(pair.public.split(' ')[1]!, 'base64'))).toBe(true);
      const data = Buffer.from(`probe ${i}`);
      expect(key.verify(data, key.sign(data) as Buffer)).toBe(true);
    }
    // About 1 in 256 has a leading zero byte: the case ssh2's own keygen got wrong. Not asserted
    // (random), but reported so a run that met none is visible.
    console.log(`host keys: 2000 generated and read back, ${leadingZero} with a leading zero byte`);
  });

  it('covers the leading-zero case deterministically: keys are generated until one starts with 0x00', () => {
    for (let i = 0; i < 20_000; i++) {
      const pair = generateHostKey();
      if (rawPublic(pair.public)[0] !== 0) continue;
      expect(hostKeyProblem(pair.private)).toBeUndefined();
      return;
    }
    throw new Error('no key with a leading zero byte in 20,000 (chance about 1e-34)');
  });

  it('writes keys that OpenSSH itself reads (ssh-keygen -y gives the same public key)', () => {
    const dir = tempDir();
    loadOrCreateHostKey(dir);
    const path = join(dir, HOST_KEY_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const derived = execFileSync('ssh-keygen', ['-y', '-f', path], { encoding: 'utf8' }).trim().split(' ').slice(0, 2).join(' ');
    expect(readFileSync(`${path}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ')).toBe(derived);
  });

  it('keeps the stored key across starts', () => {
    const dir = tempDir();
    const first = loadOrCreateHostKey(dir);
    expect(loadOrCreateHostKey(dir).equals(first)).toBe(true);
  });

  it('refuses to start on a stored key it cannot read, naming the file, and leaves the file as it was', () => {
    const dir = tempDir();
    const path = join(dir, HOST_KEY_FILE);
    // A key as ssh2's keygen wrote it for a public key starting with 0x00: a 31-byte public key.
    const broken = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMgAAAAtz\n'
      + 'c2gtZWQyNTUxOQAAAB/8wuIozYYsCDjKnYF70mh5LeVx+2hb0hEAayHoucm+AAAA\noBGE0F8RhNBfAAAAC3NzaC1lZDI1NTE5AAAAH/zC4ijNhiwIOMqdgXvSaHkt5XH7\n'
      + 'aFvSEQBrIei5yb4AAAA/fsfzz5EIUkkTsAIVSisy0/fo8xSWWFyR2Rn6eDVlLt78\nwuIozYYsCDjKnYF70mh5LeVx+2hb0hEAayHoucm+AAAAGWhvcHNjb3BlIGdhdGV3\n'
      + 'YXkgaG9zdCBrZXkBAgMEBQY=\n-----END OPENSSH PRIVATE KEY-----\n';
    writeFileSync(path, broken, { mode: 0o600 });
    expect(() => loadOrCreateHostKey(dir)).toThrow(new RegExp(`SSH host key ${path} cannot be used: it does not parse`));
    expect(readFileSync(path, 'utf8')).toBe(broken);
    writeFileSync(path, 'not a key at all\n');
    expect(() => loadOrCreateHostKey(dir)).toThrow(/cannot be used/);
  });

  it('refuses a stored public key in place of the private one', () => {
    const dir = tempDir();
    writeFileSync(join(dir, HOST_KEY_FILE), `${generateHostKey().public}\n`);
    expect(() => loadOrCreateHostKey(dir)).toThrow(/it is not a private key/);
  });
});
