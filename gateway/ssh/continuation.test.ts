import { describe, expect, it } from 'vitest';
import { continuation } from './continuation.js';
import { bashRan } from './bash-pty.test-helper.js';

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
  }, 60_000);

  it('names the reason', () => {
    expect(continuation('echo a\\')).toBe('backslash');
    expect(continuation('echo "a')).toBe('quote');
    expect(continuation('echo $(a')).toBe('substitution');
    expect(continuation('cat <<EOF\nx')).toBe('heredoc');
    expect(continuation('cat <<EOF\nx\nEOF')).toBeUndefined();
  });
});
