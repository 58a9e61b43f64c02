import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { trustedKeysOf } from '../../common/keys.js';
import { TempDir } from '../../common/recording/testing/recordings.js';
import { importPaths } from '../import/paths.js';
import { openCase, type CaseFile } from '../store/case.js';
import { writeEvidenceScenario, type EvidenceScenario } from '../testing/evidence.js';
import { fixedSigner } from '../testing/scenario.js';
import { exportCase, type ExportFormat } from './index.js';
import { TIMESKETCH_COLUMNS } from './timesketch.js';

// The evidence case is out of order by session: the gateway's own recording starts first and its
// refusals, revocation and lifting fall between the other sessions' events. A timeline is in time order.
let tmp: TempDir;
let c: CaseFile;
let ev: EvidenceScenario;

beforeAll(async () => {
  tmp = new TempDir();
  const signer = fixedSigner();
  ev = writeEvidenceScenario(tmp.path, signer);
  c = openCase(join(tmp.path, 'case.db'));
  await importPaths(c, [tmp.path], { trusted: trustedKeysOf([signer.publicKey]), now: () => 1_760_000_100_000_000 });
});
afterAll(() => {
  c.close();
  tmp.remove();
});

function exported(format: ExportFormat): string {
  const out = join(tmp.path, `out.${format}`);
  exportCase(c, { format, out });
  return readFileSync(out, 'utf8');
}

/** RFC 4180 records (quoted fields may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  for (let i = 0, quoted = false; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted && ch === '"' && text[i + 1] === '"') {
      field += '"';
      i++;
    } else if (ch === '"') quoted = !quoted;
    else if (quoted) field += ch;
    else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      records.push([...record, field]);
      [field, record] = ['', []];
      i++;
    } else field += ch;
  }
  return records;
}

/** Each row's (session, time µs), from the three timeline formats. */
function rowsOf(format: 'timesketch' | 'csv' | 'jsonl'): { session: string; t: number; dataType?: string }[] {
  const text = exported(format);
  if (format === 'csv') {
    const [cols, ...rows] = parseCsv(text);
    const at = (k: (typeof TIMESKETCH_COLUMNS)[number]) => cols!.indexOf(k);
    return rows.map((f) => ({ session: f[at('session_id')]!, t: Number(f[at('timestamp')]), dataType: f[at('data_type')]! }));
  }
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).map((r) => format === 'jsonl'
    ? { session: String(r.session), t: Number(r.t) }
    : { session: String(r.session_id), t: Number(r.timestamp), dataType: String(r.data_type) });
}

it.each(['timesketch', 'csv', 'jsonl'] as const)('%s rows are in time order across sessions', (format) => {
  const rows = rowsOf(format);
  expect(rows.length).toBeGreaterThan(20);
  const order = rows.map((r) => r.t);
  expect(order).toEqual([...order].sort((a, b) => a - b));
  // The case really interleaves: some session's rows are split by another session's.
  const runs = rows.filter((r, i) => i === 0 || rows[i - 1]!.session !== r.session).map((r) => r.session);
  expect(runs.length).toBeGreaterThan(new Set(runs).size);
  if (format !== 'jsonl') for (const r of rows) expect(r.dataType).toMatch(/^hopscope(:[a-z0-9]+)+$/);
});

it('a timeline of several sessions (the workbench filter) is one pass in time order over just those', () => {
  const out = join(tmp.path, 'two.jsonl');
  const { records } = exportCase(c, { format: 'timesketch', out, sessions: [ev.ids.cut, ev.ids.gateway] });
  const rows = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { session_id: string; timestamp: number });
  expect(rows).toHaveLength(records);
  expect(new Set(rows.map((r) => r.session_id))).toEqual(new Set([ev.ids.cut, ev.ids.gateway]));
  const order = rows.map((r) => r.timestamp);
  expect(order).toEqual([...order].sort((a, b) => a - b));
  expect(rows.at(-1)!.session_id).toBe(ev.ids.gateway); // the gateway's lifting of the revocation comes after the cut session ended
  expect(() => exportCase(c, { format: 'csv', out, sessions: [ev.ids.cut, 'nope'] })).toThrow(/no session nope/);
  expect(() => exportCase(c, { format: 'html', out, sessions: [ev.ids.cut] })).toThrow(/timeline formats/);
});
