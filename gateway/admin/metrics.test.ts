import { describe, expect, it } from 'vitest';
import { Counter, Histogram } from './metrics.js';

describe('metrics', () => {
  it('renders a histogram with cumulative buckets', () => {
    const h = new Histogram('h', 'help', [1, 2, 5]);
    for (const v of [0.5, 1, 1.5, 2, 4, 9]) h.observe(v);
    expect(h.render().split('\n').slice(2)).toEqual([
      'h_bucket{le="1"} 2', 'h_bucket{le="2"} 4', 'h_bucket{le="5"} 5', 'h_bucket{le="+Inf"} 6', 'h_sum 18', 'h_count 6',
    ]);
  });

  it('counts by labels, through a series handle too', () => {
    const c = new Counter('c', 'help');
    const s = c.series({ d: 'x' });
    s.inc(2);
    c.inc({ d: 'x' });
    c.inc();
    expect(c.get({ d: 'x' })).toBe(3);
    expect(c.get()).toBe(1);
    expect(c.render()).toContain('c{d="x"} 3');
  });
});
