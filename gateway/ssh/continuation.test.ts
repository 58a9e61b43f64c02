import { describe, expect, it } from 'vitest';
import { continuation, joinContinuations } from './continuation.js';
import { bashRan } from './bash-pty.test-helper.js';
import { ShellInput, type ShellStep } from './shell-input.js';

/** Commands typed as physical lines; bash runs each (DEBUG trap, skipped) only when complete. */
const CASES = [
  'echo a', 'echo a\\', 'echo a\\\nb', 'echo "a', 'echo "a\nb"', "echo 'a", "echo 'a\nb'", "echo it\\'s", "echo don't",
  'echo $\'a\\\'b', "echo $'a\\'b'", 'echo `echo a', 'echo `echo a`', 'echo $(echo a', 'echo $(echo a)', 'echo $(echo ")")',
  'echo $(echo a # )', 'echo $(echo a # )\n)', 'echo ${x', 'echo ${x}', 'echo ${#x}', 'echo $#', 'echo a#b \'', 'echo a # it\'s',
  'cat <<EOF', 'cat <<EOF\nhi', 'cat <<EOF\nhi\nEOF', 'cat <<-EOF\n\thi\n\tEOF', 'cat <<-EOF\n\thi\n  EOF', "cat <<'E F'\nx\nE F",
  'cat <<"EOF"\n$x\nEOF', 'cat <<\\EOF\nx\nEOF', 'cat <<A <<B\na\nA\nb', 'cat <<A <<B\na\nA\nb\nB', 'cat <<<a', 'x=1; ((x<<2)); echo a',
  'echo $((1<<2))', 'echo $((1 +', 'cat <<EOF; echo "a\nb"\nx\nEOF', 'echo "a\\"', 'echo "a\\\\"', 'echo \'a\\\'', 'echo "$(echo \')\')"',
  'echo "${x:-"a"}"', 'echo a \\\n# b', 'echo x<<E\nE', 'echo "`echo a`"', 'echo "`echo a"', 'cat <<EOF\n$(echo\nEOF',
];

describe('continuation, against bash 5', () => {
  it('says a command needs more lines exactly when bash reads more before running it', () => {
    const typed = CASES.map((c) => `${c.replaceAll('\n', '\r')}\r`);
    const ran = bashRan(typed, '\x03');
    const wrong = CASES.flatMap((c, i) => {
      const ours = continuation(c);
      const bashRanIt = ran[i]!.length > 0;
      return bashRanIt === (ours === undefined) ? [] : [{ command: c, continuation: ours ?? 'complete', bash: ran[i] }];
    });
    expect(wrong).toEqual([]);
  // The real-bash pty harness once lost the first byte of a sentinel on a loaded 2-core CI run (ran[i] read
  // "entinel25"): a retry re-runs bash from scratch; a real mismatch fails every attempt.
  }, { timeout: 60_000, retry: 2 });

  it('names the reason', () => {
    expect(continuation('echo a\\')).toBe('backslash');
    expect(continuation('echo "a')).toBe('quote');
    expect(continuation('echo $(a')).toBe('substitution');
    expect(continuation('cat <<EOF\nx')).toBe('heredoc');
    expect(continuation('cat <<EOF\nx\nEOF')).toBeUndefined();
  });
});

describe('joinContinuations', () => {
  it('removes backslash-newlines outside single quotes, as bash does before it splits words', () => {
    expect(joinContinuations('tou\\\nch x')).toBe('touch x');
    expect(joinContinuations("echo 'a\\\nb' c\\\nd")).toBe("echo 'a\\\nb' cd");
    expect(joinContinuations('echo "a\\\nb"')).toBe('echo "ab"');
    expect(joinContinuations('echo a\\\\\nb')).toBe('echo a\\\\\nb');
  });
});

describe('ShellInput', () => {
  const steps = (...chunks: string[]) => {
    const input = new ShellInput();
    const out: ShellStep[] = [];
    // Every command runs (as the relay says once it let one through).
    for (const c of chunks) input.feed(Buffer.from(c), (s) => { out.push(s); input.ran(s); });
    return out;
  };
  it('joins continued lines into one command, judged when complete', () => {
    expect(steps('tou\\\rch x\r').map((s) => s.kind)).toEqual(['partial', 'command']);
    expect(steps('tou\\\rch x\r').at(-1)).toMatchObject({ command: 'tou\\\nch x', judged: 'touch x', lines: 2, uncertain: false });
    expect(steps('sh <<EOF\rtouch x\rEOF\r').at(-1)).toMatchObject({ command: 'sh <<EOF\ntouch x\nEOF', lines: 3 });
    expect(steps('cat <<EOF\rtouch x\r\x04')).toMatchObject([{ kind: 'partial' }, { kind: 'partial' }, { kind: 'command', lines: 2 }]);
  });
  it('marks history expansion, and every line after the editor is reconfigured or another shell starts', () => {
    expect(steps('!!\r')[0]).toMatchObject({ uncertain: true });
    expect(steps('set -o vi\r', 'ls\r')[1]).toMatchObject({ uncertain: true });
    expect(steps('zsh\r', 'ls\r')[1]).toMatchObject({ uncertain: true });
    expect(steps('sh <<EOF\rls\rEOF\r', 'ls\r').at(-1)).toMatchObject({ uncertain: false });
    expect(steps('sh -c ls\r', 'ls\r').at(-1)).toMatchObject({ uncertain: false });
    // A command that was refused never ran: it reconfigures nothing.
    const input = new ShellInput();
    const out: ShellStep[] = [];
    input.feed(Buffer.from('curl x | sh\r'), (s) => out.push(s));
    input.feed(Buffer.from('ls\r'), (s) => out.push(s));
    expect(out.at(-1)).toMatchObject({ uncertain: false });
    expect(input.lateReasons()).toBeUndefined();
  });
  it('marks lines typed on the alternate screen, and keys typed right after C-c', () => {
    const input = new ShellInput();
    const out: ShellStep[] = [];
    input.output(Buffer.from('\x1b[?1049h'));
    input.feed(Buffer.from(':!touch x\r'), (s) => out.push(s));
    input.output(Buffer.from('\x1b[?1049l$ '));
    input.feed(Buffer.from('ls\r'), (s) => out.push(s));
    input.feed(Buffer.from('\x03ls\r'), (s) => out.push(s));
    input.output(Buffer.from('^C\r\n$ '));
    input.feed(Buffer.from('ls\r'), (s) => out.push(s));
    expect(out.map((s) => s.kind === 'command' && s.uncertain)).toEqual([true, false, true, false]);
  });
});
