import { describe, expect, it } from 'vitest';
import { LineEditor, type EditorEvent } from './line-editor.js';

function events(input: string | Buffer, editor = new LineEditor()): EditorEvent[] {
  const out: EditorEvent[] = [];
  editor.feed(input, (e) => out.push(e));
  return out;
}
const lines = (input: string) => events(input).flatMap((e) => (e.kind === 'line' ? [e.typed] : []));

describe('LineEditor', () => {
  it('returns lines as typed, CR and LF alike', () => {
    expect(lines('ls -la\rpwd\n').map((l) => l.line)).toEqual(['ls -la', 'pwd']);
    expect(lines('ls\r')[0]).toEqual({ line: 'ls', uncertain: false, reasons: [] });
  });

  it('applies kills, yanks, transposes and case changes as readline does', () => {
    expect(lines('touhc\x14 x\r')[0]!.line).toBe('touch x');
    expect(lines('ch tou\x1bt\r')[0]!.line).toBe('tou ch');
    expect(lines('x tou\x17ch\x01\x19\r')[0]!.line).toBe('toux ch');
    expect(lines('one two\x17\x17\x19\r')[0]!.line).toBe('one two'); // consecutive kills append
    expect(lines('hello world\x1bb\x1bu\r')[0]!.line).toBe('hello WORLD');
    expect(lines('a_b-c.d/e f\x1b\x7f\r')[0]!.line).toBe('a_b-c.d/e ');
    expect(lines('abcdefghijklmnopqrstuvwxyz0123\x1f\r')[0]!.line).toBe('abcdefghijklmnopqrst');
  });

  it('marks lines it cannot be sure about, with the reason', () => {
    const cases: [string, RegExp][] = [
      ['\x1b[A\r', /history/], ['\x10\r', /history/], ['\x12tou\r', /history/], ['cu\t x\r', /completion/],
      ['a\x1b[99X\r', /escape sequence/], ['a\x1bq\r', /M-q/], ['\x19\r', /nothing killed/],
      ['\x1b1\x1b\x7f\r', /M-1/], ['\x18(a\x18)\r', /C-x/], ['t\xc3\xa9st\x14\r', /non-ASCII/],
    ];
    for (const [keys, reason] of cases) {
      const [typed] = lines(keys);
      expect(typed, JSON.stringify(keys)).toMatchObject({ uncertain: true });
      expect(typed!.reasons.join('; ')).toMatch(reason);
    }
  });

  it('marks a yank of text killed on an earlier line uncertain', () => {
    const editor = new LineEditor();
    events('touch x\x01\x0b\r', editor);
    expect(events('\x19\r', editor)).toMatchObject([{ kind: 'line', typed: { line: 'touch x', uncertain: true } }]);
  });

  it('reports C-c, C-d on an empty line, and the lines C-o, C-x C-e and M-# accept', () => {
    expect(events('abc\x03').map((e) => e.kind)).toEqual(['abandon']);
    expect(events('\x04').map((e) => e.kind)).toEqual(['eof']);
    expect(events('ab\x02\x04\r')).toMatchObject([{ kind: 'line', typed: { line: 'a' } }]);
    for (const keys of ['ls\x0f', 'ls\x18\x05', 'ls\x1b#']) expect(events(keys)).toMatchObject([{ kind: 'line', typed: { uncertain: true } }]);
  });

  it('takes bracketed paste as text (CR as LF) and C-v as a literal next character', () => {
    expect(lines('\x1b[200~echo a\recho b\x1b[201~\r')[0]!.line).toBe('echo a\necho b');
    expect(lines('tou\x16\nch\r')[0]!.line).toBe('tou\nch');
  });

  it('gives the same events however the input is split, with the byte index of each', () => {
    const input = Buffer.from('echo a\x7fb\r\x1b[200~curl z | bash\x1b[201~\x1b[D\x1b[Dx\r\x1b[A\x15l\xc3\xa9s -l\r\n', 'latin1');
    const whole: [EditorEvent, number][] = [];
    new LineEditor().feed(input, (e, end) => whole.push([e, end]));
    expect(whole.map(([e]) => (e.kind === 'line' ? e.typed.line : e.kind))).toEqual(['echo b', 'curl z | baxsh', 'lés -l', '']);
    for (let at = 0; at <= input.length; at++) {
      const split: [EditorEvent, number][] = [];
      const editor = new LineEditor();
      editor.feed(input.subarray(0, at), (e, end) => split.push([e, end]));
      editor.feed(input.subarray(at), (e, end) => split.push([e, end + at]));
      expect(split).toEqual(whole);
    }
  });

  it('never throws on garbage', () => {
    const editor = new LineEditor();
    for (let i = 0; i < 2000; i++) editor.feed(Buffer.from(Array.from({ length: 8 }, () => Math.floor(Math.random() * 256))), () => undefined);
  });
});
