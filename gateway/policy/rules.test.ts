import { beforeAll, describe, expect, it } from 'vitest';
import { loadSqlParser, SqlGuards } from './guardrails.js';
import { Masker } from './masking.js';
import { ibanValid, luhn } from './recognizers.js';
import { compileGuardrails, compileMasking, withoutWordBoundaries } from './rules.js';

const ctx = { session: 's', identity: 'agent', target: 'db', protocol: 'postgres' as const };

describe('rule compilation stops at the first bad rule, naming the file, the rule and the problem', () => {
  it.each([
    [{ name: 'bad-re', pattern: '(' }, /gw.yml: masking rule bad-re: invalid regular expression/],
    [{ name: 'nope', builtin: 'passport' }, /gw.yml: masking rule nope: unknown builtin passport \(known: email, credit-card/],
    [{ name: 'two', column: 'x', pattern: 'y' }, /masking rule two: give exactly one of column, pattern or builtin/],
    [{ name: 'typo', colum: 'x' }, /masking rule typo: .*colum/],
  ])('masking %j', (rule, message) => {
    expect(() => compileMasking([rule], 'gw.yml')).toThrow(message);
  });

  it.each([
    [{ name: 'x', sql: { statements: ['DropTableStmt'] }, action: 'block' }, /guardrail x: unknown statement type DropTableStmt/],
    [{ name: 'y', ssh: { pattern: '[' }, action: 'block' }, /guardrail y: invalid regular expression/],
    [{ name: 'z', sql: { statements: ['SelectStmt'], withoutWhere: true }, action: 'review' }, /withoutWhere applies to DeleteStmt, UpdateStmt and MergeStmt only/],
    [{ name: 'o', sql: { operations: ['drop-colum'] }, action: 'block' }, /guardrail o: unknown operation drop-colum \(known: drop, drop-column,/],
    [{ name: 'w', sql: { statements: ['DropStmt'] }, action: 'maybe' }, /guardrails rule w: action/],
    [{ name: 'v', action: 'block' }, /guardrail v: give an sql or an ssh matcher/],
  ])('guardrail %j', (rule, message) => {
    expect(() => compileGuardrails([rule], 'gw.yml')).toThrow(message);
  });
});

describe('recognizers', () => {
  it('checks card numbers with Luhn and IBANs with mod 97', () => {
    expect(luhn('4111111111111111')).toBe(true);
    expect(luhn('4111111111111112')).toBe(false);
    expect(ibanValid('GB82WEST12345698765432')).toBe(true);
    expect(ibanValid('GB82WEST12345698765433')).toBe(false);
  });

  it('masks each built-in and counts by rule, leaving near misses alone', () => {
    const masker = new Masker(compileMasking(
      ['email', 'credit-card', 'us-ssn', 'iban', 'aws-access-key', 'jwt', 'pem-private-key'].map((b) => ({ name: b, builtin: b })), 't'));
    const input = [
      'mail bob@example.org', 'card 4111 1111 1111 1111 not 4111 1111 1111 1112', 'ssn 078-05-1120 not 000-12-3456',
      'iban GB82 WEST 1234 5698 7654 32', 'key AKIAIOSFODNN7EXAMPLE', 'jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijklmnop',
      '-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----',
    ].join('\n');
    const { text, counts } = masker.maskText(input);
    expect(counts).toEqual({ email: 1, 'credit-card': 1, 'us-ssn': 1, iban: 1, 'aws-access-key': 1, jwt: 1, 'pem-private-key': 1 });
    expect(text).toContain('4111 1111 1111 1112'); // fails Luhn: not a card
    expect(text).toContain('000-12-3456'); // not a valid SSN area
    expect(text).not.toMatch(/bob@example|078-05-1120|AKIAIOSFODNN7EXAMPLE|MIIEv/);
  });

  it('reads column rules as [schema.]table.column globs; only bare ones mask by result column name', () => {
    const [bare, table, full] = compileMasking([
      { name: 'e', column: '*email*' }, { name: 's', column: 'cust?mers.ssn' }, { name: 'c', column: 'Sales.*.card' },
    ], 't');
    expect([bare!.source!.table, bare!.source!.schema]).toEqual([undefined, undefined]);
    expect(table!.source!.table!.test('CUSTOMERS')).toBe(true);
    expect(full!.source!.schema!.test('sales')).toBe(true);
    expect(new Masker([bare!, table!, full!]).forSession('a', 'db').columnRules(['Email', 'ssn', 'card'])).toEqual(['e', undefined, undefined]);
    expect(() => compileMasking([{ name: 'x', column: 'a.b.c.d' }], 'gw.yml')).toThrow(/masking rule x: column must be \[schema.\]table.column/);
  });

  it('scopes rules to identities and targets', () => {
    const masker = new Masker(compileMasking([{ name: 'e', column: 'email', identities: ['contractor'] }], 't'));
    expect(masker.forSession('contractor', 'db').columnRules(['id', 'EMAIL'])).toEqual([undefined, 'e']);
    expect(masker.forSession('alice', 'db').active).toBe(false);
  });
});

describe('SQL guardrails on the real parser', () => {
  beforeAll(() => loadSqlParser());
  const guards = new SqlGuards(compileGuardrails([
    { name: 'allow-audit-drop', sql: { statements: ['DropStmt'], tables: ['audit.*'] }, action: 'allow' },
    { name: 'no-drop', sql: { statements: ['DropStmt'] }, action: 'block' },
    { name: 'unbounded', sql: { statements: ['DeleteStmt', 'UpdateStmt'], withoutWhere: true }, action: 'review' },
    { name: 'secrets', sql: { tables: ['vault.*'] }, action: 'block' },
  ], 't'), { trustedFunctions: [] });

  it.each([
    ['SELECT 1', 'allow'],
    ['DROP TABLE t', 'block'],
    ['drop table audit.old', 'allow'], // the first matching rule decides
    ['DELETE FROM t', 'review'],
    ['DELETE FROM t WHERE id = 1', 'allow'],
    ['UPDATE t SET a = 1; DROP TABLE x', 'block'], // the most severe statement decides
    ['SELECT * FROM (SELECT * FROM vault.keys) k', 'block'],
    ['WITH x AS (SELECT * FROM vault.keys) SELECT 1', 'block'],
    ["SELECT 'DROP TABLE t'", 'allow'], // a string literal is not a statement
  ])('%s → %s', (sql, action) => {
    expect(guards.judgeText(ctx, sql).action).toBe(action);
  });

  it('refuses what does not parse, with the parser message', () => {
    expect(guards.judgeText(ctx, 'DELET FROM t')).toEqual({ action: 'block', rule: 'sql-parse', reason: 'the SQL does not parse: syntax error at or near "DELET"' });
  });

  it('lets COPY TO STDOUT through (masking by provenance rewrites it)', () => {
    expect(guards.judgeText(ctx, 'COPY t TO STDOUT').action).toBe('allow');
  });
});

describe('pattern rules hold when a value is glued to a letter or a digit', () => {
  it('drops \\b from user patterns (outside classes) and masks the glued value', () => {
    expect(withoutWordBoundaries('\\b\\d{3}-\\d{2}-\\d{4}\\b')).toBe('\\d{3}-\\d{2}-\\d{4}');
    expect(withoutWordBoundaries('[\\b]x\\\\b')).toBe('[\\b]x\\\\b');
    const masker = new Masker(compileMasking([{ name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b' }], 't'));
    for (const glued of ['x078-05-1120', '078-05-1120y', '9078-05-11209', 'ssn:078-05-1120.']) {
      const { text, counts } = masker.maskText(glued);
      expect(text).not.toContain('078-05-1120');
      expect(counts).toEqual({ ssn: 1 });
    }
    expect(masker.maskText('078-05 1120').counts).toEqual({});
  });
});
