import { describe, expect, it } from 'vitest';
import { maskNotes, maskedFields } from './policy.js';

describe('maskedFields', () => {
  const columns = [{ name: 'id' }, { name: 'email' }, { name: 'note' }];

  it('attributes rule totals to the columns whose recorded values carry the marks', () => {
    const rows = [['1', '[masked:email]', 'call [masked:phone] or [masked:email]'], ['2', '[masked:email]', '[masked]'], 'not a row'];
    expect(maskedFields(columns, rows, maskNotes([{ rule: 'email', count: 5 }, { rule: 'phone', count: 1 }]))).toEqual([
      { field: 'email', rule: 'email', count: 2 },
      { field: 'note', rule: 'phone', count: 1 },
      { field: 'note', rule: 'email', count: 1 },
      { field: 'note', rule: null, count: 1 },
      // Two email values were masked in rows that were not recorded.
      { field: '*', rule: 'email', count: 2 },
    ]);
  });

  it('names a column without a name by its position, and ignores what is not a mark', () => {
    const rows = [[null, 42, '[masked:ssn]', '[masked:x', '[maskedy]']];
    expect(maskedFields([{}, {}], rows, maskNotes([{ rule: 'ssn', count: 1 }]))).toEqual([{ field: '#2', rule: 'ssn', count: 1 }]);
  });

  it('returns notes that already name their fields as they are', () => {
    const notes = maskNotes([{ column: 'email', rule: 'email', count: 3 }]);
    expect(maskedFields(columns, [['1', '[masked:email]', '']], notes)).toBe(notes);
  });
});
