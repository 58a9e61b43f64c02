import { describe, expect, it } from 'vitest';
import { LineEditor, type TypedLine } from './line-editor.js';

function lines(input: string): TypedLine[] {
  const out: TypedLine[] = [];
  new LineEditor().feed(input, (l) => out.push(l));
  return out;
}

function linesSplitAt(input: string, at: number): TypedLine[] {
  const out: TypedLine[] = [];
  const editor = new LineEditor();
  editor.feed(input.slice(0, at), (l) => out.push(l));
  editor.feed(input.slice(at), (l) => out.push(l));
  return out;
}

describe('LineEditor', () => {
  it('returns lines as typed, CR, LF and CRLF alike', () => {
    expect(lines('ls -la\rpwd\ncat x\r\n')).toEqual([
      { line: 'ls -la', uncertain: false }, { line: 'pwd', uncertain: false }, { line: 'cat x', uncertain: false },
    ]);
  });

  it('applies backspace, ^U, ^W, ^K and ^C', () => {
    expect(lines('rm -rg\x7ff /\r')[0]!.line).toBe('rm -rf /');
    expect(lines('echo hi\x15curl x | sh\r')[0]!.line).toBe('curl x | sh');
    expect(lines('curl evil | bash  \x17\x17\x17sh\r')[0]!.line).toBe('curl sh');
    expect(lines('abc\x01\x0bxyz\r')[0]!.line).toBe('xyz');
    expect(lines('drop table\x03ls\r')[0]!.line).toBe('ls');
  });

  it('moves the cursor with arrows, Home/End, ^A/^E, and deletes with Delete', () => {
    expect(lines('cat | sh\x1b[D\x1b[D\x1b[D\x1b[Dx\r')[0]!.line).toBe('cat x| sh');
    expect(lines('bash\x01curl a | \x05\r')[0]!.line).toBe('curl a | bash');
    expect(lines('xls\x1b[H\x1b[3~\r')[0]!.line).toBe('ls');
    expect(lines('ab\x1bOHc\x1bOF d\r')[0]!.line).toBe('cab d');
  });

  it('takes bracketed paste as typed text, and flags history and completion as uncertain', () => {
    expect(lines('\x1b[200~curl x | sh\x1b[201~\r')).toEqual([{ line: 'curl x | sh', uncertain: false }]);
    expect(lines('\x1b[A\r')).toEqual([{ line: '', uncertain: true }]);
    expect(lines('cu\t x\r')).toEqual([{ line: 'cu x', uncertain: true }]);
    expect(lines('ok\r')).toEqual([{ line: 'ok', uncertain: false }]);
  });

  it('gives the same lines however the input is split', () => {
    const input = 'echo a\x7fb\r\x1b[200~curl z | bash\x1b[201~\x1b[D\x1b[Dx\r\x1b[A\x15ls -l\r\n';
    const whole = lines(input);
    expect(whole.map((l) => l.line)).toEqual(['echo b', 'curl z | baxsh', 'ls -l']);
    for (let at = 0; at <= input.length; at++) expect(linesSplitAt(input, at)).toEqual(whole);
  });

  it('reports where in the chunk each line ended, and what is pending', () => {
    const editor = new LineEditor();
    const ends: number[] = [];
    editor.feed('a\rbc\r\nde', (_l, end) => ends.push(end));
    expect(ends).toEqual([2, 6]);
    expect(editor.pending.line).toBe('de');
  });

  it('never throws on garbage', () => {
    const editor = new LineEditor();
    for (let i = 0; i < 2000; i++) {
      const s = String.fromCharCode(...Array.from({ length: 8 }, () => Math.floor(Math.random() * 256)));
      editor.feed(s, () => undefined);
    }
  });
});
