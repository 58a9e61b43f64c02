// Generated variants: aliases × expressions over a protected column × result
// formats × protocol modes. One raw connection per (gateway, mode, format) runs
// every statement; each statement carries a marker comment so its answer (the
// messages up to its ReadyForQuery) and its recording lines are judged apart.
import type { TestGateway } from '../../helpers/gateway.js';
import { wire } from './clients.js';
import type { Harness } from './harness.js';
import { findLeaks } from './seed.js';
import type { CaseResult } from './summary.js';
import { fe, type BeMessage } from './wire-client.js';

export const ALIASES = ['', ' AS e', ' AS "EMAIL"', ' AS name', ' AS id'];

/** `{c}` is the protected column reference (customers aliased c); `{col}` its bare name. */
export const EXPRESSIONS = [
  '{c}', 'upper({c})', "{c} || ''", 'lower({c})::varchar', 'substr({c}, 1, 100)', '{c}::bytea', "concat('x', {c})",
  "format('%s', {c})", '(SELECT c2.{col} FROM customers c2 WHERE c2.id = c.id)', "coalesce({c}, 'n')", 'CASE WHEN true THEN {c} END',
  "array_to_string(ARRAY[{c}], ',')", 'row({c})::text', 'to_json({c})::text', "regexp_replace({c}, '(.)', '\\1 ', 'g')", 'reverse({c})',
  "encode(convert_to({c}, 'UTF8'), 'base64')", "translate({c}, '-', '')", 'ARRAY[{c}]', 'jsonb_build_array({c})',
];

const COLUMN_REFS: Record<string, string[]> = {
  email: ['email', 'c.email', '"c"."email"'], ssn: ['ssn', 'c.ssn', 'c."ssn"'], card: ['card', 'c.card', '"card"'], notes: ['notes', 'c.notes', '"notes"'],
};

export interface Variant { n: number; sql: string; label: string; beyond?: string }

/** `beyond`: for an expression outside what the defence claims, why (reported, not failing). */
export function variants(columns: string[], expressions = EXPRESSIONS, aliases = ALIASES, beyond: (expr: string) => string | undefined = () => undefined): Variant[] {
  const out: Variant[] = [];
  columns.forEach((col) => expressions.forEach((expr, e) => aliases.forEach((alias) => {
    const ref = COLUMN_REFS[col]![(e + out.length) % 3]!;
    const select = expr.replaceAll('{c}', ref).replaceAll('{col}', col);
    const n = out.length;
    out.push({ n, sql: `SELECT ${select}${alias} FROM customers c ORDER BY c.id /*v${n}*/`, label: `${select}${alias}`, beyond: beyond(expr) });
  })));
  return out;
}

export type Mode = 'simple' | 'extended+describe' | 'extended-no-describe' | 'pipelined';

function messagesFor(mode: Mode, v: Variant, format: number): Buffer[] {
  if (mode === 'simple') return [fe.query(v.sql)];
  const describe = mode === 'extended+describe' || (mode === 'pipelined' && v.n % 2 === 0);
  return [fe.parse('', v.sql), fe.bind('', '', [], format), ...(describe ? [fe.describe('P', '')] : []), fe.execute('', 0), fe.sync()];
}

/** Splits answers at each ReadyForQuery: one group per Sync or Query sent. */
function groups(msgs: BeMessage[]): BeMessage[][] {
  const out: BeMessage[][] = [[]];
  for (const m of msgs) {
    out[out.length - 1]!.push(m);
    if (m.type === 'Z') out.push([]);
  }
  return out.slice(0, -1);
}

const raw = (ms: BeMessage[]) => Buffer.concat(ms.map((m) => Buffer.concat([Buffer.from(m.type), m.body])));

/**
 * Runs every variant over one connection and returns one result per variant
 * (client bytes of its answer, and the recording lines from its statement on).
 */
export async function runMatrix(h: Harness, gw: TestGateway, appName: string, mode: Mode, format: number, list: Variant[]): Promise<CaseResult[]> {
  const w = await wire(gw, appName);
  let answers: BeMessage[][];
  if (mode === 'pipelined') {
    answers = groups(await w.roundTrip(...list.flatMap((v) => messagesFor(mode, v, format))));
  } else {
    answers = [];
    for (const v of list) answers.push(await w.roundTrip(...messagesFor(mode, v, format)));
  }
  await w.close();
  const problems: string[] = [];
  const texts = await h.recordingTexts(gw, appName, problems);
  const recLeaks = new Map<number, string[]>();
  for (const t of texts) {
    let current = -1;
    for (const line of t.text.split('\n')) {
      const m = /\/\*v(\d+)\*\//.exec(line);
      if (m) current = Number(m[1]);
      for (const l of findLeaks(line, 'recording')) {
        if (current < 0) problems.push(`a seeded value in the recording before any statement: ${l.kind} as ${l.form}`);
        const arr = recLeaks.get(current) ?? [];
        arr.push(`${l.kind} as ${l.form} in the recording: …${l.context}…`);
        recLeaks.set(current, arr);
      }
    }
  }
  const fmt = format ? 'binary' : 'text';
  return list.map((v, i) => {
    const answer = answers[i] ?? [];
    const leaks = [...findLeaks(raw(answer), 'client').map((l) => `${l.kind} as ${l.form} to the client: …${l.context}…`), ...(recLeaks.get(v.n) ?? [])];
    const missing = answer.length ? [] : ['no answer (the connection ended before this statement)'];
    return {
      id: `${appName}/v${v.n}`, name: `${mode} ${fmt}: ${v.label}`, kind: 'variant', beyond: v.beyond, passed: !leaks.length && !missing.length && !problems.length,
      leaks: leaks.slice(0, 2), ran: [], problems: [...missing, ...problems],
    } satisfies CaseResult;
  });
}
