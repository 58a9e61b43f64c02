import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Counter, Gauge, GatewayMetrics, Histogram } from './metrics.js';

describe('metrics', () => {
  it('renders a histogram with cumulative buckets through a prom-client registry', async () => {
    const r = new Registry();
    const h = new Histogram(r, 'h_seconds', 'help', [1, 2, 5]);
    for (const v of [0.5, 1, 1.5, 2, 4, 9]) h.observe(v);
    expect((await r.metrics()).split('\n').slice(2, 8)).toEqual([
      'h_seconds_bucket{le="1"} 2', 'h_seconds_bucket{le="2"} 4', 'h_seconds_bucket{le="5"} 5', 'h_seconds_bucket{le="+Inf"} 6',
      'h_seconds_sum 18', 'h_seconds_count 6',
    ]);
  });

  it('labels histogram series, observed through a cached series too', async () => {
    const r = new Registry();
    const h = new Histogram(r, 'step_seconds', 'help', [0.001], ['protocol', 'step']);
    h.series({ protocol: 'postgres', step: 'sql' }).observe(0.0005);
    h.observe({ protocol: 'postgres', step: 'sql' }, 0.002);
    const text = await r.metrics();
    expect(text).toContain('step_seconds_bucket{protocol="postgres",step="sql",le="0.001"} 1');
    expect(text).toContain('step_seconds_count{protocol="postgres",step="sql"} 2');
  });

  it('counts by labels, through a series handle too, across scrapes', async () => {
    const r = new Registry();
    const c = new Counter(r, 'c_total', 'help', ['d']);
    const s = c.series({ d: 'x' });
    s.inc(2);
    c.inc({ d: 'x' });
    expect(c.get({ d: 'x' })).toBe(3);
    expect(await r.metrics()).toContain('c_total{d="x"} 3');
    s.inc(4);
    expect(await r.metrics()).toContain('c_total{d="x"} 7');
    expect(() => c.inc({ d: 'x' }, -1)).toThrow(/cannot decrease/);
    expect(() => c.inc({ other: 'y' })).toThrow(/unknown label other/);
  });

  it('moves a gauge both ways', async () => {
    const r = new Registry();
    const g = new Gauge(r, 'g', 'help', ['protocol']);
    g.inc({ protocol: 'ssh' });
    g.inc({ protocol: 'ssh' });
    g.inc({ protocol: 'ssh' }, -1);
    expect(await r.metrics()).toContain('g{protocol="ssh"} 1');
  });

  it('serves the gateway metrics, unlabelled ones at zero from the start, and the process metrics', async () => {
    const text = await new GatewayMetrics().render();
    for (const line of ['hopscope_recording_bytes_total 0', 'hopscope_fsync_seconds_count 0', 'hopscope_policy_generation 1']) {
      expect(text).toMatch(new RegExp(`^${line}$`, 'm'));
    }
    for (const name of ['hopscope_statement_seconds', 'hopscope_policy_step_seconds', 'hopscope_approvals_pending',
      'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds']) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
  });
});
