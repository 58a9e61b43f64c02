import ssh2 from 'ssh2';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, isAddressInUse } from './ports.js';
import { run, spawnLong, type LongRunning } from './processes.js';

/** A real OpenSSH server on 127.0.0.1 with a temporary config, host key and one client key. */
export interface SshdServer {
  host: string;
  port: number;
  /** The login user: whoever runs the tests (sshd can only switch to other users as root). */
  user: string;
  /** Private key (OpenSSH format) authorized for `user`: the gateway's target credential. */
  clientKeyPath: string;
  /** `ssh-ed25519 AAAA...` of the host key, for pinning. */
  hostPublicKey: string;
  dir: string;
  log(): string;
  stop(): Promise<void>;
}

const SSHD = '/usr/sbin/sshd';

/**
 * Starts sshd in the foreground (`-D -e`) with `AcceptEnv HOPSCOPE_*`, the sftp
 * subsystem, public-key login only, and TCP forwarding allowed (the gateway
 * decides what may be forwarded). Extra authorized keys may be given.
 */
export async function startSshd(opts: { authorizedKeys?: string[] } = {}): Promise<SshdServer> {
  const dir = await mkdtemp(join(tmpdir(), 'hopscope-sshd-'));
  await chmod(dir, 0o755);
  const keygen = async (name: string) => {
    const res = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `hopscope-test-${name}`, '-f', join(dir, name)]);
    if (res.code !== 0) throw new Error(`ssh-keygen failed: ${res.stderr}`);
    return (await readFile(join(dir, `${name}.pub`), 'utf8')).trim();
  };
  const hostPublicKey = await keygen('host_ed25519');
  const clientPublicKey = await keygen('client_ed25519');
  await writeFile(join(dir, 'authorized_keys'), [clientPublicKey, ...(opts.authorizedKeys ?? [])].join('\n') + '\n', { mode: 0o600 });
  const user = userInfo().username;
  await run('mkdir', ['-p', '/run/sshd']);
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const config = join(dir, 'sshd_config');
    await writeFile(config, [
      `HostKey ${join(dir, 'host_ed25519')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'ListenAddress 127.0.0.1',
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'AcceptEnv HOPSCOPE_* LANG LC_*',
      'AllowTcpForwarding yes',
      'PrintMotd no',
      'PrintLastLog no',
      'LogLevel VERBOSE',
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'));
    const proc: LongRunning = spawnLong(SSHD, ['-D', '-e', '-f', config, '-p', String(port)]);
    try {
      await proc.waitForOutput(/Server listening on 127\.0\.0\.1 port/, 15_000);
    } catch (err) {
      await proc.stop();
      if (attempt < 3 && isAddressInUse(proc.output())) continue;
      throw err;
    }
    return {
      host: '127.0.0.1', port, user, clientKeyPath: join(dir, 'client_ed25519'), hostPublicKey, dir,
      log: () => proc.output(),
      stop: async () => {
        await proc.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}

/** The gateway target for this sshd. */
export function sshTargetOf(sshd: SshdServer, name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, type: 'ssh', host: sshd.host, port: sshd.port, user: sshd.user, privateKey: { file: sshd.clientKeyPath }, ...extra };
}

/**
 * Options and environment for the real OpenSSH client through the gateway:
 * no known_hosts, no agent or default keys, the token given as password by an
 * SSH_ASKPASS script (sshpass is not installed). OpenSSH prints the gateway's
 * refusal banners only at LogLevel INFO.
 */
export async function sshClientOf(dir: string, token: string, opts: { logLevel?: 'ERROR' | 'INFO' } = {}): Promise<{ options: string[]; env: Record<string, string | undefined> }> {
  const askpass = join(dir, `askpass-${Math.random().toString(36).slice(2)}.sh`);
  await writeFile(askpass, `#!/bin/sh\nprintf '%s\\n' '${token}'\n`, { mode: 0o700 });
  return {
    options: [
      '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', `LogLevel=${opts.logLevel ?? 'ERROR'}`,
      '-o', 'PubkeyAuthentication=no', '-o', 'PreferredAuthentications=password,keyboard-interactive',
      '-o', 'NumberOfPasswordPrompts=1', '-o', 'BatchMode=no',
    ],
    env: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0', SSH_AUTH_SOCK: undefined },
  };
}

/** An ssh2 client connected through the gateway, for what a script does more easily than the OpenSSH client. */
export async function ssh2Client(port: number, username: string, auth: { password?: string; keyboard?: string; privateKey?: string }): Promise<ssh2.Client> {
  const client = new ssh2.Client();
  if (auth.keyboard !== undefined) {
    client.on('keyboard-interactive', (_name, _instructions, _lang, _prompts, finish) => finish([auth.keyboard!]));
  }
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve).once('error', reject);
    client.connect({
      host: '127.0.0.1', port, username, readyTimeout: 15_000,
      ...(auth.password !== undefined ? { password: auth.password } : {}),
      ...(auth.keyboard !== undefined ? { tryKeyboard: true } : {}),
      ...(auth.privateKey !== undefined ? { privateKey: auth.privateKey } : {}),
    });
  });
  return client;
}

/**
 * Opens a shell on a pty (xterm, 200×24) over an ssh2 client and resolves with all it printed once it closes.
 * `drive` types into it, reading the output so far; `stderr` adds the channel's stderr to that output.
 */
export function ptyShell(client: ssh2.Client, drive: (ch: ssh2.ClientChannel, output: () => string) => Promise<void>, opts: { stderr?: boolean } = {}): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    client.shell({ term: 'xterm', cols: 200, rows: 24 }, (err, ch: ssh2.ClientChannel) => {
      if (err) return reject(err);
      let output = '';
      ch.on('data', (d: Buffer) => (output += d.toString('utf8')));
      if (opts.stderr) ch.stderr.on('data', (d: Buffer) => (output += d.toString('utf8')));
      ch.on('close', () => resolve(output));
      drive(ch, () => output).catch(reject);
    });
  });
}

/** Runs a command on an ssh2 client; resolves with its output and exit. */
export function ssh2Exec(client: ssh2.Client, command: string, opts: ssh2.ExecOptions = {}, input?: string):
  Promise<{ stdout: string; stderr: string; code: number | null; signal: string | undefined }> {
  return new Promise((resolve, reject) => {
    client.exec(command, opts, (err, channel) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      let code: number | null = null;
      let signal: string | undefined;
      channel.on('data', (d: Buffer) => (stdout += d.toString()));
      channel.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      channel.on('exit', (c: number | null, s?: string) => ((code = c), (signal = s)));
      channel.on('close', () => resolve({ stdout, stderr, code, signal }));
      if (input !== undefined) channel.end(input);
    });
  });
}
