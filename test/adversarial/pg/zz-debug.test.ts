import { afterAll, beforeAll, it } from 'vitest';
import { startAdversarialPg, type AdversarialPg, fe, summarize } from './support.js';
import { wire } from './clients.js';
let env: AdversarialPg;
beforeAll(async () => { env = await startAdversarialPg(); });
afterAll(async () => { await env?.stop(); });
it('debug', async () => {
  const gw = await env.gateway('by-table');
  const w = await wire(gw, 'dbg');
  console.log(summarize(await w.roundTrip(fe.query("SET client_encoding = 'SJIS'"))));
  console.log(summarize(await w.roundTrip(fe.query(Buffer.concat([Buffer.from("SELECT E'"), Buffer.from([0x97,0x5c]), Buffer.from("'; SELECT 42; --'")])))));
  console.log(summarize(await w.roundTrip(fe.query("SET NAMES 'SJIS'"))));
  await w.close();
});
