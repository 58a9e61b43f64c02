// Class 1, generated: every expression of variants.ts over email, ssn and card,
// under every alias, in text and binary results, over the simple protocol, the
// extended protocol with and without Describe, and pipelined (many Syncs in one
// write); the email variants again under the bare-name rule (*email*).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Harness, startAdversarialPg, type AdversarialPg, type MaskingVariant } from './support.js';
import { runMatrix, variants, type Mode } from './variants.js';

let env: AdversarialPg;
beforeAll(async () => { env = await startAdversarialPg(); });
afterAll(async () => { await env?.stop(); });
const h = new Harness('c1-column-masking', () => env, 'g');

const CELLS: [Mode, number][] = [
  ['simple', 0], ['extended+describe', 0], ['extended+describe', 1], ['extended-no-describe', 0], ['extended-no-describe', 1], ['pipelined', 0], ['pipelined', 1],
];
const GATEWAYS: [MaskingVariant, string[]][] = [['by-table', ['email', 'ssn', 'card']], ['bare-name', ['email']]];

for (const [gwVariant, columns] of GATEWAYS) {
  const list = variants(columns);
  for (const [mode, format] of CELLS) {
    it(`${list.length} generated variants, ${gwVariant} rules, ${mode}, ${format ? 'binary' : 'text'} results: no seeded value reaches the client or the recording`, async () => {
      const gw = await env.gateway(gwVariant);
      const app = `c1g-${gwVariant}-${mode}-${format}`;
      const results = await runMatrix(h, gw, app, mode, format, list);
      for (const r of results) h.summary.add(r);
      const failed = results.filter((r) => !r.passed && !r.beyond);
      expect(failed.slice(0, 8).map((r) => `${r.name}: ${[...r.leaks, ...r.problems].join(' | ')}`), `${failed.length} of ${results.length} variants failed`).toEqual([]);
    }, 120_000);
  }
}
