import { randomBytes } from 'node:crypto';
import type { Clock } from '../../common/clock.js';
import { HopscopeError } from '../../common/errors.js';
import type { ApprovalOutcome, PolicyContext } from './types.js';

export interface PendingApproval {
  id: string;
  identity: string;
  session: string;
  target: string;
  protocol: string;
  rule: string;
  operation: string;
  requestedAt: string;
  /** The gateway of the fleet holding it (a fleet's listing only). */
  gateway?: string;
}

/** Who may list and decide held operations: this gateway's broker, or the fleet's desk over every gateway's. */
export interface ApprovalDesk {
  list(): PendingApproval[] | Promise<PendingApproval[]>;
  /** `via`: the gateway the decision came through, when it is not the one holding the operation. */
  decide(id: string, approver: string, decision: 'approved' | 'denied', reason?: string): PendingApproval | Promise<PendingApproval>;
}

/** Told of every request and of how each ended (the fleet publishes them); must not throw. */
export interface ApprovalObserver {
  requested(request: PendingApproval): void;
  settled(request: PendingApproval, outcome: ApprovalOutcome): void;
}

interface Waiting {
  request: PendingApproval;
  requestedMicros: number;
  settle: (outcome: ApprovalOutcome) => void;
  timer: NodeJS.Timeout;
}

/**
 * Held operations waiting for a human. An approval is an answer that comes
 * later: the adapter holds the client, the broker settles the outcome when an
 * approver (never the requester) decides, when the timeout denies it, or when
 * the client gives up.
 */
export class ApprovalBroker implements ApprovalDesk {
  private readonly waiting = new Map<string, Waiting>();
  private readonly decided = new Set<string>();
  private observer: ApprovalObserver | undefined;

  constructor(private readonly timeoutMs: number, private readonly clock: Clock) {}

  observe(observer: ApprovalObserver): void {
    this.observer = observer;
  }

  /** Whether this broker holds the operation now. */
  holds(id: string): boolean {
    return this.waiting.has(id);
  }

  request(ctx: PolicyContext, operation: string, rule: string, signal?: AbortSignal): { id: string; outcome: Promise<ApprovalOutcome> } {
    const id = `ap-${randomBytes(6).toString('hex')}`;
    const requestedMicros = this.clock.nowMicros();
    const outcome = new Promise<ApprovalOutcome>((resolve) => {
      const settle = (o: ApprovalOutcome) => {
        const w = this.waiting.get(id);
        if (!w) return;
        clearTimeout(w.timer);
        this.waiting.delete(id);
        this.decided.add(id);
        this.observer?.settled(w.request, o);
        resolve(o);
      };
      const waited = () => this.clock.nowMicros() - requestedMicros;
      const timer = setTimeout(() => settle({ decision: 'timeout', id, waitedMicros: waited() }), this.timeoutMs);
      timer.unref();
      this.waiting.set(id, {
        request: {
          id, identity: ctx.identity, session: ctx.session, target: ctx.target, protocol: ctx.protocol, rule, operation,
          requestedAt: new Date(requestedMicros / 1000).toISOString(),
        },
        requestedMicros,
        settle,
        timer,
      });
      this.observer?.requested(this.waiting.get(id)!.request);
      signal?.addEventListener('abort', () => settle({ decision: 'cancelled', id, waitedMicros: waited() }), { once: true });
    });
    return { id, outcome };
  }

  list(): PendingApproval[] {
    return [...this.waiting.values()].map((w) => w.request);
  }

  /** An approver's decision; unknown ids, decided ids and self-approval are clear errors. */
  decide(id: string, approver: string, decision: 'approved' | 'denied', reason?: string): PendingApproval {
    const w = this.waiting.get(id);
    if (!w) {
      throw new HopscopeError('APPROVAL_UNKNOWN', this.decided.has(id) ? `approval ${id} was already decided` : `no pending approval ${id}`);
    }
    if (w.request.identity === approver) {
      throw new HopscopeError('APPROVAL_FORBIDDEN', `${approver} requested ${id} and cannot decide it`);
    }
    w.settle({ decision, id, approver, ...(reason ? { reason } : {}), waitedMicros: this.clock.nowMicros() - w.requestedMicros });
    return w.request;
  }
}
