import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';

export const HOST_KEY_FILE = 'ssh_host_ed25519_key';

/** The gateway's SSH host key, in keys.dir, created (0600, OpenSSH format) on first start so clients can pin it. */
export function loadOrCreateHostKey(keysDir: string): Buffer {
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  const path = join(keysDir, HOST_KEY_FILE);
  if (!existsSync(path)) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'hopscope gateway host key' });
    writeFileSync(path, pair.private, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
    writeFileSync(`${path}.pub`, `${pair.public}\n`, { mode: 0o644 });
  }
  return readFileSync(path);
}
