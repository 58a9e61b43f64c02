import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import ssh2 from 'ssh2';
import { HopscopeError } from '../../common/errors.js';
import { readSecret, type SshTargetConfig } from '../config.js';
import { normalizeAddress } from '../lineage.js';

export interface SshUpstream {
  client: ssh2.Client;
  /** The address the gateway reached the target at. */
  address: string;
  hostKeyFingerprint: string;
}

/** `SHA256:<base64, no padding>` of a host key blob, as OpenSSH prints it. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Whether a presented host key matches a pin: an OpenSSH public key line or a SHA256 fingerprint. */
export function matchesPin(blob: Buffer, pin: string): boolean {
  const trimmed = pin.trim();
  if (trimmed.startsWith('SHA256:')) return fingerprintOf(blob) === trimmed;
  const base64 = trimmed.split(/\s+/)[1];
  return base64 !== undefined && Buffer.from(base64, 'base64').equals(blob);
}

/**
 * Connects to the target's OpenSSH with the gateway's own key (the client never
 * sees it), checking the host key against the pin when one is configured.
 */
export function connectSshUpstream(target: SshTargetConfig, timeoutMs = 10_000): Promise<SshUpstream> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let presented: Buffer | undefined;
    let mismatch = false;
    const fail = (err: HopscopeError) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      client.end();
      reject(err);
    };
    let privateKey: string;
    try {
      privateKey = readSecret(target.privateKey, `target ${target.name} privateKey`);
    } catch (err) {
      reject(err);
      return;
    }
    const socket = connect({ host: target.host, port: target.port, noDelay: true });
    const client = new ssh2.Client();
    const timer = setTimeout(() => fail(new HopscopeError('UPSTREAM_UNAVAILABLE', 'timed out connecting to the target')), timeoutMs);
    socket.once('error', (err: NodeJS.ErrnoException) => fail(new HopscopeError('UPSTREAM_UNAVAILABLE',
      `the target is unavailable (${err.code ?? err.message})`, err.message)));
    socket.once('connect', () => {
      client.connect({
        sock: socket, username: target.user, privateKey, readyTimeout: timeoutMs, keepaliveInterval: 30_000,
        hostVerifier: (key: Buffer) => {
          presented = key;
          mismatch = target.hostKey !== undefined && !matchesPin(key, target.hostKey);
          return !mismatch;
        },
      });
    });
    client.once('ready', () => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      resolve({ client, address: normalizeAddress(socket.remoteAddress ?? target.host), hostKeyFingerprint: presented ? fingerprintOf(presented) : '' });
    });
    client.on('error', (err: Error & { level?: string }) => {
      clearTimeout(timer);
      if (mismatch) {
        fail(new HopscopeError('UPSTREAM_HOST_KEY_MISMATCH', "the target's host key does not match the pinned key: refusing to connect",
          `presented ${presented ? fingerprintOf(presented) : 'nothing'}`));
      } else if (err.level === 'client-authentication') {
        fail(new HopscopeError('UPSTREAM_AUTH_FAILED', 'the gateway could not authenticate to the target', err.message));
      } else {
        fail(new HopscopeError('UPSTREAM_UNAVAILABLE', `the target is unavailable (${err.message})`, err.message));
      }
    });
  });
}
