import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Exchange, ImportJob } from '../../common/api/index.js';
import { trustedKeysOf } from '../../common/keys.js';
import { FORGED_SQL, writeEvidenceScenario, type EvidenceScenario } from '../../forensics/testing/evidence.js';
import { fixedSigner } from '../../forensics/testing/scenario.js';
import { CaseBackend } from './backend.js';
import type { ChainFacts, EvidenceRow, GatewayExchange, GatewayRecordingRow } from '../../forensics/index.js';

// What the backend tells the UI about evidence, over a real case file: how far each recording is proven
// (a rewrite without the key, an unsigned tail), who revoked a session (from the gateway's own
// recording), and the gateway's recording opened like a hop, one event per row.
let dir: string;
let sc: EvidenceScenario;
let backend: CaseBackend;

async function finished(job: ImportJob): Promise<ImportJob> {
  let j = job;
  while (j.state === 'running') {
    await new Promise((r) => setTimeout(r, 10));
    j = await backend.importStatus(j.id);
  }
  return j;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hopscope-evidence-'));
  const signer = fixedSigner();
  sc = writeEvidenceScenario(dir, signer);
  backend = new CaseBackend({ trusted: trustedKeysOf([signer.publicKey]), workDir: join(dir, 'work'), deliver: async () => ({}) });
  await backend.openCase(join(dir, 'case.db'));
  const job = await finished(await backend.importPaths(Object.values(sc.files)));
  expect(job).toMatchObject({ state: 'done', filesDone: 4 });
});

afterAll(() => {
  backend?.close();
  rmSync(dir, { recursive: true, force: true });
});

const rowOf = async (id: string) => (await backend.sessions({})).sessions.find((s) => s.id === id) as EvidenceRow;

describe('evidence in the workbench backend', () => {
  it('says how far a rewritten recording holds: the break is right after the last valid signature', async () => {
    const row = await rowOf(sc.ids.tampered);
    expect(row.integrity).toBe('tampered');
    expect(row.chain).toMatchObject({ intactThrough: sc.tamperedSignedThrough, signedThrough: sc.tamperedSignedThrough, keyTrusted: true });
    const hop = await backend.hop(sc.ids.tampered);
    const file = hop.file as NonNullable<typeof hop.file> & ChainFacts;
    expect(file).toMatchObject({ integrity: 'tampered', intactThrough: sc.tamperedSignedThrough, signedThrough: sc.tamperedSignedThrough });
    expect(file.lastSeq).toBeGreaterThan(sc.tamperedSeq);
    // The forged statement is there to read, at a seq past the break.
    const forged = hop.exchanges.find((x) => x.text === FORGED_SQL)!;
    expect(forged.seq).toBe(sc.tamperedSeq);
    expect(forged.seq).toBeGreaterThan(file.intactThrough);
    // The approval before the break names its approver and reason.
    const approved = hop.exchanges.flatMap((x) => x.policy).find((p) => p.action === 'approved')!;
    expect(approved).toMatchObject({ actor: 'alice', message: expect.stringContaining('ticket OPS-12') });
    expect(approved.seq).toBeLessThanOrEqual(file.intactThrough);
  });

  it('says where the signed part of an unsealed recording ends', async () => {
    const row = await rowOf(sc.ids.tail);
    expect(['unverified', 'unsealed']).toContain(row.integrity);
    expect(row.sealed).toBe(false);
    expect(row.chain).toMatchObject({ signedThrough: sc.tailSignedThrough });
    expect(row.chain.intactThrough).toBe(row.chain.lastSeq);
    expect(row.chain.lastSeq).toBeGreaterThan(sc.tailSignedThrough);
  });

  it('names who revoked a session, why and through what, from the gateway\'s recording', async () => {
    const row = await rowOf(sc.ids.cut);
    expect(row.revoked).toBe(true);
    expect(row.revocation).toMatchObject({ by: 'admin', reason: sc.revocation.reason, what: 'identity agent', via: 'workbench',
      recording: sc.ids.gateway, verified: true });
    // Sessions nobody revoked carry none.
    expect((await rowOf(sc.ids.tail)).revocation).toBeNull();
  });

  it('lists the gateway\'s recording beside the sessions (not among them), with what it holds', async () => {
    const all = await backend.sessions({});
    expect(all.sessions.map((s) => s.id)).not.toContain(sc.ids.gateway);
    const gateways = (all as typeof all & { gatewayRecordings: GatewayRecordingRow[] }).gatewayRecordings;
    expect(gateways).toEqual([expect.objectContaining({ id: sc.ids.gateway, protocol: 'gateway', integrity: 'intact', sealed: true,
      audit: { revocations: 1, unrevocations: 1, refusals: 2, events: expect.any(Number) } })]);
    expect((await backend.graph()).hops.map((h) => h.id)).not.toContain(sc.ids.gateway);
  });

  it('opens the gateway\'s recording like a hop: one event per row, the actor on each revocation, the refusals, links to the sessions cut', async () => {
    const hop = await backend.hop(sc.ids.gateway);
    expect(hop.session.protocol).toBe('gateway');
    const rows = hop.exchanges as GatewayExchange[];
    expect(rows.map((x) => x.kind)).toEqual(['gateway.start', 'refused', 'revoked', 'refused', 'unrevoked', 'gateway.stop']);
    const revoked = rows.find((x) => x.kind === 'revoked')!;
    expect(revoked.text).toBe('identity agent revoked by admin, 1 live session cut');
    expect(revoked.policy).toEqual([expect.objectContaining({ action: 'revoked', actor: 'admin', message: sc.revocation.reason })]);
    expect(revoked.facts).toEqual(expect.arrayContaining([{ label: 'session cut', value: sc.ids.cut, session: sc.ids.cut }, { label: 'via (as declared)', value: 'workbench' }]));
    const lifted = rows.find((x) => x.kind === 'unrevoked')!;
    expect(lifted.policy[0]).toMatchObject({ action: 'unrevoked', actor: 'alice', message: 'token rotated' });
    const refusals = rows.filter((x) => x.kind === 'refused');
    expect(refusals.map((x) => x.policy[0]!.rule)).toEqual(['TOKEN_INVALID', 'REVOKED']);
    expect(refusals[1]!.facts).toEqual(expect.arrayContaining([{ label: 'revocation', value: `identity agent, revoked by admin: ${sc.revocation.reason}` }]));
    expect(hop.markers.filter((m) => m.kind === 'revoked').map((m) => m.label)).toEqual(['identity agent revoked by admin, 1 live session cut']);
    // Paged the same way: two rows at a time give the same rows.
    const paged: Exchange[] = [];
    for (let from: number | null = hop.index.seq[0]!; from !== null;) {
      const page = await backend.hopExchanges(sc.ids.gateway, from, 2);
      paged.push(...page.exchanges);
      from = page.nextSeq;
    }
    expect(paged).toEqual(hop.exchanges);
    expect(hop.index.seq).toEqual(rows.map((x) => x.seq));
  });
});
