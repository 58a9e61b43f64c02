import { describe, expect, it } from 'vitest';
import { Masker } from '../policy/masking.js';
import { compileMasking } from '../policy/rules.js';
import { clientEncodingFor, UTF8_ENCODING, type ClientEncoding } from './encoding.js';
import { readDataRow } from './frames.js';
import { RowMasker, UNDECODABLE_RULE } from './masking.js';
import { serializeBackend as backend, type FieldDescription } from './protocol/index.js';

const rules = compileMasking([
  { name: 'email', builtin: 'email' }, { name: 'ssn', builtin: 'us-ssn' }, { name: 'card', builtin: 'credit-card' },
  { name: 'secret-col', column: 'secret' },
], 'test.yml');
const CARD = '4111111111111111';

function masker(protectedColumn: (oid: number, attnum: number) => string | undefined = () => undefined, encoding: ClientEncoding = UTF8_ENCODING) {
  return new RowMasker({ masker: new Masker(rules).forSession('a', 'db'), protectedColumn, masksText: true, encoding });
}
const field = (name: string, dataTypeID: number, format: 'text' | 'binary' = 'text', tableID = 0, columnID = 0): FieldDescription =>
  ({ name, tableID, columnID, dataTypeID, dataTypeSize: -1, dataTypeModifier: -1, format });

function maskRow(m: RowMasker, fields: FieldDescription[], values: (Buffer | string | null)[]): (string | null)[] {
  m.use(m.columnsOf(backend.rowDescription(fields)));
  return readDataRow(m.mask(backend.dataRow(values))).map((v) => (v === null ? null : v.toString('latin1')));
}

describe('RowMasker', () => {
  it('masks a table column the policy protects, whatever the result column is called (RowDescription origin)', () => {
    const m = masker((oid, attnum) => (oid === 16384 && attnum === 2 ? 'email-by-table' : undefined));
    expect(maskRow(m, [field('x', 25, 'text', 16384, 2), field('y', 25, 'text', 16384, 3)], ['anything', 'plain'])).toEqual(['[masked]', 'plain']);
    expect(m.take()).toEqual([{ column: 'x', rule: 'email-by-table', count: 1 }]);
  });

  it('reads binary values by type: numbers and dates by their text (masked to NULL), text-like in place, unknown types fail closed', () => {
    const int8 = Buffer.alloc(8);
    int8.writeBigInt64BE(BigInt(CARD));
    // numeric 4111111111111111: base-10000 digits 4111 1111 1111 1111, weight 3
    const numeric = Buffer.from([0, 4, 0, 3, 0, 0, 0, 0, 0x10, 0x0f, 0x04, 0x57, 0x04, 0x57, 0x04, 0x57]);
    const out = maskRow(masker(), [field('a', 20, 'binary'), field('b', 1700, 'binary'), field('c', 25, 'binary'), field('d', 99999, 'binary'), field('e', 16, 'binary')],
      [int8, numeric, Buffer.from('mail p1@example.com'), Buffer.from('opaque'), Buffer.from([1])]);
    expect(out).toEqual([null, null, 'mail [masked:email]', null, '\x01']);
  });

  it('masks a text-format bytea whole when its bytes hold a match, keeping it valid bytea text', () => {
    const hex = `\\x${Buffer.from('p1@example.com').toString('hex')}`;
    const [v] = maskRow(masker(), [field('b', 17)], [hex]);
    expect(v).toBe(`\\x${Buffer.from('[masked:email]').toString('hex')}`);
  });

  it('masks every column a value split across columns touches, and only those', () => {
    const out = maskRow(masker(), [field('n', 23), field('a', 25), field('b', 25), field('c', 25)], ['7', 'id 123-4', '5-6789', 'tail']);
    expect(out).toEqual(['7', '[masked:ssn]', '[masked:ssn]', 'tail']);
    const mail = maskRow(masker(), [field('a', 25), field('b', 25), field('c', 25)], ['p1@exa', null, 'mple.com']);
    expect(mail).toEqual(['[masked:email]', null, '[masked:email]']);
    expect(maskRow(masker(), [field('a', 25), field('b', 25)], ['hello', 'world'])).toEqual(['hello', 'world']);
  });

  it('finds values glued to letters and digits', () => {
    const out = maskRow(masker(), [field('a', 25), field('b', 25), field('c', 25)], ['x123-45-6789y', `a${CARD}b`, `12${CARD}3`]);
    expect(out).toEqual(['x[masked:ssn]y', 'a[masked:card]b', '[masked:card]']);
  });

  it('reads and writes text in the session encoding', () => {
    const latin1 = clientEncodingFor('LATIN1') as ClientEncoding;
    const value = Buffer.concat([Buffer.from([0xe9]), Buffer.from(' p1@example.com')]);
    const [v] = maskRow(masker(undefined, latin1), [field('a', 25)], [value]);
    expect(v).toBe('\xe9 [masked:email]');
  });

  it('names the rule of an undecodable value', () => {
    const m = masker();
    maskRow(m, [field('d', 99999, 'binary')], [Buffer.from('x')]);
    expect(m.take()).toEqual([{ column: 'd', rule: UNDECODABLE_RULE, count: 1 }]);
  });
});

describe('clientEncodingFor', () => {
  it('decodes strictly: invalid bytes and bytes that do not come back the same are refused', () => {
    expect(UTF8_ENCODING.decode(Buffer.from([0xc3, 0xa9]))).toBe('é');
    expect(UTF8_ENCODING.decode(Buffer.from([0xff]))).toBeUndefined();
    expect(UTF8_ENCODING.decode(Buffer.from([0xed, 0xa0, 0x80]))).toBeUndefined(); // a surrogate
    const sjis = clientEncodingFor('SJIS') as ClientEncoding;
    expect(sjis.decode(Buffer.from([0x95, 0x5c]))).toBe('表');
    expect(sjis.decode(Buffer.from([0x95]))).toBeUndefined(); // a lead byte alone
    const eucjp = clientEncodingFor('EUC_JP') as ClientEncoding;
    expect(eucjp.encode('日本')).toEqual(Buffer.from([0xc6, 0xfc, 0xcb, 0xdc]));
    expect((clientEncodingFor('LATIN1') as ClientEncoding).encode('日本')).toBeUndefined();
  });

  it('refuses SQL_ASCII (unless the server validates it as UTF8) and encodings it cannot read exactly', () => {
    expect(clientEncodingFor('SQL_ASCII', 'SQL_ASCII')).toHaveProperty('error');
    expect(clientEncodingFor('SQL_ASCII', 'UTF8')).toMatchObject({ name: 'SQL_ASCII' });
    expect(clientEncodingFor('MULE_INTERNAL')).toHaveProperty('error');
    expect(clientEncodingFor('EUC_TW')).toHaveProperty('error');
    expect(clientEncodingFor('UTF8')).toBe(UTF8_ENCODING);
  });
});

describe('RowMasker: values masked at the source by pattern rules (columns:)', () => {
  it('counts each occurrence of a source-pattern rule\'s replacement in a text value, by column', () => {
    const sourceRules = compileMasking([
      { name: 'ssn', pattern: '\\d{3}-\\d{2}-\\d{4}', columns: ['customers.*'] },
      { name: 'card', builtin: 'credit-card', columns: ['customers.notes'], replace: '<card>' },
    ], 'test.yml');
    const m = new RowMasker({ masker: new Masker(sourceRules).forSession('a', 'db'), protectedColumn: () => undefined, masksText: true, encoding: UTF8_ENCODING });
    const out = maskRow(m, [field('notes', 25), field('n', 25, 'binary'), field('id', 23)],
      ['a [masked:ssn] b [masked:ssn] <card>', 'x [masked:ssn] and 123-45-6789', '5']);
    expect(out).toEqual(['a [masked:ssn] b [masked:ssn] <card>', 'x [masked:ssn] and [masked:ssn]', '5']);
    expect(m.take()).toEqual([
      { column: 'notes', rule: 'ssn', count: 2 }, { column: 'notes', rule: 'card', count: 1 }, { column: 'n', rule: 'ssn', count: 2 },
    ]);
  });

  it('counts nothing of the kind when no such rule is in scope (the text is not searched)', () => {
    const m = masker();
    expect(maskRow(m, [field('a', 25)], ['[masked:ssn]'])).toEqual(['[masked:ssn]']);
    expect(m.take()).toEqual([]);
  });
});
