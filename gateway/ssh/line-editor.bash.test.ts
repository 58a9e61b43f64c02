import { describe, expect, it } from 'vitest';
import { bashRan, editorRan, generate } from './bash-pty.test-helper.js';
import { LineEditor } from './line-editor.js';

/**
 * The editor against a real bash (see bash-pty.test-helper.ts), for generated
 * key sequences: where the editor says it is sure, bash must have run exactly
 * its line; where they could differ, the editor must say uncertain.
 */
const KEYS = [
  'a', 'b', 'c', 'x', 'y', 'z', ' ', ' ', ' ', '-', '.', '_', '/', '1',
  '\x7f', '\b', '\x01', '\x05', '\x02', '\x06', '\x1bb', '\x1bf', '\x1b[1;5C', '\x1b[1;5D', '\x1b\x1b[C', '\x1b\x1b[D',
  '\x1b[H', '\x1b[F', '\x1bOH', '\x1bOF', '\x1b[1~', '\x1b[4~', '\x1b[D', '\x1b[C', '\x1bOD', '\x1bOC', '\x1b[3~',
  '\x0b', '\x15', '\x17', '\x1bd', '\x1b\x7f', '\x1b\b', '\x19', '\x19', '\x1by', '\x14', '\x14', '\x1bt', '\x1bu', '\x1bl', '\x1bc',
  '\x1f', '\x1f', '\x18\x15', '\x1bc', '\x16\x0b', '\x16a', '\x0c', '\x1bB', '\x1b[200~ab cd\x1b[201~', '\x18\x7f', '\x1b[3;5~',
];

function compare(cases: string[]) {
  const ran = bashRan(cases);
  const editor = new LineEditor();
  const mismatches: { keys: string; editor: string; bash: string }[] = [];
  let sure = 0;
  cases.forEach((keys, i) => {
    const [typed] = editorRan(editor, keys);
    editorRan(editor, `\x15sentinel${i}\r`);
    if (!typed || typed.uncertain) return;
    sure++;
    const expected = typed.line.split('\n').filter((l) => !/^[ \t]*$/.test(l)); // bash's blanks only
    if (JSON.stringify(ran[i]) !== JSON.stringify(expected)) mismatches.push({ keys: JSON.stringify(keys), editor: JSON.stringify(typed.line), bash: JSON.stringify(ran[i]) });
  });
  return { mismatches, sure };
}

describe('LineEditor against bash 5 (readline, emacs mode)', () => {
  it('reconstructs generated key sequences exactly, or says uncertain', () => {
    const cases = generate(KEYS, 400, 12);
    const { mismatches, sure } = compare(cases);
    expect(mismatches).toEqual([]);
    expect(sure).toBeGreaterThan(cases.length * 0.6); // most of them it is sure about
  }, 180_000);

  it('reconstructs the named editing keys as bash does', () => {
    const cases = [
      'echo hello\r', 'abc\x14\r', 'ab cd ef\x1bt\r', 'foo bar\x17\x19\x19\r', 'abc def\x01\x1bf\x1b\bx\r',
      'x\x1bb\x1bc\r', 'a_b-c.d/e f\x1b\x7f\r', 'touhc\x14\x14 x\r', 'ch tou\x1bt\r', 'x tou\x17ch\x01\x19\r',
      'one two\x17\x17\x19\r', 'one\x15two\x15\x19\x1by\r', 'abc\x01\x14\r', 'hello world\x1bb\x1bu\r',
      'hello world\x1b\b\x1bc\r', 'to\x16\tuch\r', '\x1b[200~echo a\recho b\x1b[201~\r', 'ab\x18\x15c\r',
      'abc\x02\x02\x1b[3~\r', 'one two three\x1bb\x1bb\x1bd\x05 \x19\r',
    ];
    const { mismatches, sure } = compare(cases);
    expect(mismatches).toEqual([]);
    expect(sure).toBeGreaterThanOrEqual(cases.length - 1);
  }, 60_000);
});
