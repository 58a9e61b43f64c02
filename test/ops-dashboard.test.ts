import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './helpers/gateway.js';

interface Panel { title: string; targets?: { expr: string }[]; datasource?: { uid: string } }
const dashboard = JSON.parse(readFileSync('build/grafana-dashboard.json', 'utf8')) as {
  title: string; uid: string; __inputs: { name: string; pluginId: string }[]; panels: Panel[];
};

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway(undefined);
});
afterAll(async () => {
  await gw?.stop();
});

/** Every metric name a real gateway serves, from its /metrics: each TYPE line, with a histogram's _bucket, _sum and _count. */
async function servedNames(): Promise<Set<string>> {
  const text = await (await fetch(`${gw.gateway.admin.url}/metrics`, { headers: { authorization: `Bearer ${gw.gateway.admin.token}` } })).text();
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

/** The metric names a PromQL expression reads: names before a label selector, and our prefixes anywhere. */
function namesIn(expr: string): string[] {
  const selected = [...expr.matchAll(/([A-Za-z_:][\w:]*)\s*\{/g)].map((m) => m[1]!);
  const prefixed = [...expr.matchAll(/\b((?:hopscope|process|nodejs)_\w+)/g)].map((m) => m[1]!);
  return [...new Set([...selected, ...prefixed])];
}

describe('the Grafana dashboard', () => {
  it('is importable (a datasource input, panels with queries) and every query reads a metric the gateway serves', async () => {
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', pluginId: 'prometheus' })]);
    expect(dashboard.uid).toBe('hopscope-gateway');
    const served = await servedNames();
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThanOrEqual(15);
    const unknown = exprs.flatMap(({ panel, expr }) => {
      const names = namesIn(expr);
      return names.length === 0 ? [`${panel}: reads no metric: ${expr}`] : names.filter((n) => !served.has(n)).map((n) => `${panel}: ${n}`);
    });
    expect(unknown).toEqual([]);
  });

  it('has a panel for each thing an operator watches', () => {
    const all = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');
    for (const metric of ['hopscope_statement_seconds_bucket', 'hopscope_policy_step_seconds_bucket', 'hopscope_sessions_active',
      'hopscope_approvals_pending', 'hopscope_refusals_total', 'hopscope_recording_bytes_total', 'hopscope_fsync_seconds_bucket',
      'nodejs_eventloop_lag_p99_seconds', 'process_resident_memory_bytes']) {
      expect(all).toContain(metric);
    }
    expect(all).toMatch(/histogram_quantile\(0\.5, sum by \(le, protocol\) \(rate\(hopscope_statement_seconds_bucket/);
    expect(all).toMatch(/histogram_quantile\(0\.99, sum by \(le, protocol\) \(rate\(hopscope_statement_seconds_bucket/);
  });
});
