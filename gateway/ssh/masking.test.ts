import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { compileMasking, Masker } from '../policy/index.js';
import { OutputMasker } from './masking.js';

const masker = new Masker(compileMasking([{ name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b' }, { name: 'email', builtin: 'email' }], 't'));

function collect(interactive: boolean) {
  const out: string[] = [];
  const m = new OutputMasker((t) => masker.maskText(t), (chunk) => out.push(chunk.toString()), interactive);
  return { m, out, text: () => out.join('') };
}

describe('OutputMasker', () => {
  it('masks a value split across chunks and a pause, on a non-interactive stream', async () => {
    const { m, text } = collect(false);
    m.push(Buffer.from('ssn 123-4'));
    await sleep(60); // well past the wait: the partial value must still be held
    expect(text()).toBe('');
    m.push(Buffer.from('5-6789 mail bob@exa'));
    await sleep(60);
    m.push(Buffer.from('mple.org done\n'));
    m.flush();
    expect(text()).toBe('ssn [masked:ssn] mail [masked:email] done\n');
  });

  it('releases what cannot be part of a value after the wait, and the rest at the end', async () => {
    const { m, out } = collect(false);
    m.push(Buffer.from('progress ## 50%|'));
    await sleep(60);
    expect(out.join('')).toBe('progress ## 50%|');
    m.push(Buffer.from('tail 123-45'));
    m.flush();
    expect(out.join('')).toBe('progress ## 50%|tail 123-45');
  });

  it('shows a prompt at once on an interactive stream', async () => {
    const { m, text } = collect(true);
    m.push(Buffer.from('user@host:~$ '));
    await sleep(60);
    expect(text()).toBe('user@host:~$ ');
  });
});

describe('OutputMasker on a pty', () => {
  it('holds a partial number value briefly, and still echoes typed letters at once', async () => {
    const { m, text } = collect(true);
    m.push(Buffer.from('ssn 123-4'));
    await sleep(60);
    expect(text()).toBe('ssn '); // the digits wait a little longer for their end
    m.push(Buffer.from('5-6789\r\n'));
    expect(text()).toBe('ssn [masked:ssn]\r\n');
    m.push(Buffer.from('l'));
    await sleep(60);
    expect(text()).toBe('ssn [masked:ssn]\r\nl');
  });

  it('passes the echo of typed keys at once, and holds output that is not their echo', async () => {
    const { m, text } = collect(true);
    m.typed(Buffer.from('ab'));
    m.push(Buffer.from('a'));
    expect(text()).toBe('a'); // no wait
    m.push(Buffer.from('b'));
    expect(text()).toBe('ab');
    m.typed(Buffer.from('c'));
    m.push(Buffer.from('x 123-4')); // not the echo: held as before
    expect(text()).toBe('ab');
    m.push(Buffer.from('5-6789\r\n'));
    expect(text()).toBe('abx [masked:ssn]\r\n');
  });

  it('does not let an echo jump ahead of held output', async () => {
    const { m, text } = collect(true);
    m.push(Buffer.from('ssn 123-4'));
    m.typed(Buffer.from('5'));
    m.push(Buffer.from('5'));
    expect(text()).toBe(''); // held with the tail it follows
    m.push(Buffer.from('-6789\n'));
    expect(text()).toBe('ssn [masked:ssn]\n');
  });
});
