import { EventType, type EventMap, type EventName } from '../../common/recording/index.js';
import type { GatewayMetrics } from '../admin/index.js';
import type { ApprovalOutcome, PolicyContext, PolicyPipeline, Verdict } from './types.js';

/** Where a session's policy steps are written: its recording. */
export interface PolicyTrail {
  /** Stages an event in the session's recording and returns its sequence number. */
  append<K extends EventName>(type: K, data: EventMap[K]): number;
  /** Makes what was staged durable (write before forward, before telling the client). */
  commit(): Promise<void> | undefined;
}

type Refusal = Extract<Verdict, { rule: string }>;
/** What a protocol adds to its policy events: SSH names the channel. */
export interface TrailExtra { channel?: number }

/** What the client is told and what refusalsTotal counts, per way an operation can end up not run. */
const NOT_RUN = {
  block: 'POLICY_BLOCKED',
  denied: 'APPROVAL_DENIED',
  timeout: 'APPROVAL_TIMEOUT',
  cancelled: 'APPROVAL_CANCELLED',
} as const;

/**
 * The one lifecycle of a judged operation, for both protocols: the adapter
 * (PostgreSQL session, SSH channel) records the operation and asks the
 * pipeline for a verdict; this records and counts what follows — a refusal
 * (`policy.block`), or a hold (`approval.requested`, then `approval.decided`)
 * — in the same events, with the same metrics, whatever the protocol. The
 * adapter only says how to tell its client and how to run or refuse on the wire.
 */
export class PolicyLifecycle {
  constructor(
    private readonly pipeline: PolicyPipeline,
    readonly ctx: PolicyContext,
    private readonly trail: PolicyTrail,
    private readonly metrics: GatewayMetrics,
  ) {}

  /** The operation recorded at `seq` will not run: blocked by a rule, or not approved. */
  refused(seq: number, verdict: Refusal, extra: TrailExtra & { approval?: string; decision?: string } = {}, why: keyof typeof NOT_RUN = 'block'): void {
    this.trail.append(EventType.PolicyBlock, { statement: seq, rule: verdict.rule, reason: verdict.reason, action: verdict.action, ...extra });
    this.metrics.refusalsTotal.inc({ reason: NOT_RUN[why] });
  }

  /**
   * Holds the operation recorded at `seq` until an approver decides, the
   * approval times out, or `signal` aborts (the client cancelled or left). The
   * request is durable before the client is told (`notify`); the decision is
   * recorded and counted here. Returns the outcome; a refused outcome is also
   * recorded as a refusal (`policy.block` with the decision).
   */
  async review(seq: number, operation: string, verdict: Refusal, signal: AbortSignal, notify: (message: string) => void,
    extra: TrailExtra = {}): Promise<ApprovalOutcome> {
    const { id, outcome } = this.pipeline.requestApproval(this.ctx, operation, verdict.rule, signal);
    this.trail.append(EventType.ApprovalRequested, { statement: seq, id, rule: verdict.rule, reason: verdict.reason, operation, ...extra });
    this.metrics.approvalsTotal.inc({ protocol: this.ctx.protocol, step: 'requested' });
    // A hold counts as pending from its request to its decision, whatever ends it.
    const pending = this.metrics.approvalsPending.series({ protocol: this.ctx.protocol });
    pending.inc(1);
    let result: ApprovalOutcome;
    try {
      await this.trail.commit();
      notify(`held for approval ${id} (rule ${verdict.rule}: ${verdict.reason}); waiting for an approver`);
      result = await outcome;
    } finally {
      pending.inc(-1);
    }
    this.metrics.policyStepSeconds.observe({ protocol: this.ctx.protocol, step: 'approval' }, result.waitedMicros / 1e6);
    this.trail.append(EventType.ApprovalDecided, {
      statement: seq, id, decision: result.decision, approver: result.approver ?? null, reason: result.reason ?? null,
      waitedMicros: result.waitedMicros, ...extra,
    });
    this.metrics.approvalsTotal.inc({ protocol: this.ctx.protocol, step: result.decision });
    if (result.decision !== 'approved') this.refused(seq, verdict, { ...extra, approval: id, decision: result.decision }, result.decision);
    return result;
  }
}

/** What the client is told about a decision (the same words over PostgreSQL and SSH). */
export function describeOutcome(outcome: ApprovalOutcome, rule: string): string {
  switch (outcome.decision) {
    case 'approved':
      return `approval ${outcome.id} approved by ${outcome.approver}${outcome.reason ? `: ${outcome.reason}` : ''}`;
    case 'cancelled':
      return `approval ${outcome.id} cancelled: the statement was not run (rule ${rule})`;
    default:
      return `approval ${outcome.id} ${outcome.decision === 'timeout' ? 'timed out' : `was denied${outcome.approver ? ` by ${outcome.approver}` : ''}`}`
        + `${outcome.reason ? `: ${outcome.reason}` : ''} (rule ${rule})`;
  }
}
