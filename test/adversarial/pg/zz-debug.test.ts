import { afterAll, beforeAll, it } from 'vitest';
import { startAdversarialPg, type AdversarialPg, findLeaks } from './support.js';
import { psql } from './clients.js';
let env: AdversarialPg;
beforeAll(async () => { env = await startAdversarialPg(); });
afterAll(async () => { await env?.stop(); });
it('debug', async () => {
  const gw = await env.gateway((process.env.DBG_GW ?? 'by-table') as 'by-table');
  const r = await psql(gw, 'dbg', process.env.DBG_SQL!, { stdin: true });
  console.log(r.stdout, r.stderr, JSON.stringify(findLeaks(r.stdout + r.stderr, 'x')));
});
