/**
 * An agent that types its lines ahead (all of them in one write, before any output) must still see each
 * line's output beside that line, in the workbench's hop view and in `hopscope show`: the recording holds
 * the typed lines first and the output after them, and only the shell's echo of each line says where its
 * output starts. Real OpenSSH, real bash on a pty, a real gateway recording imported into a case.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trustedKeysOf } from '../common/keys.js';
import { EventType } from '../common/recording/index.js';
import { exchangePage, importPaths, listSessions, openCase, showSession, type CaseFile } from '../forensics/index.js';
import { eventually, readEvents, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { ptyShell, ssh2Client, startSshd, type SshdServer } from './helpers/sshd.js';

let sshd: SshdServer;
let gw: TestGateway;
let work: string;
let c: CaseFile;

/** Opens a shell on a pty, waits for the first prompt, writes every line in one packet and resolves with the output at close. */
async function typeAhead(text: string): Promise<string> {
  const client = await ssh2Client(gw.gateway.ssh!.port, 'agent:host', { password: gw.token() });
  try {
    return await ptyShell(client, async (ch, output) => {
      await eventually(() => /[$#] $/.test(output()) || undefined, 10_000);
      ch.write(text);
    });
  } finally {
    client.end();
  }
}

beforeAll(async () => {
  sshd = await startSshd();
  gw = await startTestGateway(undefined, { recording: { dir: './recordings', fsync: 'batch' } }, { ssh: sshd });
  // The first command sleeps, so the next lines are certainly waiting in the terminal before any of its output.
  const output = await typeAhead('sleep 0.3; echo first-$((20+1))\recho second-$((40+2))\rexit\r');
  expect(output).toContain('first-21');
  expect(output).toContain('second-42');
  await eventually(async () => {
    for (const file of await gw.sessionFiles()) if ((await readEvents(file)).at(-1)?.type === EventType.Seal) return true;
    return undefined;
  }, 15_000);
  work = mkdtempSync(join(tmpdir(), 'hopscope-typed-ahead-'));
  c = openCase(join(work, 'case.db'));
  await importPaths(c, [gw.recordingsDir], { trusted: trustedKeysOf([gw.gateway.signer.publicKey]) });
}, 60_000);

afterAll(async () => {
  c?.close();
  await gw?.stop();
  await sshd?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('lines typed ahead on a pty', () => {
  it('pairs each line with its own output in the hop view', () => {
    const [session] = listSessions(c).filter((s) => s.protocol === 'ssh');
    expect(session).toBeDefined();
    const rows = exchangePage(c, session!.id, 0, 100).exchanges.filter((x) => x.kind === 'line');
    const outputOf = (text: string) => {
      const row = rows.find((x) => x.text === text);
      expect(row, `a row for ${text}`).toBeDefined();
      return row!.responses.filter((r) => r.kind === 'output').map((r) => r.text).join('');
    };
    const first = outputOf('sleep 0.3; echo first-$((20+1))');
    const second = outputOf('echo second-$((40+2))');
    const exit = outputOf('exit');
    expect(first).toContain('first-21');
    expect(first).not.toContain('second-42');
    expect(second).toContain('second-42');
    expect(second).not.toContain('first-21');
    expect(exit).not.toMatch(/first-21|second-42/);
  });

  it('prints the same pairing in hopscope show', () => {
    const [session] = listSessions(c).filter((s) => s.protocol === 'ssh');
    const text = [...showSession(c, session!.id)].join('\n');
    // Each typed line is followed by its own output block, before the next line.
    expect(text).toMatch(/→ typed sleep 0\.3; echo first-\$\(\(20\+1\)\)\n.*← output\n(?:.*\n)*? +first-21\n(?:(?!→ typed).*\n)*.*→ typed echo second/);
    expect(text).toMatch(/→ typed echo second-\$\(\(40\+2\)\)\n.*← output\n(?:(?!→ typed).*\n)*? +second-42\n/);
  });
});
