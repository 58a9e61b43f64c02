// Values split across fields: result rows (RowMasker) and text COPY rows (MessageMasker) read them through the same
// splitValues; what neither joins nor separates, and a description read under rules since reloaded.
import { describe, expect, it } from 'vitest';
import { Masker } from '../policy/masking.js';
import { compileMasking } from '../policy/rules.js';
import type { SessionMasker } from '../policy/index.js';
import { UTF8_ENCODING } from './encoding.js';
import { readDataRow } from './frames.js';
import { MaskCounter } from './mask-counter.js';
import { RowMasker, splitValues } from './masking.js';
import { MessageMasker } from './message-masking.js';
import { serializeBackend as backend, type FieldDescription } from './protocol/index.js';

const rules = compileMasking([{ name: 'ssn', builtin: 'us-ssn' }, { name: 'secret-col', column: 'secret' }], 'test.yml');
const session = (): SessionMasker => new Masker(rules).forSession('a', 'db');
const field = (name: string, dataTypeID: number, format: 'text' | 'binary' = 'text'): FieldDescription =>
  ({ name, tableID: 0, columnID: 0, dataTypeID, dataTypeSize: -1, dataTypeModifier: -1, format });

function maskRow(m: RowMasker, fields: FieldDescription[], values: (Buffer | string | null)[]): (string | null)[] {
  m.use(m.columnsOf(backend.rowDescription(fields)));
  return readDataRow(m.mask(backend.dataRow(values))).map((v) => (v === null ? null : v.toString('latin1')));
}

describe('splitValues', () => {
  const over = (t: string) => session().maskText(t).counts;
  it('skips undefined fields: they neither join nor separate', () => {
    expect(splitValues(['123-45', undefined, undefined, '-6789'], over)).toEqual([{ fields: [0, 3], rule: 'ssn' }]);
    expect(splitValues(['123-45', 'x', '-6789'], over)).toEqual([]); // a text between joins, so separates
    expect(splitValues(['123', '-45-', '6789', 'a', '123-4', '5-6789'], over)).toEqual([{ fields: [0, 1, 2], rule: 'ssn' }, { fields: [4, 5], rule: 'ssn' }]);
  });
});

describe('RowMasker: a value split across columns', () => {
  const halves = ['123-45', '-6789'];
  it.each([
    ['an int', field('n', 23), '0'],
    ['a NULL int', field('n', 23), null],
    ['a bool', field('b', 16), 't'],
    ['a date', field('d', 1082), '2024-01-01'],
    ['a binary int', field('n', 23, 'binary'), Buffer.from([0, 0, 0, 7])],
    ['a column masked whole by its rule', field('secret', 25), 'anything'],
  ])('with %s between the halves is masked', (_, between, value) => {
    const m = new RowMasker({ masker: session(), protectedColumn: () => undefined, masksText: true, encoding: UTF8_ENCODING });
    const out = maskRow(m, [field('a', 25), between, field('c', 25)], [halves[0]!, value, halves[1]!]);
    expect([out[0], out[2]]).toEqual(['[masked:ssn]', '[masked:ssn]']);
  });

  it('a text column between separates (the documented limit)', () => {
    const m = new RowMasker({ masker: session(), protectedColumn: () => undefined, masksText: true, encoding: UTF8_ENCODING });
    expect(maskRow(m, [field('a', 25), field('x', 25), field('c', 25)], ['123-45', 'x', '-6789'])).toEqual(['123-45', 'x', '-6789']);
  });
});

describe('RowMasker across a reload', () => {
  /** A session masker whose rules can be put in force later, as LivePolicies' is after a SIGHUP. */
  function reloadable(): { masker: SessionMasker; reload: () => void } {
    let inner = new Masker(compileMasking([{ name: 'ssn', builtin: 'us-ssn' }], 'before.yml')).forSession('a', 'db');
    return {
      masker: {
        active: true,
        get columns() { return inner.columns; },
        get columnReplacements() { return inner.columnReplacements; },
        columnRules: (c) => inner.columnRules(c),
        replacementFor: (r) => inner.replacementFor(r),
        maskText: (t) => inner.maskText(t),
        get sourcePatternReplacements() { return inner.sourcePatternReplacements; },
      },
      reload: () => { inner = session(); },
    };
  }
  const fields = [field('id', 23), field('secret', 25)];

  it('the same RowDescription after the reload gets the column rules in force', () => {
    const { masker, reload } = reloadable();
    const m = new RowMasker({ masker, protectedColumn: () => undefined, masksText: true, encoding: UTF8_ENCODING });
    expect(maskRow(m, fields, ['1', 'plain'])).toEqual(['1', 'plain']);
    reload();
    expect(maskRow(m, fields, ['1', 'plain'])).toEqual(['1', '[masked:secret-col]']);
  });

  it("a portal's description kept from before the reload is read again when its rows come after it", () => {
    const { masker, reload } = reloadable();
    const m = new RowMasker({ masker, protectedColumn: () => undefined, masksText: true, encoding: UTF8_ENCODING });
    const portal = m.columnsOf(backend.rowDescription(fields));
    reload();
    m.use(portal);
    expect(readDataRow(m.mask(backend.dataRow(['1', 'plain']))).map(String)).toEqual(['1', '[masked:secret-col]']);
  });
});

describe('MessageMasker: text COPY rows', () => {
  /** `columns`: as CopyOutResponse announces them (0: a frame without the count, as before it was read). */
  function copy(body: string, columns = 0): { out: string; counts: ReturnType<MaskCounter['take']> } {
    const counter = new MaskCounter();
    const mm = new MessageMasker(session(), UTF8_ENCODING, counter);
    const started = Buffer.alloc(8 + 2 * columns);
    started[0] = 0x48;
    started.writeUInt32BE(started.length - 1, 1);
    started.writeInt16BE(columns, 6);
    mm.copyStarted(started);
    const payload = Buffer.from(body, 'utf8');
    const frame = Buffer.concat([Buffer.from([0x64, 0, 0, 0, 0]), payload]);
    frame.writeUInt32BE(4 + payload.length, 1);
    const masked = mm.maskCopyData(frame);
    return { out: masked === frame ? '(same frame)' : masked.toString('utf8', 5), counts: counter.take() };
  }

  it('a value split over adjacent fields, or with a NULL, number, date or bool between, is masked', () => {
    expect(copy('123-45\t-6789\n')).toEqual({ out: '[masked:ssn]\t[masked:ssn]\n', counts: [{ rule: 'ssn', count: 2 }] });
    expect(copy('123-45\t\\N\t-6789\n').out).toBe('[masked:ssn]\t\\N\t[masked:ssn]\n');
    expect(copy('123-45\t0\t-6789\n').out).toBe('[masked:ssn]\t0\t[masked:ssn]\n');
    expect(copy('123-45\t2024-01-01\tt\t-6789\n').out).toBe('[masked:ssn]\t2024-01-01\tt\t[masked:ssn]\n');
    expect(copy('7\t123\t-45-\t6789\tend\n').out).toBe('7\t[masked:ssn]\t[masked:ssn]\t[masked:ssn]\tend\n');
  });

  it('reads fields unescaped: an escaped tab is inside a field, and an escape can hide no half', () => {
    expect(copy('a\\tb\tc\n').out).toBe('(same frame)');
    expect(copy('123-\\x34\\065\t-6789\n').out).toBe('[masked:ssn]\t[masked:ssn]\n'); // \x34\065 is "45"
  });

  it('a row with nothing split, and a value whole in one field, as before', () => {
    expect(copy('123-45\tx\t-6789\n').out).toBe('(same frame)');
    expect(copy('1\tssn 123-45-6789\n')).toEqual({ out: '1\tssn [masked:ssn]\n', counts: [{ rule: 'ssn', count: 1 }] });
  });

  it('a row in CSV or with another delimiter is read by the delimiter that gives the announced columns', () => {
    expect(copy('123-45,-6789\n', 2)).toEqual({ out: '[masked:ssn],[masked:ssn]\n', counts: [{ rule: 'ssn', count: 2 }] });
    expect(copy('"123-45","-6789"\n', 2).out).toBe('[masked:ssn],[masked:ssn]\n');
    expect(copy('123-45||-6789\n', 3).out).toBe('[masked:ssn]||[masked:ssn]\n'); // an empty (NULL) field between stays
    expect(copy('123-45;0;-6789\n', 3).out).toBe('[masked:ssn];0;[masked:ssn]\n');
    expect(copy('1,"a,b",x\n', 3).out).toBe('(same frame)');
    expect(copy('123-45\t-6789\n', 2).out).toBe('[masked:ssn]\t[masked:ssn]\n'); // tabs give the columns: text format
  });
});
