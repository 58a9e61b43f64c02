/**
 * Keys typed on a pty one SSH packet at a time, with no wait between them:
 * most pass the gateway in the turn they arrive (recorded, then forwarded),
 * while an Enter is judged on the queued path and keys typed meanwhile wait
 * behind it. Whatever the path and fsync mode, the target must get the keys in
 * the order typed (a blocked line never runs, the next one does) and the
 * recording must hold every byte typed, in order, before the lines it judged.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType, type RecordingEvent } from '../common/recording/index.js';
import { eventually, readEvents, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { ptyShell, ssh2Client, startSshd, type SshdServer } from './helpers/sshd.js';

let sshd: SshdServer;
const gateways: Record<'batch' | 'always', TestGateway | undefined> = { batch: undefined, always: undefined };

beforeAll(async () => {
  sshd = await startSshd();
  for (const fsync of ['batch', 'always'] as const) {
    gateways[fsync] = await startTestGateway(undefined, {
      recording: { dir: './recordings', fsync },
      guardrails: [{ name: 'no-blocked-marker', ssh: { pattern: 'touch \\S*blocked-marker' }, action: 'block' }],
      masking: [{ name: 'email', builtin: 'email' }],
    }, { ssh: sshd });
  }
});
afterAll(async () => {
  for (const gw of Object.values(gateways)) await gw?.stop();
  await sshd?.stop();
});

/** Opens a shell on a pty, waits for the prompt, then writes `text` one byte per SSH packet without waiting; resolves with the output at close. */
async function typeKeyByKey(gw: TestGateway, text: string): Promise<string> {
  const client = await ssh2Client(gw.gateway.ssh!.port, 'agent:host', { password: gw.token() });
  try {
    return await ptyShell(client, async (ch, output) => {
      await eventually(() => output().length > 0 || undefined, 10_000);
      for (const key of text) ch.write(key);
    });
  } finally {
    client.end();
  }
}

async function sealedRecordingWith(gw: TestGateway, line: string): Promise<RecordingEvent[]> {
  return eventually(async () => {
    for (const file of await gw.sessionFiles()) {
      const events = await readEvents(file);
      if (events.at(-1)?.type === EventType.Seal && events.some((e) => e.type === EventType.SshLine && e.data.line === line)) return events;
    }
    return undefined;
  }, 15_000);
}

describe('keys typed one packet at a time on a pty', () => {
  for (const fsync of ['batch', 'always'] as const) {
    it(`reach the target in order and are all recorded first (fsync ${fsync})`, async () => {
      const gw = gateways[fsync]!;
      const blocked = join(sshd.dir, `blocked-marker-${fsync}`);
      const allowed = join(sshd.dir, `allowed-marker-${fsync}`);
      // The second line is typed while the first Enter is still being judged; the third while the second may be.
      const typed = `touch ${blocked}\rtouch ${allowed}\recho done-$((6*7))\rexit\r`;
      const output = await typeKeyByKey(gw, typed);
      expect(output).toContain('done-42');
      expect(output).toContain('blocked by rule no-blocked-marker');
      expect(existsSync(allowed)).toBe(true);
      expect(existsSync(blocked)).toBe(false);

      const events = await sealedRecordingWith(gw, `touch ${allowed}`);
      const lines = events.filter((e) => e.type === EventType.SshLine).map((e) => [e.data.line, e.data.action]);
      expect(lines).toEqual([[`touch ${blocked}`, 'block'], [`touch ${allowed}`, 'allow'], ['echo done-$((6*7))', 'allow'], ['exit', 'allow']]);
      const inputs = events.filter((e) => e.type === EventType.SshInput);
      expect(inputs.map((e) => Buffer.from(String(e.data.data), e.data.encoding as BufferEncoding).toString('utf8')).join('')).toBe(typed);
      // Each line's event comes after the input that ends it, and before any input typed after it.
      let seen = '';
      for (const e of events) {
        if (e.type === EventType.SshInput) seen += Buffer.from(String(e.data.data), e.data.encoding as BufferEncoding).toString('utf8');
        if (e.type === EventType.SshLine) expect(seen.endsWith(`${String(e.data.line)}\r`), `${String(e.data.line)} after ${JSON.stringify(seen)}`).toBe(true);
      }
    });
  }
});
