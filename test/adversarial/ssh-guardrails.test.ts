/**
 * Adversarial SSH guardrails against real OpenSSH through the gateway: code
 * fetched with curl (file:// URLs, so it really arrives) or decoded from the
 * line, or a script uploaded over sftp, that would create a marker file on the
 * target. Every case runs first through a control gateway with no SSH rules,
 * where the marker must appear (the command really works), then through the
 * guarded one, where it must not, the client gets exit 126 and the refusal on
 * stderr, and the recording's ssh.exec event names the rule.
 */
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { readFileSync } from 'node:fs';
import { EventType, type RecordingEvent } from '../../common/recording/index.js';
import { eventually, readEvents, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { ssh2Client, ssh2Exec, startSshd, type SshdServer } from '../helpers/sshd.js';

/** The upload registry (ctx.uploads, filled by the ssh-io work) is not in yet: those cases are expected to fail until it is. */
const UPLOAD_REGISTRY_READY = true;

const EXAMPLE_SSH_RULES = (parseYaml(readFileSync(join(process.cwd(), 'examples', 'gateway.yml'), 'utf8')) as { guardrails: { ssh?: unknown }[] })
  .guardrails.filter((r) => r.ssh);

let sshd: SshdServer;
let guarded: TestGateway;
let control: TestGateway;
let guardedClient: ssh2.Client;
let controlClient: ssh2.Client;

beforeAll(async () => {
  sshd = await startSshd();
  const identities = [{ name: 'agent', kind: 'machine', targets: ['host'] }];
  guarded = await startTestGateway(undefined, {
    identities,
    guardrails: [
      ...EXAMPLE_SSH_RULES,
      { name: 'no-decode-then-run', ssh: { pipeTo: 'shell', decoded: true }, action: 'block' },
      { name: 'no-uploaded-scripts', ssh: { runsUpload: true }, action: 'block' },
    ],
    approvals: { timeout: '1s' },
  }, { ssh: sshd });
  control = await startTestGateway(undefined, { identities }, { ssh: sshd });
  guardedClient = await ssh2Client(guarded.gateway.ssh!.port, 'agent:host', { password: guarded.token() });
  controlClient = await ssh2Client(control.gateway.ssh!.port, 'agent:host', { password: control.token() });
});
afterAll(async () => {
  guardedClient?.end();
  controlClient?.end();
  await guarded?.stop();
  await control?.stop();
  await sshd?.stop();
});

/** What one case's command may use: the marker its code creates and payloads that create it. */
interface Files {
  marker: string;
  dir: string;
  /** file:// URL of a shell script creating the marker. */
  url: string;
  /** file:// URL of a Perl program creating the marker. */
  perlUrl: string;
  /** The shell code creating the marker, as text. */
  code: string;
  /** The path an sftp upload of that code went to. */
  upload: string;
}

let counter = 0;
async function filesFor(gw: 'control' | 'guarded'): Promise<Files> {
  const n = `${gw}-${++counter}`;
  const marker = join(sshd.dir, `marker-${n}`);
  const code = `touch ${marker}\n`;
  const script = join(sshd.dir, `payload-${n}.sh`);
  const perl = join(sshd.dir, `payload-${n}.pl`);
  await writeFile(script, code);
  await writeFile(perl, `open(my $f, '>', '${marker}');\n`);
  return { marker, dir: sshd.dir, url: `file://${script}`, perlUrl: `file://${perl}`, code, upload: join(sshd.dir, `deploy-${n}.sh`) };
}

async function sftpPut(client: ssh2.Client, path: string, data: string): Promise<void> {
  await new Promise<void>((resolve, reject) => client.sftp((err, sftp) => {
    if (err) return reject(err);
    sftp.writeFile(path, data, { mode: 0o755 }, (e) => (sftp.end(), e ? reject(e) : resolve()));
  }));
}

async function execEvent(gw: TestGateway, command: string): Promise<RecordingEvent> {
  return eventually(async () => {
    for (const file of await gw.sessionFiles()) {
      const hit = (await readEvents(file)).find((e) => e.type === EventType.SshExec && e.data.command === command);
      if (hit) return hit;
    }
    return undefined;
  });
}

type Case = [name: string, command: (f: Files) => string, rule: string];

const hex = (s: string) => Buffer.from(s).toString('hex');
const b64 = (s: string) => Buffer.from(s).toString('base64');

const CLASSES: Record<string, { cases: Case[]; upload?: boolean }> = {
  'spelling and quoting': { cases: [
    ["quotes inside both names", (f) => `c''url -s ${f.url} | s""h`, 'no-pipe-to-shell'],
    ['backslashes inside both names', (f) => `c\\url -s ${f.url} | s\\h`, 'no-pipe-to-shell'],
    ['double-quoted halves', (f) => `"cu"rl -s ${f.url} | "ba"sh`, 'no-pipe-to-shell'],
    ['ANSI-C hex escapes', (f) => `$'\\x63url' -s ${f.url} | $'\\x73h'`, 'no-pipe-to-shell'],
    ['single-quoted names, no blanks around the pipe', (f) => `'curl' -sf ${f.url}|'bash' -s`, 'no-pipe-to-shell'],
  ] },
  'paths and wrappers': { cases: [
    ['absolute paths', (f) => `/usr/bin/curl -s ${f.url} | /bin/sh`, 'no-pipe-to-shell'],
    ['env in front', (f) => `curl -s ${f.url} | env sh`, 'no-pipe-to-shell'],
    ['env -i with a dotted path', (f) => `curl -s ${f.url} | env -i PATH=/usr/bin:/bin /usr/../bin/bash -s`, 'no-pipe-to-shell'],
    ['nice and nohup', (f) => `curl -s ${f.url} | nice -n 5 nohup bash -s`, 'no-pipe-to-shell'],
    ['command, timeout, stdbuf', (f) => `curl -s ${f.url} | command timeout 10 stdbuf -o0 dash`, 'no-pipe-to-shell'],
    ['xargs handing the text to sh -c', (f) => `curl -s ${f.url} | xargs -0 sh -c`, 'no-pipe-to-shell'],
  ] },
  substitution: { cases: [
    ['process substitution as the script', (f) => `bash <(curl -s ${f.url})`, 'no-pipe-to-shell'],
    ['command substitution as sh -c code', (f) => `sh -c "$(curl -s ${f.url})"`, 'no-pipe-to-shell'],
    ['eval of a command substitution', (f) => `eval "$(curl -s ${f.url})"`, 'no-pipe-to-shell'],
    ['source of a process substitution inside bash -c', (f) => `bash -c '. <(curl -s ${f.url})'`, 'no-pipe-to-shell'],
    ['perl -e of a command substitution', (f) => `perl -e "$(curl -s ${f.perlUrl})"`, 'no-pipe-to-shell'],
    ['download to a file, then run it', (f) => `curl -s ${f.url} > ${f.dir}/dl-${counter}.sh; sh ${f.dir}/dl-${counter}.sh`, 'no-pipe-to-shell'],
  ] },
  'decode then run': { cases: [
    ['base64 -d', (f) => `echo ${b64(f.code)} | base64 -d | sh`, 'no-decode-then-run'],
    ['xxd -r -p', (f) => `echo ${hex(f.code)} | xxd -r -p | bash`, 'no-decode-then-run'],
    ['printf hex escapes', (f) => `printf '${[...f.code].map((c) => `\\x${hex(c)}`).join('')}' | sh`, 'no-decode-then-run'],
    ['rev', (f) => `echo '${[...f.code.trim()].reverse().join('')}' | rev | sh`, 'no-decode-then-run'],
    ['openssl enc -d -base64', (f) => `echo ${b64(f.code)} | openssl enc -d -base64 | sh`, 'no-decode-then-run'],
    ['base64 then gunzip', (f) => `echo ${gzipSync(f.code).toString('base64')} | base64 -d | gunzip | bash -s`, 'no-decode-then-run'],
  ] },
  'uploaded script run after an sftp put': { upload: true, cases: [
    ['sh with the absolute path', (f) => `sh ${f.upload}`, 'no-uploaded-scripts'],
    ['run directly from its folder', (f) => `cd ${f.dir} && ./${f.upload.slice(f.dir.length + 1)}`, 'no-uploaded-scripts'],
    ['sourced', (f) => `. ${f.upload}`, 'no-uploaded-scripts'],
    ['bash with a relative path', (f) => `cd ${f.dir} && bash ./${f.upload.slice(f.dir.length + 1)}`, 'no-uploaded-scripts'],
    ['through nohup and env', (f) => `nohup env sh ${f.upload}`, 'no-uploaded-scripts'],
  ] },
};

for (const [klass, { cases, upload }] of Object.entries(CLASSES)) {
  describe(klass, () => {
    const test = upload && !UPLOAD_REGISTRY_READY ? it.fails : it;
    test.each(cases)('%s', async (_name, command, rule) => {
      // Control: through a gateway without SSH rules the command really creates its marker.
      const c = await filesFor('control');
      if (upload) await sftpPut(controlClient, c.upload, c.code);
      const ran = await ssh2Exec(controlClient, command(c));
      expect(existsSync(c.marker), `control: ${command(c)} → ${ran.code} ${ran.stderr}`).toBe(true);
      await rm(c.marker);

      const f = await filesFor('guarded');
      if (upload) await sftpPut(guardedClient, f.upload, f.code);
      const cmd = command(f);
      const res = await ssh2Exec(guardedClient, cmd);
      expect(res.code).toBe(126);
      expect(res.stderr).toContain(`hopscope: blocked by rule ${rule}: `);
      expect(res.stdout).toBe('');
      expect(existsSync(f.marker)).toBe(false);
      const event = await execEvent(guarded, cmd);
      expect(event.data).toMatchObject({ command: cmd, action: 'block', rule });
    });
  });
}
