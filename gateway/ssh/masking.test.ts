import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { compileMasking, Masker } from '../policy/index.js';
import { OutputMasker, PARTIAL_MASK, PARTIAL_RULE } from './masking.js';

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

describe('OutputMasker: values split anywhere, and by pauses', () => {
  const cards = new Masker(compileMasking([
    { name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b' }, { name: 'email', builtin: 'email' }, { name: 'card', builtin: 'credit-card' },
  ], 't'));
  const text = 'id 123-45-6789 mail alice.smith@example.org card 4111 1111 1111 1111 end\n';
  const raw = ['123-45-6789', 'alice.smith@example.org', '4111 1111 1111 1111'];

  it('masks every value whatever byte the stream is split at, pty or not', () => {
    const whole = cards.maskText(text).text;
    for (const interactive of [false, true]) {
      for (let at = 0; at <= text.length; at++) {
        const out: Buffer[] = [];
        const m = new OutputMasker((t) => cards.maskText(t), (c) => out.push(c), interactive);
        m.push(Buffer.from(text.slice(0, at)));
        m.push(Buffer.from(text.slice(at)));
        m.flush();
        expect(Buffer.concat(out).toString(), `split at ${at}`).toBe(whole);
      }
    }
  });

  it('on a pty, releases a held partial value masked, never raw, when its wait ends', () => {
    vi.useFakeTimers();
    try {
      for (const [first, second] of [['123-45-', '6789\n'], ['ssn 123-4', '5-6789\n'], ['4111 1111 ', '1111 1111\n'], ['mail alice.smith@exa', 'mple.org\n']]) {
        const out: string[] = [];
        const counts: Record<string, number>[] = [];
        const m = new OutputMasker((t) => cards.maskText(t), (c, n) => {
          out.push(c.toString());
          if (n) counts.push(n);
        }, true);
        m.push(Buffer.from(first!));
        vi.advanceTimersByTime(2000); // the pause: both waits pass
        m.push(Buffer.from(second!));
        m.flush();
        const seen = out.join('');
        for (const value of raw) expect(seen).not.toContain(value);
        expect(seen).toContain(PARTIAL_MASK);
        expect(counts).toContainEqual({ [PARTIAL_RULE]: 1 });
      }
    } finally {
      vi.useRealTimers();
    }
  });

  it('on a pty, still shows a prompt and text that cannot begin a value after the first wait', () => {
    vi.useFakeTimers();
    try {
      const out: string[] = [];
      const m = new OutputMasker((t) => cards.maskText(t), (c) => out.push(c.toString()), true);
      m.push(Buffer.from('user@host:~$ '));
      vi.advanceTimersByTime(20);
      expect(out.join('')).toBe('user@host:~$ ');
    } finally {
      vi.useRealTimers();
    }
  });
});
