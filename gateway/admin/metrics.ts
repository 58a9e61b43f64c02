import client, { AggregatorRegistry, Registry } from 'prom-client';
import { Counter, Gauge, Histogram } from './metric-kinds.js';

export { Counter, Gauge, Histogram } from './metric-kinds.js';

/** Added latency: from tens of microseconds (a judged statement) to a second (a cold catalog read). */
const LATENCY_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1];
/** fsync on a local disk: tens of microseconds (cache) to hundreds of milliseconds (a busy disk). */
const FSYNC_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

let processRegistry: Registry | undefined;
/**
 * Process and event-loop metrics (prom-client's defaults: CPU, resident memory,
 * heap, GC, handles, and the event-loop delay histogram that perf_hooks keeps,
 * served as its p50/p90/p99). One set per process, under their standard
 * unprefixed names (`process_resident_memory_bytes`, `nodejs_eventloop_lag_p99_seconds`)
 * so stock Node.js dashboards read them; several gateways in one process share it.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    client.collectDefaultMetrics({ register: processRegistry, eventLoopMonitoringPrecision: 10 });
  }
  return processRegistry;
}

/**
 * The gateway's metrics, one registry per running gateway, named `hopscope_*`
 * with the unit last (`_seconds`, `_bytes`) and `_total` on counters. Callers on
 * hot paths take a `series(labels)` once (per session) and call it per chunk or
 * per statement.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly r = this.registry;

  readonly sessionsActive = new Gauge(this.r, 'hopscope_sessions_active', 'Sessions open now, by protocol', ['protocol']);
  readonly sessionsTotal = new Counter(this.r, 'hopscope_sessions_total', 'Sessions accepted since start, by protocol', ['protocol']);
  readonly refusalsTotal = new Counter(this.r, 'hopscope_refusals_total', 'Connections or operations refused, by reason code', ['reason']);
  readonly statementsTotal = new Counter(this.r, 'hopscope_statements_total', 'Statements and commands recorded and forwarded, by protocol', ['protocol']);
  readonly bytesTotal = new Counter(this.r, 'hopscope_bytes_total', 'Bytes relayed, by direction', ['direction']);
  readonly approvalsTotal = new Counter(this.r, 'hopscope_approvals_total',
    'Operations held for approval (step=requested), and their decisions, by protocol and step', ['protocol', 'step']);
  readonly approvalsPending = new Gauge(this.r, 'hopscope_approvals_pending', 'Operations held for approval now (holds), by protocol', ['protocol']);
  readonly recordingSeconds = new Histogram(this.r, 'hopscope_recording_write_seconds',
    'Time to commit recording events before forwarding (write, and fsync when the policy asks)', FSYNC_BUCKETS);
  readonly recordingBytes = new Counter(this.r, 'hopscope_recording_bytes_total', 'Bytes written to recordings');
  readonly fsyncSeconds = new Histogram(this.r, 'hopscope_fsync_seconds', 'Time each fsync of a recording took', FSYNC_BUCKETS);
  readonly statementSeconds = new Histogram(this.r, 'hopscope_statement_seconds',
    'Latency the gateway adds to a statement or command: from its arrival to its forward upstream, by protocol', LATENCY_BUCKETS, ['protocol']);
  readonly policyStepSeconds = new Histogram(this.r, 'hopscope_policy_step_seconds',
    'Time spent in one policy step (admission, sql, command, approval), by protocol and step', LATENCY_BUCKETS, ['protocol', 'step']);
  readonly policyReloadsTotal = new Counter(this.r, 'hopscope_policy_reloads_total', 'Policy reloads (SIGHUP), by result (applied, refused)', ['result']);
  // Summed over --workers it would be N times the generation: the least one says what every worker has in force.
  readonly policyGeneration = new Gauge(this.r, 'hopscope_policy_generation', 'The generation of the policies in force (1 at start, +1 per applied reload)', [], 'min');
  /** Set in a worker of --workers N: how /metrics asks the primary for every worker's metrics. */
  private acrossWorkers: (() => Promise<string>) | undefined;

  constructor() {
    this.policyGeneration.set({}, 1);
    processMetrics();
  }

  /**
   * `--workers N`: this process is one of N workers behind one admin port, and a scrape reaches whichever worker
   * takes the connection. From now on `render` answers for all of them: `ask` has the primary collect every
   * worker's registries (prom-client's AggregatorRegistry: counters, histograms and gauges summed, except the
   * policy generation (the least) and the process metrics prom-client marks otherwise, e.g. start time omitted).
   */
  sumAcrossWorkers(ask: () => Promise<string>): void {
    new AggregatorRegistry(); // its constructor makes this worker answer the primary's requests
    AggregatorRegistry.setRegistries([this.registry, processMetrics()]);
    this.acrossWorkers = ask;
  }

  /** The Prometheus text exposition (version 0.0.4): this gateway's metrics, then the process's (with --workers, all workers'). */
  async render(): Promise<string> {
    if (this.acrossWorkers) return this.acrossWorkers();
    const [own, proc] = await Promise.all([this.registry.metrics(), processMetrics().metrics()]);
    return `${own}\n${proc}`;
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
