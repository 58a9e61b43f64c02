import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType, type RecordingEvent } from '../../common/recording/index.js';
import { eventually, readEvents, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { run } from '../helpers/processes.js';
import { ptyShell, ssh2Client, ssh2Exec, sshClientOf, startSshd, type SshdServer } from '../helpers/sshd.js';

/**
 * Adversarial SSH I/O: what a client types on a pty, what it downloads, what
 * the target prints in parts, and what it uploads — against a real OpenSSH
 * through the gateway. Each case checks what ran on the target (a marker file),
 * what the client received, and what the recording says.
 */
let sshd: SshdServer;
let gw: TestGateway;

const SSN = '123-45-6789';
const EMAIL = 'alice.smith@example.org';
const CARD = '4111 1111 1111 1111';
const SEEDED = `name,mail,ssn,card\nAlice,${EMAIL},${SSN},${CARD}\nBob,bob.jones@example.com,987-65-4321,5500 0000 0000 0004\n`;
const RAW = [SSN, EMAIL, CARD, 'bob.jones@example.com', '987-65-4321', '5500 0000 0000 0004'];

beforeAll(async () => {
  sshd = await startSshd();
  gw = await startTestGateway(undefined, {
    identities: [{ name: 'agent', kind: 'machine', targets: ['host'] }],
    guardrails: [{ name: 'no-marker', ssh: { pattern: 'touch' }, action: 'block' }],
    masking: [
      { name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b' },
      { name: 'email', builtin: 'email' },
      { name: 'card', builtin: 'credit-card' },
    ],
    shell: { uncertain: 'block' },
  }, { ssh: sshd });
});
afterAll(async () => {
  await gw?.stop();
  await sshd?.stop();
});

const port = () => gw.gateway.ssh!.port;
const connect = () => ssh2Client(port(), 'agent:host', { password: gw.token() });
const marker = (name: string) => join(sshd.dir, `marker-${name}`);

/** The sealed recording of the session whose events satisfy `match`, and its raw text. */
async function recordingWhere(match: (events: RecordingEvent[]) => boolean) {
  return eventually(async () => {
    for (const file of await gw.sessionFiles()) {
      const events = await readEvents(file);
      if (events.at(-1)?.type === EventType.Seal && match(events)) return { events, text: await readFile(file, 'utf8') };
    }
    return undefined;
  }, 15_000);
}
const mentions = (text: string) => (events: RecordingEvent[]) => events.some((e) => JSON.stringify(e.data).includes(text));

/**
 * Types `steps` into a shell on a pty; after each step it waits until the
 * shell has answered a probe line, so the next step meets a ready prompt.
 * After a refusal by C-c (a command of several lines) it first waits for the
 * terminal's ^C and the prompt after it: the tty discards what was typed before
 * it handles SIGINT, and bash can lose a key typed before its new prompt.
 */
async function typeIntoShell(steps: string[]): Promise<string> {
  const client = await connect();
  try {
    return await ptyShell(client, async (ch, output) => {
      for (const [i, step] of steps.entries()) {
        ch.write(step);
        // Then the prompt bash prints once it has handled SIGINT: a key typed before it can be lost (seen at load 4: `echo` ran as `cho`).
        if (step.split('\r').length > 2) await eventually(() => /hopscope: blocked[^]*\^C[^]*[#$] $/.test(output()) || undefined, 5_000).catch((e) => { console.log(JSON.stringify(output())); throw e; });
        ch.write(`echo P$((${i}+1000))Q\r`);
        await eventually(() => output().includes(`P${i + 1000}Q`) || undefined, 15_000).catch((e) => { console.log(JSON.stringify(output())); throw e; });
      }
      ch.write('exit\r');
    }, { stderr: true });
  } finally {
    client.end();
  }
}

async function sftpBatch(commands: string[], extra: string[] = []) {
  const { options, env } = await sshClientOf(gw.dir, gw.token());
  const batch = join(gw.dir, `batch-${Math.random().toString(36).slice(2)}`);
  await writeFile(batch, commands.join('\n') + '\n');
  return run('sftp', [...options, ...extra, '-o', 'User=agent:host', '-P', String(port()), '-b', batch, '127.0.0.1'], { env });
}
async function scp(args: string[]) {
  const { options, env } = await sshClientOf(gw.dir, gw.token());
  return run('scp', [...options, '-o', 'User=agent:host', '-P', String(port()), ...args], { env });
}
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('line editor evasions: a blocked command typed with editing keys never runs', () => {
  const cases: [string, (m: string) => string[], RegExp][] = [
    ['transpose (C-t)', (m) => [`touhc\x14 ${m}\r`], /touch/],
    ['kill then yank on the same line (C-w, C-y)', (m) => [`tou\x17ch ${m}\x01\x19\r`], /touch/],
    ['yank of a line killed earlier (C-k, C-y)', (m) => [`touch ${m}\x01\x0btrue\r`, '\x19\r'], /touch/],
    ['backslash-newline continuation', (m) => [`tou\\\rch ${m}\r`], /tou/],
    ['here-document into sh', (m) => [`sh <<EOF\rtouch ${m}\rEOF\r`], /touch/],
    ['transpose words (M-t) and case (M-l)', (m) => [`TOUCH\x1bb\x1bl ${m}\r`], /touch/],
  ];
  for (const [name, keys, judged] of cases) {
    it(name, async () => {
      const m = marker(name.replace(/\W+/g, '-'));
      const output = await typeIntoShell(keys(m));
      expect(existsSync(m)).toBe(false);
      expect(output).toContain('hopscope: blocked by rule no-marker');
      const { events } = await recordingWhere(mentions(m));
      const refused = events.filter((e) => e.type === EventType.SshLine && e.data.action === 'block');
      expect(refused.length).toBeGreaterThan(0);
      expect(String(refused[0]!.data.judged ?? refused[0]!.data.line)).toMatch(judged);
      expect(refused[0]!.data.rule).toBe('no-marker');
    });
  }

  const uncertain: [string, (m: string) => string[], RegExp][] = [
    ['history recall (Up) then edit', (m) => ['tou\r', `\x1b[Ach ${m}\r`], /history/],
    ['history expansion (!$)', (m) => [': tou\r', `!$ch ${m}\r`], /history expansion/],
    ['tab completion', (m) => [`tou\t${m}\r`], /completion/],
    ['C-r reverse search', (m) => [`\x12tou\x1b[F ${m}\r`], /history/],
    ['an unmodelled escape sequence', (m) => [`tou\x1b[99~ch ${m}\r`], /escape sequence/],
  ];
  for (const [name, keys, reason] of uncertain) {
    it(`${name}: marked uncertain and refused by shell.uncertain`, async () => {
      const m = marker(name.replace(/\W+/g, '-'));
      const output = await typeIntoShell(keys(m));
      expect(existsSync(m)).toBe(false);
      expect(output).toContain('hopscope: blocked');
      const { events } = await recordingWhere(mentions(m));
      const line = events.find((e) => e.type === EventType.SshLine && String(e.data.line).includes(m.slice(-10)))!;
      expect(line.data).toMatchObject({ uncertain: true, action: 'block' });
      expect((line.data.uncertainReasons as string[]).join('; ')).toMatch(reason);
    });
  }
});

describe('downloads are masked like exec output', () => {
  let remote: string;
  beforeAll(async () => {
    remote = join(sshd.dir, 'people.csv');
    await writeFile(remote, SEEDED);
  });
  const clean = (text: string) => {
    for (const value of RAW) expect(text).not.toContain(value);
  };

  it('sftp get: the client gets the masked file; the recording says so and holds no value', async () => {
    const local = join(gw.dir, 'people-sftp.csv');
    const res = await sftpBatch([`get ${remote} ${local}`]);
    expect(res.code, res.stderr).toBe(0);
    const got = await readFile(local, 'utf8');
    clean(got);
    expect(got).toContain('[masked:ssn]');
    const { events, text } = await recordingWhere((ev) => ev.some((e) => e.data.op === 'download' && e.data.path === remote));
    clean(text);
    const download = events.find((e) => e.data.op === 'download')!.data;
    expect(download).toMatchObject({ decision: 'masked' });
    // Masking notes have one shape in both protocols: [{rule, count}].
    expect(new Map((download.masked as { rule: string; count: number }[]).map((m) => [m.rule, m.count]))).toEqual(new Map([['ssn', 2], ['email', 2], ['card', 2]]));
  });

  it('scp (over sftp) gets the same masked bytes as cat', async () => {
    const local = join(gw.dir, 'people-scp.csv');
    const res = await scp([`127.0.0.1:${remote}`, local]);
    expect(res.code, res.stderr).toBe(0);
    const client = await connect();
    const cat = await ssh2Exec(client, `cat ${remote}`);
    client.end();
    expect(await readFile(local, 'utf8')).toBe(cat.stdout);
    clean(cat.stdout);
  });

  it('reads at an offset and fstat see the masked file, not the target\'s', async () => {
    const client = await connect();
    const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) => client.sftp((e, s) => (e ? reject(e) : resolve(s))));
    const handle = await new Promise<Buffer>((resolve, reject) => sftp.open(remote, 'r', (e, h) => (e ? reject(e) : resolve(h))));
    const size = await new Promise<number>((resolve, reject) => sftp.fstat(handle, (e, s) => (e ? reject(e) : resolve(s.size))));
    const buf = Buffer.alloc(size);
    const n = await new Promise<number>((resolve, reject) => sftp.read(handle, buf, 0, size, 0, (e, r) => (e ? reject(e) : resolve(r))));
    const part = Buffer.alloc(40);
    const m = await new Promise<number>((resolve, reject) => sftp.read(handle, part, 0, 40, 30, (e, r) => (e ? reject(e) : resolve(r))));
    client.end();
    const masked = buf.subarray(0, n).toString();
    expect(size).not.toBe(SEEDED.length);
    expect(n).toBe(size);
    clean(masked);
    expect(part.subarray(0, m).toString()).toBe(masked.slice(30, 70));
  });

  it('a binary file with a value in it is refused (shell.downloads: mask), and recorded so', async () => {
    const bin = join(sshd.dir, 'dump.bin');
    await writeFile(bin, Buffer.concat([Buffer.from([0, 1, 2, 0xff]), Buffer.from(` ${SSN} `), Buffer.from([0])]));
    const local = join(gw.dir, 'dump.bin');
    const res = await sftpBatch([`get ${bin} ${local}`]);
    expect(res.code).not.toBe(0);
    expect(existsSync(local) ? await readFile(local, 'latin1') : '').not.toContain(SSN);
    const { text, events } = await recordingWhere((ev) => ev.some((e) => e.data.op === 'download' && e.data.path === bin));
    expect(events.find((e) => e.data.op === 'download')!.data).toMatchObject({ decision: 'blocked' });
    expect(text).not.toContain(SSN);
  });

  it('legacy scp -O (scp -f over exec) is refused while masking applies', async () => {
    const local = join(gw.dir, 'people-legacy.csv');
    const res = await scp(['-O', `127.0.0.1:${remote}`, local]);
    expect(res.code).not.toBe(0);
    expect(existsSync(local) ? await readFile(local, 'utf8') : '').toBe('');
    const { events, text } = await recordingWhere((ev) => ev.some((e) => e.type === EventType.SshExec && String(e.data.command).includes('scp -f')));
    expect(events.find((e) => e.type === EventType.SshExec)!.data).toMatchObject({ action: 'block', rule: 'shell.downloads' });
    clean(text);
  });
});

describe('a value printed in parts with a pause never passes whole', () => {
  const cases: [string, string, string][] = [
    ['ssn in two parts on a pty', "printf '123-45-'; sleep 1; printf '6789\\n'", SSN],
    ['email in two parts on a pty', "printf 'alice.smith@exa'; sleep 1; printf 'mple.org\\n'", EMAIL],
    ['card in two parts on a pty', "printf '4111 1111 '; sleep 1; printf '1111 1111\\n'", CARD],
    ['ssn in three parts on a pty', "printf '123'; sleep 1; printf '-45-'; sleep 1; printf '6789\\n'", SSN],
  ];
  for (const [name, command, value] of cases) {
    it(name, async () => {
      const output = await typeIntoShell([`${command}\r`]);
      expect(output.replace(/\r/g, '')).not.toContain(value);
      expect(output).toContain('[masked');
      const { text } = await recordingWhere(mentions(command.slice(0, 12)));
      expect(text).not.toContain(value);
    });
  }

  it('ssn in two parts on an exec without a pty (held until its end)', async () => {
    const client = await connect();
    const command = "printf 'id 123-45-'; sleep 1; printf '6789 ok\\n'";
    const res = await ssh2Exec(client, command);
    client.end();
    expect(res.stdout).toBe('id [masked:ssn] ok\n');
    const { text } = await recordingWhere(mentions("printf 'id 123-45-'"));
    expect(text).not.toContain(SSN);
  });
});

describe('uploads are recorded with their SHA-256', () => {
  const uploadsOf = (events: RecordingEvent[]) => events.filter((e) => e.type === EventType.SshUpload).map((e) => e.data);

  it('sftp put', async () => {
    const local = join(gw.dir, 'script-sftp.sh');
    await writeFile(local, '#!/bin/sh\necho from sftp\n');
    const remote = join(sshd.dir, 'script-sftp.sh');
    expect((await sftpBatch([`put ${local} ${remote}`])).code).toBe(0);
    const { events } = await recordingWhere((ev) => uploadsOf(ev).some((u) => u.path === remote));
    expect(uploadsOf(events)).toContainEqual(expect.objectContaining({ via: 'sftp', path: remote, sha256: sha256(await readFile(local)), bytes: (await readFile(local)).length }));
  });

  it('scp upload (over sftp)', async () => {
    const local = join(gw.dir, 'script-scp.sh');
    await writeFile(local, '#!/bin/sh\necho from scp\n');
    const remote = join(sshd.dir, 'script-scp.sh');
    expect((await scp([local, `127.0.0.1:${remote}`])).code).toBe(0);
    const { events } = await recordingWhere((ev) => uploadsOf(ev).some((u) => u.path === remote));
    expect(uploadsOf(events)).toContainEqual(expect.objectContaining({ via: 'sftp', path: remote, sha256: sha256(await readFile(local)) }));
  });

  it('legacy scp -O upload (scp -t over exec)', async () => {
    const local = join(gw.dir, 'script-legacy.sh');
    await writeFile(local, '#!/bin/sh\necho from legacy scp\n');
    const remote = join(sshd.dir, 'script-legacy.sh');
    const res = await scp(['-O', local, `127.0.0.1:${remote}`]);
    expect(res.code, res.stderr).toBe(0);
    expect(await readFile(remote, 'utf8')).toBe('#!/bin/sh\necho from legacy scp\n');
    const { events } = await recordingWhere((ev) => uploadsOf(ev).some((u) => u.path === remote));
    expect(uploadsOf(events)).toContainEqual(expect.objectContaining({ via: 'scp', path: remote, sha256: sha256(await readFile(local)) }));
  });

  it('legacy scp -O -r of a directory: each file with its path', async () => {
    const dir = join(gw.dir, 'tree');
    await mkdir(join(dir, 'sub'), { recursive: true });
    await writeFile(join(dir, 'a.sh'), 'echo a\n');
    await writeFile(join(dir, 'sub', 'b.sh'), 'echo b\n');
    const res = await scp(['-O', '-r', dir, `127.0.0.1:${sshd.dir}/`]);
    expect(res.code, res.stderr).toBe(0);
    const { events } = await recordingWhere((ev) => uploadsOf(ev).some((u) => String(u.path).endsWith('/tree/sub/b.sh')));
    expect(uploadsOf(events)).toEqual(expect.arrayContaining([
      expect.objectContaining({ via: 'scp', path: join(sshd.dir, 'tree', 'a.sh'), sha256: sha256('echo a\n') }),
      expect.objectContaining({ via: 'scp', path: join(sshd.dir, 'tree', 'sub', 'b.sh'), sha256: sha256('echo b\n') }),
    ]));
  });

  it('writes out of order and a second put: the hash is of what is on the target at each close', async () => {
    const remote = join(sshd.dir, 'ooo.sh');
    const client = await connect();
    const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) => client.sftp((e, s) => (e ? reject(e) : resolve(s))));
    const handle = await new Promise<Buffer>((resolve, reject) => sftp.open(remote, 'w', (e, h) => (e ? reject(e) : resolve(h))));
    const write = (data: string, at: number) => new Promise<void>((resolve, reject) => sftp.write(handle, Buffer.from(data), 0, data.length, at, (e) => (e ? reject(e) : resolve())));
    await write('world\n', 6);
    await write('hello ', 0);
    await new Promise<void>((resolve, reject) => sftp.close(handle, (e) => (e ? reject(e) : resolve())));
    await new Promise<void>((resolve, reject) => sftp.writeFile(remote, 'second\n', (e) => (e ? reject(e) : resolve())));
    client.end();
    const { events } = await recordingWhere((ev) => uploadsOf(ev).filter((u) => u.path === remote).length === 2);
    expect(uploadsOf(events).filter((u) => u.path === remote).map((u) => u.sha256)).toEqual([sha256('hello world\n'), sha256('second\n')]);
  });
});
