// Class 7: the recording names the statement that ran. Every extended-protocol
// execution PostgreSQL logged (execute <name>: <sql>) must appear, in order, as a
// recorded execute event naming that same SQL, however the client re-parsed,
// closed or re-bound the statement and portal names in between.
import { afterAll, beforeAll } from 'vitest';
import { fe, Harness, startAdversarialPg, type AdversarialPg, type CaseContext } from './support.js';
import type { WireClient } from './wire-client.js';

let env: AdversarialPg;
beforeAll(async () => { env = await startAdversarialPg(); });
afterAll(async () => { await env?.stop(); });
const h = new Harness('c7-recording-truth', () => env);

/** Every string inside an event's data, and those of the parse events it refers to by seq. */
function texts(data: unknown, out: string[] = []): string[] {
  if (typeof data === 'string') out.push(data.trim());
  else if (Array.isArray(data)) data.forEach((d) => texts(d, out));
  else if (data && typeof data === 'object') Object.values(data).forEach((d) => texts(d, out));
  return out;
}

/** Runs `steps` on a raw connection, then compares PostgreSQL's executions with the recording's execute events. */
async function compare(c: CaseContext, steps: (w: WireClient, m: (tag: string) => string) => Promise<void>) {
  const mark = (tag: string) => `/*${c.id}:${tag}*/`;
  const w = await c.wire();
  await steps(w, mark);
  await w.close();
  const ran = (await env.db.loggedStatements()).filter((s) => s.includes(`/*${c.id}:`)).map((s) => s.trim());
  const problems: string[] = [];
  const [file] = await h.recordingTexts(c.gw, c.id, problems);
  const events = (file?.text ?? '').split('\n').slice(1).filter(Boolean).map((l) => JSON.parse(l) as { seq: number; type: string; data: Record<string, unknown> });
  const parses = new Map(events.filter((e) => e.type === 'pg.parse').map((e) => [e.seq, texts(e.data)]));
  const executes = events.filter((e) => e.type === 'pg.execute').map((e) => {
    const refs = Object.values(e.data).filter((v): v is number => typeof v === 'number' && parses.has(v)).flatMap((v) => parses.get(v)!);
    return [...texts(e.data), ...refs];
  });
  c.expect(ran.length > 0, `PostgreSQL logged no execution of this case (${problems.join('; ')})`);
  const named = executes.filter((t) => t.some((s) => s.includes(`/*${c.id}:`)) || !t.some((s) => s.includes('/*')));
  for (let i = 0; i < ran.length; i++) {
    const rec = named[i];
    c.expect(rec !== undefined && rec.includes(ran[i]!), `execution ${i + 1}: PostgreSQL ran «${ran[i]}», the recording's execute event names ${rec ? `«${rec.filter((s) => s.includes('/*')).join(' | ') || rec.join(' | ')}»` : 'nothing'}`);
  }
  c.expect(named.length === ran.length, `PostgreSQL ran ${ran.length} executions, the recording has ${named.length} execute events`);
}

const upd = (v: string, m: (t: string) => string) => `UPDATE ${v} SET note = note WHERE id = 1 ${m('upd')}`;
const sel = (m: (t: string) => string) => `SELECT 1 ${m('sel')}`;
const o = { victims: 1 };

h.case('the unnamed statement parsed again after Bind', (c) => compare(c, async (w, m) => {
  await w.roundTrip(fe.parse('', upd(c.victims[0]!, m)), fe.bind('', ''), fe.parse('', sel(m)), fe.execute(''), fe.sync());
}), o);
h.case('a named statement closed and parsed again before its portal runs', (c) => compare(c, async (w, m) => {
  await w.roundTrip(fe.parse('s', upd(c.victims[0]!, m)), fe.bind('p', 's'), fe.close('S', 's'), fe.parse('s', sel(m)), fe.execute('p'), fe.sync());
}), o);
h.case('the unnamed portal bound again to another statement', (c) => compare(c, async (w, m) => {
  await w.roundTrip(fe.parse('a', upd(c.victims[0]!, m)), fe.parse('b', sel(m)), fe.bind('', 'b'), fe.bind('', 'a'), fe.execute(''), fe.sync());
}), o);
h.case('a named portal closed and bound again to another statement', (c) => compare(c, async (w, m) => {
  await w.roundTrip(fe.parse('a', sel(m)), fe.parse('b', upd(c.victims[0]!, m)), fe.bind('p', 'a'), fe.close('P', 'p'), fe.bind('p', 'b'), fe.execute('p'), fe.sync());
}), o);
h.case('pipelined syncs reusing the unnamed statement', (c) => compare(c, async (w, m) => {
  await w.roundTrip(fe.parse('', upd(c.victims[0]!, m)), fe.bind('', ''), fe.execute(''), fe.sync(), fe.parse('', sel(m)), fe.bind('', ''), fe.execute(''), fe.sync());
}), o);
h.case('Parse of a name that already exists (the server refuses it, the old statement runs)', (c) => compare(c, async (w, m) => {
  await w.roundTrip(fe.parse('s', upd(c.victims[0]!, m)), fe.sync());
  await w.roundTrip(fe.parse('s', sel(m)), fe.sync());
  await w.roundTrip(fe.bind('', 's'), fe.execute(''), fe.sync());
}), o);
h.case('Parse refused by the gateway under a name the server already holds', (c) => compare(c, async (w, m) => {
  await w.roundTrip(fe.parse('s', upd(c.victims[0]!, m)), fe.sync());
  await w.roundTrip(fe.parse('s', `DROP TABLE ${c.victims[0]} ${m('drop')}`), fe.sync());
  await w.roundTrip(fe.bind('', 's'), fe.execute(''), fe.sync());
}), o);
h.case('a suspended portal executed twice', (c) => compare(c, async (w, m) => {
  await w.roundTrip(fe.parse('', `SELECT id FROM ${c.victims[0]} ${m('rows')}`), fe.bind('', ''), fe.execute('', 2), fe.parse('x', sel(m)), fe.execute('', 0), fe.sync());
}), o);
h.case('Describe, then the unnamed statement parsed again before Bind', (c) => compare(c, async (w, m) => {
  await w.roundTrip(fe.parse('', upd(c.victims[0]!, m)), fe.describe('S', ''), fe.parse('', sel(m)), fe.bind('', ''), fe.execute(''), fe.sync());
}), o);
h.case('Bind in one sync, Execute of the portal in the next (the statement re-parsed between)', (c) => compare(c, async (w, m) => {
  await w.roundTrip(fe.query('BEGIN'));
  await w.roundTrip(fe.parse('a', upd(c.victims[0]!, m)), fe.bind('p', 'a'), fe.sync());
  await w.roundTrip(fe.close('S', 'a'), fe.parse('a', sel(m)), fe.sync());
  await w.roundTrip(fe.execute('p'), fe.sync());
  await w.roundTrip(fe.query('COMMIT'));
}), o);
h.case('a Bind to a statement SQL PREPARE made: the recording names the PREPARE, also after DEALLOCATE and a new PREPARE', async (c) => {
  const mark = (tag: string) => `/*${c.id}:${tag}*/`;
  const update = `PREPARE s AS ${upd(c.victims[0]!, mark)}`;
  const select = `PREPARE s AS ${sel(mark)}`;
  const w = await c.wire();
  await w.roundTrip(fe.query(update));
  await w.roundTrip(fe.bind('', 's'), fe.execute(''), fe.sync());
  await w.roundTrip(fe.query('DEALLOCATE s'));
  await w.roundTrip(fe.query(select));
  await w.roundTrip(fe.bind('', 's'), fe.execute(''), fe.sync());
  await w.close();
  // PostgreSQL logs a protocol execution of a SQL-prepared statement as the PREPARE's text.
  const ran = (await env.db.loggedStatements()).filter((s) => s.includes(`/*${c.id}:`)).map((s) => s.trim());
  c.expect(ran.filter((s) => s === update).length === 2 && ran.filter((s) => s === select).length === 2, `PostgreSQL logged ${JSON.stringify(ran)}`);
  const problems: string[] = [];
  const [file] = await h.recordingTexts(c.gw, c.id, problems);
  const events = (file?.text ?? '').split('\n').slice(1).filter(Boolean).map((l) => JSON.parse(l) as { seq: number; type: string; data: Record<string, unknown> });
  const executes = events.filter((e) => e.type === 'pg.execute');
  const queries = new Map(events.filter((e) => e.type === 'pg.query').map((e) => [e.seq, e.data.sql]));
  c.expect(executes.length === 2, `${executes.length} execute events (${problems.join('; ')})`);
  for (const [i, want] of [update, select].entries()) {
    const e = executes[i]?.data;
    c.expect(e?.sql === want, `execute ${i + 1} names ${JSON.stringify(e?.sql)}, PostgreSQL ran «${want}»`);
    c.expect(queries.get(e?.parse as number) === want, `execute ${i + 1} points at query seq ${String(e?.parse)}, not the PREPARE that made its statement`);
  }
}, o);
