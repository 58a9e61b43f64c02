import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventType, type RecordingEvent } from '../common/recording/index.js';
import { eventually, readEvents, startTestGateway, type TestGateway } from './helpers/gateway.js';
import { startPostgres, type PgServer } from './helpers/postgres.js';
import { ssh2Client, ssh2Exec, sshClientOf, startSshd, type SshdServer } from './helpers/sshd.js';

let db: PgServer;
let sshd: SshdServer;
let gw: TestGateway;
let askpass: string;

beforeAll(async () => {
  [db, sshd] = await Promise.all([startPostgres(), startSshd()]);
  gw = await startTestGateway(db, {}, { ssh: sshd });
  // On the target: an askpass that answers with the session's own hop token.
  askpass = join(gw.dir, 'hop-askpass.sh');
  await writeFile(askpass, '#!/bin/sh\nprintf "%s\\n" "$HOPSCOPE_TOKEN"\n', { mode: 0o755 });
});
afterAll(async () => {
  await gw?.stop();
  await Promise.all([sshd?.stop(), db?.stop()]);
});

const pgPort = () => gw.gateway.postgres!.port;
const sshPort = () => gw.gateway.ssh!.port;
/** psql on the target, through the gateway, with a password taken from an environment variable. */
const psqlWith = (passwordVar: string, sql: string) =>
  `PGPASSWORD="$${passwordVar}" psql -X -A -t -h 127.0.0.1 -p ${pgPort()} -U agent -d db -c "${sql}"`;
/** ssh on the target, through the gateway, answering the password prompt with $HOPSCOPE_TOKEN. */
async function nestedSsh(command: string): Promise<string> {
  const { options } = await sshClientOf(gw.dir, 'unused');
  // base64 spares the command a second level of shell quoting.
  const encoded = Buffer.from(command).toString('base64');
  return `SSH_ASKPASS=${askpass} SSH_ASKPASS_REQUIRE=force DISPLAY=:0 ssh ${options.join(' ')} -p ${sshPort()} agent:host@127.0.0.1 'echo ${encoded} | base64 -d | sh'`;
}

async function sessions(): Promise<Map<string, RecordingEvent[]>> {
  const out = new Map<string, RecordingEvent[]>();
  for (const file of await gw.sessionFiles()) out.set(file.split('/').at(-1)!.replace(/\.jsonl$/, ''), await readEvents(file));
  return out;
}
/** The start event of the sealed session whose events include `marker` in an SQL text. */
async function pgStartWith(marker: string) {
  return eventually(async () => {
    for (const [id, events] of await sessions()) {
      if (events.at(-1)?.type === EventType.Seal && events.some((e) => e.type === EventType.PgQuery && String(e.data.sql).includes(marker))) {
        return { id, start: events[0]!.data };
      }
    }
    return undefined;
  });
}
async function sshSessionIdOf(client: Awaited<ReturnType<typeof ssh2Client>>) {
  return (await ssh2Exec(client, 'echo $HOPSCOPE_SESSION')).stdout.trim();
}

describe('nested hops and lineage', () => {
  it('links ssh → psql with the hop token, proven', async () => {
    const client = await ssh2Client(sshPort(), 'agent:host', { password: gw.token() });
    const parent = await sshSessionIdOf(client);
    const res = await ssh2Exec(client, psqlWith('HOPSCOPE_TOKEN', "SELECT 'hop-1'"));
    client.end();
    expect(res.stdout.trim()).toBe('hop-1');
    const { start } = await pgStartWith('hop-1');
    expect(start).toMatchObject({ parent, linkKind: 'hop-token', inferred: false, tokenKind: 'hop', identity: 'agent' });
  });

  it('links ssh → ssh → psql, each hop to its own parent, with the same root token', async () => {
    const client = await ssh2Client(sshPort(), 'agent:host', { password: gw.token() });
    const outer = await sshSessionIdOf(client);
    const res = await ssh2Exec(client, await nestedSsh(`echo inner=$HOPSCOPE_SESSION; ${psqlWith('HOPSCOPE_TOKEN', "SELECT 'hop-2'")}`));
    client.end();
    expect(res.stdout).toContain('hop-2');
    const inner = /inner=(\S+)/.exec(res.stdout)![1]!;
    const all = await sessions();
    const innerStart = all.get(inner)![0]!.data;
    expect(innerStart).toMatchObject({ parent: outer, linkKind: 'hop-token', protocol: 'ssh' });
    const { start } = await pgStartWith('hop-2');
    expect(start).toMatchObject({ parent: inner, linkKind: 'hop-token' });
    expect(start.rootTokenId).toBe(all.get(outer)![0]!.data.rootTokenId);
  });

  it('refuses a hop token whose session has ended', async () => {
    const client = await ssh2Client(sshPort(), 'agent:host', { password: gw.token() });
    const hop = (await ssh2Exec(client, 'echo $HOPSCOPE_TOKEN')).stdout.trim();
    client.end();
    await eventually(async () => ((await fetchSessions()).length === 0 ? true : undefined));
    const pgc = new pg.Client({ host: '127.0.0.1', port: pgPort(), user: 'agent', database: 'db', password: hop });
    await expect(pgc.connect()).rejects.toThrow(/the hop token belongs to a session that has ended/);
  });

  it('links a reused ancestor token as token-reuse, inferred, with evidence', async () => {
    const token = gw.token();
    const client = await ssh2Client(sshPort(), 'agent:host', { password: token });
    const parent = await sshSessionIdOf(client);
    const res = await ssh2Exec(client, psqlWith('LC_REUSED_TOKEN', "SELECT 'reuse'"), { env: { LC_REUSED_TOKEN: token } });
    client.end();
    expect(res.stdout.trim()).toBe('reuse');
    const { start } = await pgStartWith("'reuse'");
    expect(start).toMatchObject({ parent, linkKind: 'token-reuse', inferred: true });
    expect(start.evidence).toMatchObject({ fromParentTarget: true, parentTarget: 'host' });
  });

  it('links a connection from the target host during a session as address-time, inferred', async () => {
    const client = await ssh2Client(sshPort(), 'agent:host', { password: gw.token() });
    const parent = await sshSessionIdOf(client);
    const res = await ssh2Exec(client, psqlWith('LC_OTHER_TOKEN', "SELECT 'by-address'"), { env: { LC_OTHER_TOKEN: gw.token() } });
    client.end();
    expect(res.stdout.trim()).toBe('by-address');
    const { start } = await pgStartWith('by-address');
    expect(start).toMatchObject({ parent, linkKind: 'address-time', inferred: true });
    expect(start.evidence).toMatchObject({ clientAddress: '127.0.0.1', parentTarget: 'host' });
  });

  it('revoking the identity cuts the SSH session and every live descendant', async () => {
    const client = await ssh2Client(sshPort(), 'agent:host', { password: gw.token() });
    const parent = await sshSessionIdOf(client);
    const running = ssh2Exec(client, psqlWith('HOPSCOPE_TOKEN', "SELECT 'long', pg_sleep(30)"));
    await eventually(async () => ((await fetchSessions()).some((s) => s.parent === parent) ? true : undefined));
    const res = await fetch(`${gw.gateway.admin.url}/revocations`, {
      method: 'POST', headers: { authorization: `Bearer ${gw.gateway.admin.token}` }, body: JSON.stringify({ identity: 'agent' }),
    });
    expect(((await res.json()) as { sessionsCut: string[] }).sessionsCut).toHaveLength(2);
    const ended = await running;
    expect(ended.stderr).toContain('hopscope: the session was revoked (identity agent)');
    client.end();
    const all = await sessions();
    const ends = [...all.values()].filter((ev) => ev[0]!.data.parent === parent || ev[0]!.type === EventType.SessionStart && all.get(parent) === ev)
      .map((ev) => ev.find((e) => e.type === EventType.SessionEnd)!.data);
    expect(ends.length).toBe(2);
    expect(ends.map((end) => end.cause).sort()).toEqual(['ancestor-revoked', 'revoked']);
    for (const end of ends) expect(end).toMatchObject({ by: 'admin', revocation: { identity: 'agent', by: 'admin' } });
  });
});

async function fetchSessions(): Promise<Array<{ id: string; parent?: string }>> {
  const res = await fetch(`${gw.gateway.admin.url}/sessions`, { headers: { authorization: `Bearer ${gw.gateway.admin.token}` } });
  return (await res.json()) as Array<{ id: string; parent?: string }>;
}
