// Class 3: the extended protocol. Results must be masked whether or not the
// client sent Describe, and a Describe of another statement or portal (or an
// earlier one) must never leave stale columns that decide how rows are masked.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { findLeaks } from './seed.js';
import { fe, Harness, startAdversarialPg, type AdversarialPg } from './support.js';
import { EXPRESSIONS } from './variants.js';

let env: AdversarialPg;
beforeAll(async () => { env = await startAdversarialPg(); });
afterAll(async () => { await env?.stop(); });
const h = new Harness('c3-extended-protocol', () => env);

const SAFE = 'SELECT name, id::text AS email FROM customers ORDER BY id';
const SECRET = 'SELECT email, ssn, card FROM customers ORDER BY id';

for (const format of [0, 1]) {
  const f = format ? 'binary' : 'text';
  h.case(`Parse/Bind/Execute without Describe (${f})`, async (c) => {
    const w = await c.wire();
    await w.roundTrip(fe.parse('', SECRET), fe.bind('', '', [], format), fe.execute(''), fe.sync());
  });
  h.case(`Describe of another statement, then Execute of the protected one (${f})`, async (c) => {
    const w = await c.wire();
    await w.roundTrip(fe.parse('a', SAFE), fe.parse('b', SECRET), fe.describe('S', 'a'), fe.bind('', 'b', [], format), fe.execute(''), fe.sync());
  });
  h.case(`Describe of another portal, then Execute of the protected portal (${f})`, async (c) => {
    const w = await c.wire();
    await w.roundTrip(fe.parse('a', SAFE), fe.parse('b', SECRET), fe.bind('pa', 'a', [], format), fe.bind('pb', 'b', [], format),
      fe.describe('P', 'pa'), fe.execute('pb'), fe.sync());
  });
  h.case(`Describe of the unnamed statement, then the unnamed statement parsed again (${f})`, async (c) => {
    const w = await c.wire();
    await w.roundTrip(fe.parse('', SAFE), fe.describe('S', ''), fe.sync());
    await w.roundTrip(fe.parse('', SECRET), fe.bind('', '', [], format), fe.execute(''), fe.sync());
  });
  h.case(`suspended portal resumed after a Describe of an unprotected portal (${f})`, async (c) => {
    const w = await c.wire();
    await w.roundTrip(fe.parse('a', SAFE), fe.parse('b', SECRET), fe.bind('pb', 'b', [], format), fe.bind('pa', 'a', [], format),
      fe.describe('P', 'pb'), fe.execute('pb', 1), fe.describe('P', 'pa'), fe.execute('pb', 0), fe.sync());
  });
  h.case(`two portals interleaved with maxRows (${f})`, async (c) => {
    const w = await c.wire();
    await w.roundTrip(fe.parse('a', SAFE), fe.parse('b', SECRET), fe.bind('pa', 'a', [], format), fe.bind('pb', 'b', [], format),
      fe.describe('P', 'pa'), fe.execute('pa', 1), fe.execute('pb', 1), fe.execute('pa', 1), fe.execute('pb', 2), fe.execute('pb', 0), fe.sync());
  });
  h.case(`Flush instead of Sync, Describe after Execute (${f})`, async (c) => {
    const w = await c.wire();
    w.send(fe.parse('a', SAFE), fe.describe('S', 'a'), fe.flush());
    await w.until((m) => m.type === 'T' || m.type === 'E');
    await w.roundTrip(fe.parse('b', SECRET), fe.bind('', 'b', [], format), fe.execute(''), fe.describe('S', 'a'), fe.sync());
  });
  h.case(`a named statement described once in text, executed again in another format (${f})`, async (c) => {
    const w = await c.wire();
    await w.roundTrip(fe.parse('s', SECRET), fe.describe('S', 's'), fe.bind('', 's', [], 0), fe.execute(''), fe.sync());
    await w.roundTrip(fe.bind('', 's', [], format), fe.execute(''), fe.sync());
    await w.roundTrip(fe.bind('', 's', [], 1 - format), fe.execute(''), fe.sync());
  });
  h.case(`a parameter decides which column comes back (${f})`, async (c) => {
    const w = await c.wire();
    const sql = 'SELECT CASE WHEN $1::int = 1 THEN email WHEN $1::int = 2 THEN ssn ELSE card END AS x FROM customers';
    await w.roundTrip(fe.parse('p', sql, [23]), fe.describe('S', 'p'), fe.sync());
    for (const v of ['1', '2', '3']) await w.roundTrip(fe.bind('', 'p', [v], format), fe.execute(''), fe.sync());
  });
}

h.case('node-postgres named statement executed twice', async (c) => {
  const p = await c.pg();
  for (let i = 0; i < 2; i++) await p.q({ name: 'ns', text: 'SELECT email, ssn, card FROM customers WHERE id > $1', values: [i] });
});
h.case('node-postgres binary rows after an unprotected query of the same shape', async (c) => {
  const p = await c.pg();
  await p.q({ text: 'SELECT name AS a, name AS b FROM customers WHERE id > $1', values: [0], binary: true } as never);
  await p.q({ text: 'SELECT email AS a, ssn AS b FROM customers WHERE id > $1', values: [0], binary: true } as never);
});

/** Generated: a protected expression executed after a Describe of an unprotected statement, portal, or none. */
const DESCRIBES = ['none', 'statement', 'portal'] as const;
for (const format of [0, 1]) {
  it(`generated: ${EXPRESSIONS.length * DESCRIBES.length} protected expressions behind stale Describes (${format ? 'binary' : 'text'}), pipelined`, async () => {
    const gw = await env.gateway('by-table');
    const app = `c3g-${format}`;
    const cases = EXPRESSIONS.flatMap((e, i) => DESCRIBES.map((d, j) => ({ n: i * 3 + j, d, sql: `SELECT ${e.replaceAll('{c}', 'c.email').replaceAll('{col}', 'email')} AS name FROM customers c /*v${i * 3 + j}*/` })));
    const { wire } = await import('./clients.js');
    const w = await wire(gw, app);
    const msgs = await w.roundTrip(...cases.flatMap((k) => [
      fe.parse(`a${k.n}`, SAFE), fe.parse(`b${k.n}`, k.sql), fe.bind(`pa${k.n}`, `a${k.n}`, [], format), fe.bind(`pb${k.n}`, `b${k.n}`, [], format),
      ...(k.d === 'statement' ? [fe.describe('S', `a${k.n}`)] : k.d === 'portal' ? [fe.describe('P', `pa${k.n}`)] : []),
      fe.execute(`pb${k.n}`), fe.close('S', `a${k.n}`), fe.close('S', `b${k.n}`), fe.sync(),
    ]));
    await w.close();
    const groups: Buffer[] = [];
    let cur: Buffer[] = [];
    for (const m of msgs) { cur.push(Buffer.concat([Buffer.from(m.type), m.body])); if (m.type === 'Z') { groups.push(Buffer.concat(cur)); cur = []; } }
    const problems: string[] = [];
    const rec = (await h.recordingTexts(gw, app, problems)).map((t) => t.text).join('\n');
    const recBy = new Map<number, string>();
    let at = -1;
    for (const line of rec.split('\n')) { const m = /\/\*v(\d+)\*\//.exec(line); if (m) at = Number(m[1]); recBy.set(at, `${recBy.get(at) ?? ''}\n${line}`); }
    const failed: string[] = [];
    for (const k of cases) {
      const leaks = [...findLeaks(groups[k.n] ?? Buffer.alloc(0), 'client'), ...findLeaks(recBy.get(k.n) ?? '', 'recording')];
      const passed = !leaks.length && groups[k.n] !== undefined;
      h.summary.add({ id: `${app}/v${k.n}`, name: `describe ${k.d}, ${format ? 'binary' : 'text'}: ${k.sql}`, kind: 'variant', passed, leaks: leaks.slice(0, 2).map((l) => `${l.kind} as ${l.form} in ${l.where}`), ran: [], problems: groups[k.n] ? [] : ['no answer'] });
      if (!passed) failed.push(`${k.d}: ${k.sql}: ${leaks.map((l) => `${l.form} in ${l.where}`).join(', ') || 'no answer'}`);
    }
    expect([...problems, ...failed.slice(0, 8)], `${failed.length} of ${cases.length} failed`).toEqual([]);
  }, 120_000);
}
