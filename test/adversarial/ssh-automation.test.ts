// Password automation through the gateway, with no extra ssh options: OpenSSH
// tries keyboard-interactive before password, so the gateway's prompt must be one
// sshpass (and Ansible's password mode, which drives sshpass) recognises. Real
// sshpass and Ansible (Debian's packages); every run is recorded and attributed.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType, type RecordingEvent } from '../../common/recording/index.js';
import { run, type RunResult } from '../helpers/processes.js';
import { auditEvent, auditSeq, marker, sessionsOf, startFixture, type Fixture } from './ssh-auth-support.js';

let f: Fixture;
beforeAll(async () => {
  f = await startFixture(['automation', 'ansible-adhoc', 'ansible-play']);
});
afterAll(async () => {
  await f?.stop();
});

/** Only what any ssh use needs against a host not in known_hosts: nothing about authentication. */
const HOST_OPTIONS = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null'];
const sshpass = (token: string, identity: string, command: string) => run('sshpass', ['-p', token, 'ssh', ...HOST_OPTIONS,
  '-p', String(f.gw.gateway.ssh!.port), `${identity}:host@127.0.0.1`, command], { env: { SSH_AUTH_SOCK: undefined }, timeoutMs: 40_000 });
const execsOf = (sessions: RecordingEvent[][]) => sessions.flatMap((events) => events.filter((e) => e.type === EventType.SshExec).map((e) => String(e.data.command)));

describe('sshpass', () => {
  it('logs in with the token through keyboard-interactive (tried first by OpenSSH), recorded and attributed', async () => {
    const m = marker(f, 'sshpass');
    const res = await sshpass(f.gw.token('automation'), 'automation', `${m.touch}; echo ran-$((6*7))`);
    expect(res).toMatchObject({ code: 0, stdout: 'ran-42\n' });
    expect(m.exists()).toBe(true);
    const [session] = await sessionsOf(f, 'automation');
    expect(session![0]!.data).toMatchObject({ identity: 'automation', target: 'host', auth: 'keyboard-interactive' });
    expect(execsOf([session!])).toEqual([`${m.touch}; echo ran-$((6*7))`]);
  });

  it('a wrong token ends at once (no hang, no second prompt), runs nothing, and the refusal is recorded', async () => {
    const seq = await auditSeq(f);
    const m = marker(f, 'sshpass-wrong');
    const res: RunResult = await sshpass(`${f.gw.token('automation')}x`, 'automation', m.touch);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/hopscope: the token signature is invalid/);
    expect(m.exists()).toBe(false);
    const refusal = await auditEvent(f, (e) => e.seq > seq && e.type === EventType.Refused && e.data.identity === 'automation');
    expect(refusal.data).toMatchObject({ reason: 'TOKEN_BAD_SIGNATURE', auth: 'keyboard-interactive' });
  });
});

describe('Ansible in password mode', () => {
  /** An inventory with the token as the host's password, and an environment that keeps Ansible's files in the fixture. */
  async function ansibleSetup(identity: string, passwordVar: 'ansible_ssh_pass' | 'ansible_password') {
    const inventory = join(f.work, `inventory-${identity}.yml`);
    await writeFile(inventory, stringify({
      all: {
        hosts: {
          target: {
            ansible_host: '127.0.0.1', ansible_port: f.gw.gateway.ssh!.port, ansible_user: `${identity}:host`,
            [passwordVar]: f.gw.token(identity), ansible_python_interpreter: '/usr/bin/python3',
          },
        },
      },
    }));
    const env = {
      ANSIBLE_HOST_KEY_CHECKING: 'False', ANSIBLE_HOME: join(f.work, 'ansible-home'), ANSIBLE_REMOTE_TMP: join(f.work, 'ansible-remote'),
      ANSIBLE_LOCAL_TEMP: join(f.work, 'ansible-local'), ANSIBLE_SSH_CONTROL_PATH_DIR: join(f.work, 'cp'), ANSIBLE_NOCOLOR: '1',
      ANSIBLE_RETRY_FILES_ENABLED: 'False', ANSIBLE_CONFIG: join(f.work, 'no-ansible.cfg'), SSH_AUTH_SOCK: undefined,
    };
    return { inventory, env };
  }

  it('runs an ad-hoc command (ansible all -m command -a id); every command it ran is recorded under the identity', async () => {
    const { inventory, env } = await ansibleSetup('ansible-adhoc', 'ansible_ssh_pass');
    const res = await run('ansible', ['all', '-i', inventory, '-m', 'command', '-a', 'id'], { env, cwd: f.work, timeoutMs: 180_000 });
    expect(res.stdout, res.stderr).toMatch(/target \| CHANGED \| rc=0 >>\s+uid=\d+/);
    const sessions = await sessionsOf(f, 'ansible-adhoc');
    expect(sessions.length).toBeGreaterThan(0);
    for (const events of sessions) expect(events[0]!.data).toMatchObject({ identity: 'ansible-adhoc', target: 'host', protocol: 'ssh' });
    const commands = execsOf(sessions);
    expect(commands.some((c) => /python3/.test(c) && /AnsiballZ_command\.py/.test(c)), commands.join('\n')).toBe(true);
  });

  it('runs a two-task playbook that writes a file on the target; recorded and attributed', async () => {
    const { inventory, env } = await ansibleSetup('ansible-play', 'ansible_password');
    const written = join(f.work, 'written-by-ansible.txt');
    const playbook = join(f.work, 'playbook.yml');
    await writeFile(playbook, stringify([{
      hosts: 'all', gather_facts: false,
      tasks: [
        { name: 'who am I', command: 'id -un', register: 'who' },
        { name: 'write a file', copy: { dest: written, content: 'written through hopscope by {{ who.stdout }}\n', mode: '0644' } },
      ],
    }]));
    const res = await run('ansible-playbook', ['-i', inventory, playbook], { env, cwd: f.work, timeoutMs: 240_000 });
    expect(res.stdout, res.stderr).toMatch(/target\s+: ok=2\s+changed=2\s+unreachable=0\s+failed=0/);
    expect(await readFile(written, 'utf8')).toMatch(/^written through hopscope by \S+\n$/);
    const sessions = await sessionsOf(f, 'ansible-play');
    for (const events of sessions) expect(events[0]!.data).toMatchObject({ identity: 'ansible-play', target: 'host' });
    const commands = execsOf(sessions);
    expect(commands.some((c) => /AnsiballZ_command\.py/.test(c)), commands.join('\n')).toBe(true);
    expect(commands.some((c) => /AnsiballZ_copy\.py/.test(c)), commands.join('\n')).toBe(true);
  });
});
