import { describe, expect, it } from 'vitest';
import { EventType } from '../../common/recording/index.js';
import { serializeBackend as backend } from './protocol/index.js';
import type { RecordingWriter } from '../recording/index.js';
import type { MaskedField } from './masking.js';
import { ResultRecorder } from './results.js';

/** Records what the recorder stages: [type, the data's JSON text]. */
function recorder(masked: MaskedField[] = []) {
  const events: [string, string][] = [];
  const writer = {
    append: (type: string, data: Record<string, unknown>) => events.push([type, JSON.stringify(data)]),
    appendJson: (type: string, json: string) => events.push([type, json]),
  } as unknown as RecordingWriter;
  let now = 1000;
  const results = new ResultRecorder(writer, 2, () => (now += 10), () => masked);
  const feed = (...frames: Buffer[]) => {
    for (const f of frames) results.onFrame(f[0]!, f);
  };
  return { events, results, feed };
}

const rowDescription = backend.rowDescription([
  { name: 'id', tableID: 0, columnID: 0, dataTypeID: 23, dataTypeSize: 4, dataTypeModifier: -1, format: 'text' },
  { name: 'note "quoted"', tableID: 0, columnID: 0, dataTypeID: 25, dataTypeSize: -1, dataTypeModifier: -1, format: 'text' },
]);

describe('ResultRecorder', () => {
  it('writes the result event as JSON.stringify would, field for field', () => {
    const { events, results, feed } = recorder([{ column: 'note "quoted"', rule: 'email', count: 2 }]);
    results.statementSent('query', 7);
    feed(rowDescription, backend.dataRow(['1', 'a\nb']), backend.dataRow([null, 'é']), backend.dataRow(['3', 'x']),
      backend.commandComplete('SELECT 3'), backend.readyForQuery('I'));
    expect(events.map(([t]) => t)).toEqual([EventType.PgResult]);
    expect(events[0]![1]).toBe(JSON.stringify({
      statement: 7, command: 'SELECT 3', rowCount: 3,
      columns: [{ name: 'id', typeOid: 23, format: 'text' }, { name: 'note "quoted"', typeOid: 25, format: 'text' }],
      rows: [['1', 'a\nb'], [null, 'é']], rowsRecorded: 2, masked: [{ column: 'note "quoted"', rule: 'email', count: 2 }], durationMicros: 10,
    }));
    // The same RowDescription again (its columns are reused), then a result without rows.
    results.statementSent('query', 8);
    feed(rowDescription, backend.commandComplete('SELECT 0'), backend.commandComplete('INSERT 0 4'), backend.readyForQuery('T'));
    expect(JSON.parse(events[1]![1])).toMatchObject({ statement: 8, rowCount: 0, columns: [{ name: 'id' }, { name: 'note "quoted"' }], rows: [] });
    expect(JSON.parse(events[2]![1])).toMatchObject({ statement: 8, command: 'INSERT 0 4', rowCount: 4, columns: [], rows: [] });
    expect(results.transactionStatus).toBe('T');
  });

  it('records errors and notices with their fields', () => {
    const { events, results, feed } = recorder();
    results.statementSent('execute', 3);
    results.syncSent();
    feed(backend.errorResponse({ severity: 'ERROR', code: '23505', message: 'duplicate key', detail: 'Key (id)=(1) exists.' }), backend.readyForQuery('I'));
    expect(events).toEqual([[EventType.PgError, JSON.stringify({ statement: 3, severity: 'ERROR', code: '23505', message: 'duplicate key', detail: 'Key (id)=(1) exists.' })]]);
    expect(results.inFlight).toBe(0);
  });

  it('writes each recorded value as JSON.stringify would: escapes, UTF-8, NULL, binary, long values cut', () => {
    const { events, results, feed } = recorder();
    const long = 'x'.repeat(4096);
    const values = ['', 'plain 42', 'quote " and \\ back', 'tab\tnul\u0000del\u007f', 'é ü 日本 😀', long, `${long}é`, `${'é'.repeat(4097)}`, null];
    const described = backend.rowDescription(values.map((_, i) => ({
      name: `c${i}`, tableID: 0, columnID: 0, dataTypeID: 25, dataTypeSize: -1, dataTypeModifier: -1, format: 'text' as const })));
    results.statementSent('query', 1);
    feed(described, backend.dataRow(values), backend.commandComplete('SELECT 1'), backend.readyForQuery('I'));
    const expected = values.map((v) => (v === null || v.length <= 4096 ? v : { cut: v.slice(0, 4096), length: v.length }));
    expect(events[0]![1]).toContain(`"rows":${JSON.stringify([expected])},"rowsRecorded":1`);
    // A binary-format column is noted, not decoded.
    results.statementSent('execute', 2);
    feed(backend.rowDescription([{ name: 'b', tableID: 0, columnID: 0, dataTypeID: 17, dataTypeSize: -1, dataTypeModifier: -1, format: 'binary' }]),
      backend.dataRow(['\u0001']), backend.commandComplete('SELECT 1'));
    expect(events[1]![1]).toContain('"rows":[[{"binary":true}]],"rowsRecorded":1');
  });

  it('reads the row count of a command tag as the regular expression /^(?:INSERT \\d+|[A-Z ]+?) ?(\\d+)?$/ does', () => {
    const { events, results, feed } = recorder();
    const tags = ['SELECT 5', 'INSERT 0 7', 'INSERT 5', 'UPDATE 12', 'BEGIN', 'CREATE TABLE', 'SELECT  3', 'select 4', 'MERGE 2', 'X1 9'];
    for (const tag of tags) {
      results.statementSent('execute', 1);
      feed(backend.dataRow(['a']), backend.commandComplete(tag));
    }
    const re = /^(?:INSERT \d+|[A-Z ]+?) ?(\d+)?$/;
    expect(events.map(([, json]) => (JSON.parse(json) as { rowCount: number }).rowCount))
      .toEqual(tags.map((tag) => { const m = re.exec(tag); return m?.[1] !== undefined ? Number(m[1]) : 1; }));
  });
});
