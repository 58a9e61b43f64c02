/**
 * A few counters, gauges and one histogram, rendered in the Prometheus text
 * exposition format (version 0.0.4). Labels are fixed at creation.
 */
type Labels = Record<string, string>;

const labelText = (labels: Labels) => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
};

/** A cheap map key on the hot path; the escaped text is only built when rendering. */
function labelKey(labels: Labels): string {
  let key = '';
  for (const k in labels) key += `${k}\u0000${labels[k]}\u0001`;
  return key;
}

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string, readonly kind: 'counter' | 'gauge' = 'counter') {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    const entry = this.values.get(key);
    if (entry) entry.value += by;
    else this.values.set(key, { labels, value: by });
  }

  /** A handle for one fixed set of labels, for hot paths: no key is built per increment. */
  series(labels: Labels): { inc(by?: number): void } {
    let entry: { labels: Labels; value: number } | undefined;
    return {
      inc: (by = 1) => {
        entry ??= this.values.get(labelKey(labels));
        if (entry) entry.value += by;
        else this.values.set(labelKey(labels), (entry = { labels, value: by }));
      },
    };
  }

  set(labels: Labels, value: number): void {
    const key = labelKey(labels);
    const entry = this.values.get(key); // updated in place: a series() handle may hold it
    if (entry) entry.value = value;
    else this.values.set(key, { labels, value });
  }

  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels))?.value ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.kind}`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${labelText(labels)} ${value}`);
    return lines.join('\n');
  }
}

export class Histogram implements Metric {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {
    this.counts = buckets.map(() => 0);
  }

  /** Counted in the first bucket that holds the value only; the cumulative counts are summed when rendering. */
  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]!) {
        this.counts[i]!++;
        break;
      }
    }
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    let cumulative = 0;
    this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{le="${b}"} ${(cumulative += this.counts[i]!)}`));
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return lines.join('\n');
  }
}

export class GatewayMetrics {
  readonly sessionsActive = new Counter('hopscope_sessions_active', 'Sessions open now', 'gauge');
  readonly sessionsTotal = new Counter('hopscope_sessions_total', 'Sessions accepted since start');
  readonly refusalsTotal = new Counter('hopscope_refusals_total', 'Connections or operations refused, by reason code');
  readonly statementsTotal = new Counter('hopscope_statements_total', 'Statements and commands recorded and forwarded');
  readonly bytesTotal = new Counter('hopscope_bytes_total', 'Bytes relayed, by direction');
  readonly approvalsTotal = new Counter('hopscope_approvals_total', 'Operations held for approval, and their decisions, by protocol and step');
  readonly recordingSeconds = new Histogram('hopscope_recording_write_seconds', 'Time to commit recording events before forwarding',
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1]);
  readonly recordingBytes = new Counter('hopscope_recording_bytes_total', 'Bytes written to recordings');

  render(): string {
    return [this.sessionsActive, this.sessionsTotal, this.refusalsTotal, this.statementsTotal, this.bytesTotal, this.approvalsTotal,
      this.recordingSeconds, this.recordingBytes].map((m) => m.render()).join('\n') + '\n';
  }
}
