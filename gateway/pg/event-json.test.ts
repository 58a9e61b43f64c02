import { describe, expect, it } from 'vitest';
import { decodeEvent, EventSchemas, EventType, RECORDING_VERSION, type EventName } from '../../common/recording/index.js';
import type { RecordingWriter } from '../recording/index.js';
import { pgParseJson, pgQueryJson } from './admit.js';
import type { MaskedField } from './masking.js';
import { serializeBackend as backend } from './protocol/index.js';
import { ResultRecorder } from './results.js';

/**
 * The hand-built JSON of the hot events (pg.result, pg.query, pg.parse) is what
 * the schema describes: each text written is decoded by the schema (the zod
 * parser itself, not the importer's plain checks) and equals JSON.parse of it.
 */
function decodes(type: EventName, json: string): void {
  const data = JSON.parse(json) as Record<string, unknown>;
  const parsed = EventSchemas[type].safeParse(data);
  expect(parsed.success, `${type} ${json}: ${parsed.error?.issues[0]?.message}`).toBe(true);
  expect(parsed.data).toEqual(data); // nothing the schema does not name
  expect(decodeEvent(RECORDING_VERSION, type, data)).toEqual({ kind: 'known', type, data });
}

function recorder(masked: MaskedField[] = [], maxRows = 2) {
  const written: [string, string][] = [];
  const writer = {
    append: (type: string, data: Record<string, unknown>) => written.push([type, JSON.stringify(data)]),
    appendJson: (type: string, json: string) => written.push([type, json]),
  } as unknown as RecordingWriter;
  let now = 1000;
  let next = masked;
  const results = new ResultRecorder(writer, maxRows, () => (now += 10), () => {
    const m = next;
    next = [];
    return m;
  });
  const feed = (...frames: Buffer[]) => {
    for (const f of frames) results.onFrame(f[0]!, f);
  };
  return { written, results, feed };
}

const columns = (...names: string[]) => backend.rowDescription(names.map((name, i) => (
  { name, tableID: 0, columnID: 0, dataTypeID: i % 2 ? 25 : 23, dataTypeSize: -1, dataTypeModifier: -1, format: 'text' as const })));

describe('hand-built event JSON matches the schema', () => {
  it('pg.result: rows, no rows, NULLs, escapes, long values, masking notes, COPY, suspended portals, errors and notices', () => {
    const { written, results, feed } = recorder([{ column: 'e"mail', rule: 'email', count: 2 }, { rule: 'copy-rule', count: 1 }]);
    results.statementSent('query', 1);
    feed(columns('id', 'e"mail'), backend.dataRow(['1', 'a\nb "q" \\ é 😀']), backend.dataRow([null, 'x'.repeat(5000)]), backend.dataRow(['3', '']),
      backend.commandComplete('SELECT 3'));
    feed(backend.commandComplete('INSERT 0 4'), backend.readyForQuery('I'));
    results.statementSent('query', 2);
    feed(backend.emptyQueryResponse(), backend.readyForQuery('I'));
    results.statementSent('execute', 3);
    feed(columns('n'), backend.dataRow(['1']), backend.portalSuspended());
    results.statementSent('execute', 4);
    feed(backend.errorResponse({ severity: 'ERROR', code: '42P01', message: 'relation "x" does not exist', detail: 'd', hint: 'h', position: '15' }));
    feed(backend.noticeResponse({ severity: 'NOTICE', code: '00000', message: 'note' }), backend.readyForQuery('I'));
    expect(written.map(([t]) => t)).toEqual([
      EventType.PgResult, EventType.PgResult, EventType.PgResult, EventType.PgResult, EventType.PgError, EventType.PgNotice,
    ]);
    for (const [type, json] of written) decodes(type as EventName, json);
    expect(JSON.parse(written[0]![1])).toMatchObject({ masked: [{ column: 'e"mail', rule: 'email', count: 2 }, { rule: 'copy-rule', count: 1 }] });
    expect(JSON.parse(written[3]![1])).toMatchObject({ suspended: true });
  });

  it('pg.query and pg.parse: plain, rewritten (forwarded), quotes, control characters and non-ASCII', () => {
    const texts = ['select 1', 'select "a\tb" from t where x = \'\\n\'', 'é 日本 😀 \u0000 \u001f \u2028', 'x'.repeat(300), ''];
    for (const sql of texts) {
      decodes(EventType.PgQuery, pgQueryJson(sql, undefined));
      decodes(EventType.PgQuery, pgQueryJson(sql, `${sql} /* rewritten */`));
      for (const verdict of ['allow', 'block', 'review']) {
        decodes(EventType.PgParse, pgParseJson('', sql, undefined, verdict));
        decodes(EventType.PgParse, pgParseJson('stmt "1"', sql, sql.toUpperCase(), verdict));
      }
      expect(pgQueryJson(sql, 'f')).toBe(JSON.stringify({ sql, forwarded: 'f' }));
      expect(pgParseJson('s', sql, undefined, 'allow')).toBe(JSON.stringify({ statement: 's', sql, verdict: 'allow' }));
    }
  });
});
