import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trustedKeysOf } from '../common/keys.js';
import { EventType, verifyRecordingFile, type RecordingEvent } from '../common/recording/index.js';
import { eventually, readEvents, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { run } from './helpers/processes.js';
import { ssh2Client, ssh2Exec, sshClientOf, startSshd, type SshdServer } from './helpers/sshd.js';

let sshd: SshdServer;
let gw: TestGateway;
const clientKey = ssh2.utils.generateKeyPairSync('ed25519');

beforeAll(async () => {
  sshd = await startSshd();
  gw = await startTestGateway(undefined, {
    identities: [{ name: 'agent', kind: 'machine', targets: ['host'], publicKeys: [clientKey.public] }],
    masking: [{ name: 'email', builtin: 'email' }],
  }, { ssh: sshd });
});
afterAll(async () => {
  await gw?.stop();
  await sshd?.stop();
});

const port = () => gw.gateway.ssh!.port;
async function ssh(args: string[], input = '') {
  const { options, env } = await sshClientOf(gw.dir, gw.token());
  return run('ssh', [...options, '-p', String(port()), 'agent:host@127.0.0.1', ...args], { env, input });
}

/** The sealed recording whose events satisfy `match`. */
async function recordingWhere(match: (events: RecordingEvent[]) => boolean) {
  return eventually(async () => {
    for (const file of await gw.sessionFiles()) {
      const events = await readEvents(file);
      if (events.at(-1)?.type === EventType.Seal && match(events)) return { file, events };
    }
    return undefined;
  });
}
const withExec = (command: string) => (events: RecordingEvent[]) => events.some((e) => e.type === EventType.SshExec && e.data.command === command);

describe('SSH through the gateway', () => {
  it('runs an exec with stdout, stderr and exit status, and records it intact', async () => {
    const command = 'echo out; echo err >&2; exit 3';
    const res = await ssh([command]);
    expect(res).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    const { file, events } = await recordingWhere(withExec(command));
    expect(events[0]!.data).toMatchObject({ identity: 'agent', target: 'host', protocol: 'ssh', auth: 'password' });
    const outputs = events.filter((e) => e.type === EventType.SshOutput).map((e) => [e.data.stream, e.data.data, e.data.encoding]);
    expect(outputs).toEqual(expect.arrayContaining([['stdout', 'out\n', 'utf8'], ['stderr', 'err\n', 'utf8']]));
    expect(events.find((e) => e.type === EventType.SshExit)!.data).toMatchObject({ status: 3 });
    const exec = events.find((e) => e.type === EventType.SshExec)!;
    expect(exec.seq).toBeLessThan(events.find((e) => e.type === EventType.SshOutput)!.seq);
    const report = await verifyRecordingFile(file, trustedKeysOf([gw.gateway.signer.publicKey]));
    expect(report).toMatchObject({ status: 'intact', sealed: true });
  });

  it('passes stdin through and records binary data as base64', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 251, 255, 10]);
    const res = await run('sh', ['-c', `printf '\\000\\001\\002\\372\\373\\377\\n' | ssh "$@" od -An -tu1`, 'sh',
      ...(await sshClientOf(gw.dir, gw.token())).options, '-p', String(port()), 'agent:host@127.0.0.1'],
    { env: (await sshClientOf(gw.dir, gw.token())).env });
    expect(res.stdout.trim().split(/\s+/).map(Number)).toEqual([...bytes]);
    const { events } = await recordingWhere(withExec('od -An -tu1'));
    const input = events.find((e) => e.type === EventType.SshInput)!;
    expect(input.data).toEqual({ channel: 0, data: bytes.toString('base64'), encoding: 'base64', bytes: 7 });
  });

  it('offers HOPSCOPE_TOKEN and HOPSCOPE_SESSION to the target and refuses client-set HOPSCOPE_* variables', async () => {
    const client = await ssh2Client(port(), 'agent:host', { password: gw.token() });
    const res = await ssh2Exec(client, 'echo "$HOPSCOPE_SESSION ${HOPSCOPE_TOKEN%%.*} $LC_MINE"', { env: { HOPSCOPE_SESSION: 'forged', LC_MINE: 'kept' } });
    client.end();
    const [session, prefix, mine] = res.stdout.trim().split(' ');
    expect(prefix).toBe('hs1');
    expect(mine).toBe('kept');
    // HOPSCOPE_SESSION names this very recording.
    const events = await eventually(async () => {
      const ev = await readEvents(join(gw.recordingsDir, `${session}.jsonl`));
      return ev.at(-1)?.type === EventType.Seal ? ev : undefined;
    });
    expect(events.find((e) => e.type === EventType.SshEnv && e.data.name === 'HOPSCOPE_SESSION')!.data).toMatchObject({ accepted: false });
    const hop = events.find((e) => e.type === EventType.SshHop)!;
    expect(hop.data.offered).toEqual(['HOPSCOPE_TOKEN', 'HOPSCOPE_SESSION']);
    expect(JSON.stringify(events)).not.toContain('hs1.'); // the hop token itself is never recorded
  });

  it('runs a shell with a pty (ssh -tt): lines as typed, resize, masked output', async () => {
    const client = await ssh2Client(port(), 'agent:host', { password: gw.token() });
    const out = await new Promise<string>((resolve, reject) => {
      client.shell({ term: 'xterm', cols: 80, rows: 24 }, (err, channel) => {
        if (err) return reject(err);
        let text = '';
        channel.on('data', (d: Buffer) => (text += d.toString()));
        channel.on('close', () => resolve(text));
        channel.setWindow(40, 100, 0, 0);
        channel.write('stty size; echo mail bob@example.org now\r');
        channel.write('echo typo\x7f\x7f\x7f\x7fdone\rexit\r');
      });
    });
    client.end();
    expect(out).toContain('40 100');
    expect(out).toContain('done');
    expect(out).not.toContain('bob@example.org');
    const { events } = await recordingWhere((ev) => ev.some((e) => e.type === EventType.SshLine && e.data.line === 'echo done'));
    expect(events.find((e) => e.type === EventType.SshPty)!.data).toMatchObject({ term: 'xterm', cols: 80, rows: 24 });
    expect(events.find((e) => e.type === EventType.SshResize)!.data).toMatchObject({ cols: 100, rows: 40 });
    expect(events.filter((e) => e.type === EventType.SshLine).map((e) => e.data.line)).toEqual(
      ['stty size; echo mail bob@example.org now', 'echo done', 'exit']);
    const output = events.filter((e) => e.type === EventType.SshOutput).map((e) => String(e.data.data)).join('');
    expect(output).not.toContain('bob@example.org');
    expect(events.some((e) => e.type === EventType.SshOutput && (e.data.masked as { rule: string; count: number }[] | undefined)?.some((m) => m.rule === 'email' && m.count > 0))).toBe(true);
  });

  it('works with the OpenSSH client in -tt mode', async () => {
    const res = await ssh(['-tt'], 'echo tty-$((6*7))\rexit\r');
    expect(res.stdout).toContain('tty-42');
  });

  it('relays exit signals and signal requests', async () => {
    const client = await ssh2Client(port(), 'agent:host', { password: gw.token() });
    const killed = await ssh2Exec(client, 'kill -TERM $$');
    expect(killed.code).toBe(null);
    expect(killed.signal).toBe('SIGTERM');
    client.end();
    const { events } = await recordingWhere(withExec('kill -TERM $$'));
    expect(events.find((e) => e.type === EventType.SshExit)!.data).toMatchObject({ signal: 'TERM' });
  });

  it('relays sftp and scp, recording each file operation with its size', async () => {
    const local = join(gw.dir, 'upload.bin');
    const payload = Buffer.alloc(300_000, 'x');
    await writeFile(local, payload);
    const remote = join(sshd.dir, 'uploaded.bin');
    const back = join(gw.dir, 'back.bin');
    const { options, env } = await sshClientOf(gw.dir, gw.token());
    const batch = join(gw.dir, 'batch');
    await writeFile(batch, `put ${local} ${remote}\nget ${remote} ${back}\nrm ${remote}\n`);
    // sftp and scp read `user:host` as a path: the user goes in -o User=.
    const sftp = await run('sftp', [...options, '-o', 'User=agent:host', '-P', String(port()), '-b', batch, '127.0.0.1'], { env });
    expect(sftp.code, sftp.stderr).toBe(0);
    expect(createHash('sha256').update(await readFile(back)).digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
    const scp = await run('scp', [...options, '-o', 'User=agent:host', '-P', String(port()), local, `127.0.0.1:${remote}.scp`], { env });
    expect(scp.code, scp.stderr).toBe(0);
    expect((await readFile(`${remote}.scp`)).length).toBe(payload.length);
    const { events } = await recordingWhere((ev) => ev.some((e) => e.type === EventType.SshSftp && e.data.op === 'remove'));
    const ops = events.filter((e) => e.type === EventType.SshSftp).map((e) => e.data);
    expect(ops).toEqual(expect.arrayContaining([
      expect.objectContaining({ op: 'open', path: remote }),
      expect.objectContaining({ op: 'close', path: remote, written: 300_000 }),
      expect.objectContaining({ op: 'close', path: remote, read: 300_000 }),
      expect.objectContaining({ op: 'remove', path: remote }),
    ]));
  });

  it('accepts keyboard-interactive with the token, and a registered public key', async () => {
    const kbd = await ssh2Client(port(), 'agent:host', { keyboard: gw.token() });
    expect((await ssh2Exec(kbd, 'echo kbd')).stdout).toBe('kbd\n');
    kbd.end();
    const key = await ssh2Client(port(), 'agent:host', { privateKey: clientKey.private });
    expect((await ssh2Exec(key, 'echo key')).stdout).toBe('key\n');
    key.end();
    const { events } = await recordingWhere(withExec('echo key'));
    expect(events[0]!.data).toMatchObject({ auth: 'publickey', keyFingerprint: expect.stringMatching(/^SHA256:/) });
    await expect(ssh2Client(port(), 'agent:host', { privateKey: ssh2.utils.generateKeyPairSync('ed25519').private })).rejects.toThrow();
  });

  it('refuses port forwarding and records the attempt', async () => {
    const client = await ssh2Client(port(), 'agent:host', { password: gw.token() });
    await expect(new Promise((resolve, reject) => client.forwardOut('127.0.0.1', 1, '127.0.0.1', sshd.port, (err, ch) => (err ? reject(err) : resolve(ch)))))
      .rejects.toThrow();
    await expect(new Promise((resolve, reject) => client.forwardIn('127.0.0.1', 0, (err, p) => (err ? reject(err) : resolve(p))))).rejects.toThrow();
    await ssh2Exec(client, 'true');
    client.end();
    const { events } = await recordingWhere(withExec('true'));
    const forwards = events.filter((e) => e.type === EventType.SshForward).map((e) => e.data);
    expect(forwards).toEqual([
      expect.objectContaining({ kind: 'local', dest: `127.0.0.1:${sshd.port}`, allowed: false }),
      expect.objectContaining({ kind: 'tcpip-forward', allowed: false }),
    ]);
  });

  it('keeps its host key in keys.dir', async () => {
    const pub = await readFile(join(gw.keysDir, 'ssh_host_ed25519_key.pub'), 'utf8');
    const seen = await new Promise<Buffer>((resolve, reject) => {
      const c = new ssh2.Client();
      c.on('error', () => undefined);
      c.connect({ host: '127.0.0.1', port: port(), username: 'x:y', password: 'nope', hostVerifier: (key: Buffer) => { resolve(key); c.end(); return false; } });
      setTimeout(() => reject(new Error('no host key seen')), 5000);
    });
    expect(Buffer.from(pub.split(' ')[1]!, 'base64').equals(seen)).toBe(true);
  });
});
