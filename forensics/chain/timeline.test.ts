import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTrustedKeys } from '../../common/keys.js';
import { importPaths, openCase, type CaseFile } from '../index.js';
import { chainTimeline } from './timeline.js';

// The chain timeline on the committed nested-agents incident (examples/nested-agents).
const ROOT = '20261126T031028Z-e25841cb6c52'; // ssh, contractor-ci → build-host
const PG = '20261126T031029Z-bba7dd59e1ea'; // the psql hop it opened
let dir: string;
let c: CaseFile;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hopscope-chain-timeline-'));
  c = openCase(join(dir, 'case.db'));
  const examples = join(process.cwd(), 'examples', 'nested-agents');
  await importPaths(c, [join(examples, 'recordings')], { trusted: loadTrustedKeys([join(examples, 'gateway_ed25519.pub')]) });
});

afterAll(() => {
  c?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('chain timeline', () => {
  it('puts every hop\'s commands, statements, policy steps and the revocation in one time order, each with its hop', () => {
    const { rows, truncated } = chainTimeline(c, null);
    expect(truncated).toBe(false);
    expect(rows.every((r, i) => i === 0 || r.t >= rows[i - 1]!.t)).toBe(true);
    expect(new Set(rows.map((r) => r.session)).size).toBeGreaterThanOrEqual(6);
    expect(rows.some((r) => r.kind === 'statement' && r.session === PG)).toBe(true);
    expect(rows.some((r) => r.kind === 'command' && r.session === ROOT)).toBe(true);
    expect(rows.find((r) => r.kind === 'revocation')).toMatchObject({ actor: 'admin', text: expect.stringContaining('contractor-ci') });
    expect(rows.some((r) => r.kind === 'refused')).toBe(true);
    expect(rows.some((r) => r.policy?.includes('denied') && r.actor === 'alice')).toBe(true);
    expect(rows.some((r) => r.kind === 'masked')).toBe(true);
    expect(rows.some((r) => ['pg.result', 'ssh.output'].includes(r.text) )).toBe(false);
  });

  it('ties each child hop to the parent command that opened it (by time), both ways', () => {
    const { rows } = chainTimeline(c, null);
    const start = rows.find((r) => r.kind === 'start' && r.session === PG)!;
    expect(start.openedBy?.session).toBe(ROOT);
    const opener = rows.find((r) => r.session === ROOT && r.seq === start.openedBy!.seq)!;
    expect(opener.kind).toBe('command');
    expect(opener.opened).toContain(PG);
    expect(opener.t).toBeLessThanOrEqual(start.t);
    for (const child of rows.filter((r) => r.kind === 'start' && r.depth > 0)) expect(child.openedBy, child.session).toBeDefined();
    // On deploy-host the agent typed ahead (psql, then … exit): the psql line opened the inner prod-db hop, not `exit`.
    const inner = rows.find((r) => r.kind === 'start' && r.depth === 2)!;
    const line = rows.find((r) => r.session === inner.openedBy!.session && r.seq === inner.openedBy!.seq)!;
    expect(line.text).toMatch(/^typed: .*\bpsql\b/);
    // Its output is paired with it, not with `exit` typed after it (split at the shell's echo of each line).
    expect(line.response).toContain('1|[masked:email]|[masked:ssn]');
    const deployHost = rows.filter((r) => r.session === line.session && r.kind === 'command');
    expect(deployHost.find((r) => r.text === 'typed: exit')?.response).not.toContain('[masked:');
    expect(deployHost.find((r) => r.text === 'typed: echo "deploy-host: done"')?.response).toMatch(/^deploy-host: done ⏎/);
  });

  it('scopes to the chain that holds a session, with the gateway\'s own facts', () => {
    const all = chainTimeline(c, null).rows;
    const chain = chainTimeline(c, PG).rows;
    expect(chain.length).toBe(all.length); // one chain in this case
    expect(chain.some((r) => r.kind === 'revocation')).toBe(true);
    expect(chainTimeline(c, null, 10)).toMatchObject({ truncated: true, rows: expect.any(Array) });
    expect(chainTimeline(c, null, 10).rows).toHaveLength(10);
  });
});
