import { describe, expect, it } from 'vitest';
import { TypedAhead } from './typed-ahead.js';

/** Feeds rows and output chunks in recording order; returns each row's output. */
function pair(steps: ({ line: string } | { command: string } | { out: string })[]): Record<string, string> {
  const t = new TypedAhead<string>();
  const got: Record<string, string> = {};
  let current = '';
  for (const s of steps) {
    if ('line' in s) t.opened((current = s.line), s.line);
    else if ('command' in s) t.opened((current = s.command), undefined);
    else if (t.routing) for (const p of t.route(s.out)) got[p.row] = (got[p.row] ?? '') + p.text;
    else got[current] = (got[current] ?? '') + s.out;
  }
  return got;
}

describe('output of lines typed ahead', () => {
  it('splits at the echo of each waiting line, the prompt staying with the line before', () => {
    expect(pair([{ line: 'ls' }, { line: 'whoami' }, { line: 'exit' }, { out: 'ls\na b\n$ whoami\nroot\n$ exit\nlogout\n' }])).toEqual({
      ls: 'ls\na b\n$ ', whoami: 'whoami\nroot\n$ ', exit: 'exit\nlogout\n',
    });
  });

  it('finds an echo split across two chunks', () => {
    expect(pair([{ line: 'ls' }, { line: 'whoami' }, { out: 'a b\n$ who' }, { out: 'ami\nroot\n' }])).toEqual({
      ls: 'a b\n$ who', whoami: 'ami\nroot\n',
    });
  });

  it('does not take a command output line that merely equals the next line for its echo', () => {
    // `echo whoami` prints "whoami" at the start of a line: not an echo after a prompt.
    expect(pair([{ line: 'echo whoami' }, { line: 'whoami' }, { out: 'echo whoami\nwhoami\n$ whoami\nroot\n' }])).toEqual({
      'echo whoami': 'echo whoami\nwhoami\n$ ', whoami: 'whoami\nroot\n',
    });
  });

  it('finds the echo of a long line by its start (readline redraws a character where it wraps)', () => {
    const long = 'PGPASSWORD=x psql -X -A -t -P pager=off -h 127.0.0.1 -p 5432 -U someone -d prod -c "SELECT 1"';
    const wrapped = `${long.slice(0, 60)}${long[59]}${long.slice(60)}`;
    expect(pair([{ line: 'ls' }, { line: long }, { out: `a\nroot@vm:~# ${wrapped}\n1\n` }])).toEqual({ ls: 'a\nroot@vm:~# ', [long]: `${wrapped}\n1\n` });
  });

  it('leaves lines typed one at a time with the last line, as before', () => {
    // Typed normally, the next line comes after the first one's output: nothing waits, nothing is split.
    expect(pair([{ line: 'ls' }, { out: '\na b\n$ who' }, { out: 'ami' }, { line: 'whoami' }, { out: '\nroot\n$ ' }])).toEqual({
      ls: '\na b\n$ whoami', whoami: '\nroot\n$ ',
    });
  });

  it('stops waiting at a row that is not a typed line, and keeps output whose echo never comes with the first line', () => {
    expect(pair([{ line: 'a' }, { line: 'b' }, { out: 'no echo here\n' }, { command: 'exec x' }, { out: 'x out' }])).toEqual({
      a: 'no echo here\n', 'exec x': 'x out',
    });
  });
});
