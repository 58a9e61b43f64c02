import { HopscopeError } from '../../common/errors.js';
import type { Logger } from '../log.js';
import type { ApprovalBroker, ApprovalDesk, ApprovalObserver, PendingApproval } from '../policy/approvals.js';
import type { ApprovalOutcome } from '../policy/types.js';
import type { ControlPlaneLink } from './link.js';

interface Row {
  id: string; gateway: string; session: string; identity: string; target: string; protocol: string; rule: string; operation: string;
  requested_at: Date; requested: string | null; decision: string | null; approver: string | null; reason: string | null;
}

/** How long a decision taken through another gateway waits for the holder to apply it before the approver is answered. */
const APPLY_WAIT_MS = 5000;

/**
 * Held operations across the fleet. Each gateway publishes what its broker
 * holds; any gateway lists them and takes a decision, which is written to the
 * control plane (once: the row's decision is set only while it is empty, never
 * by the requester) and notified to the holding gateway, whose broker settles
 * the held client exactly as a local decision would.
 */
export class FleetApprovals implements ApprovalDesk, ApprovalObserver {
  constructor(
    private readonly link: ControlPlaneLink,
    private readonly gateway: string,
    private readonly broker: ApprovalBroker,
    private readonly logger: Logger,
  ) {
    broker.observe(this);
  }

  requested(r: PendingApproval): void {
    void this.publish(r).catch((err: Error) => this.logger.error({ approval: r.id, detail: err.message }, 'approval not published to the control plane: only this gateway lists it'));
  }

  /** What happened to the held operation, as its client saw it: the row says so, whatever was asked. */
  settled(r: PendingApproval, o: ApprovalOutcome): void {
    void this.link.query(
      `UPDATE hopscope_approvals SET decision = $2, approver = coalesce($3, approver), reason = coalesce($4, reason), decided_at = now()
        WHERE id = $1 AND decision IS NULL`,
      [r.id, o.decision, o.approver ?? null, o.reason ?? null],
    ).catch((err: Error) => this.logger.error({ approval: r.id, detail: err.message }, 'approval outcome not published to the control plane'));
  }

  async list(): Promise<PendingApproval[]> {
    if (this.link.state !== 'up') return this.broker.list().map((p) => ({ ...p, gateway: this.gateway }));
    const { rows } = await this.link.query<Row>(
      `SELECT a.* FROM hopscope_approvals a JOIN hopscope_gateways g ON g.name = a.gateway
        WHERE a.decision IS NULL AND g.state = 'live' ORDER BY a.requested_at`);
    return rows.map(toPending);
  }

  /**
   * A decision through this gateway. The row's `requested` is set once (never by the requester); the holder
   * applies it and writes what happened in `decision`. The approver is answered with what happened: the decision
   * when the holder applied it, an error when the operation ended otherwise (timeout, the client left) or when the
   * holder has not applied it within a few seconds (it may be cut off; it applies it on return if still held).
   */
  async decide(id: string, approver: string, decision: 'approved' | 'denied', reason?: string): Promise<PendingApproval> {
    const local = () => ({ ...this.broker.decide(id, approver, decision, reason), gateway: this.gateway });
    // Without the control plane, only what this gateway holds can be decided, here.
    if (this.link.state !== 'up') return local();
    const { rows } = await this.link.query<Row>(
      `UPDATE hopscope_approvals SET requested = $2, approver = $3, reason = $4, decided_via = $5
        WHERE id = $1 AND requested IS NULL AND decision IS NULL AND identity <> $3 RETURNING *`,
      [id, decision, approver, reason ?? null, this.gateway]);
    if (rows[0]) {
      if (this.broker.holds(id)) return local();
      await this.link.notify('hopscope_approval', id);
      return this.applied(rows[0], decision);
    }
    const { rows: found } = await this.link.query<Row>('SELECT * FROM hopscope_approvals WHERE id = $1', [id]);
    const row = found[0];
    // Held here but never published (the control plane was away when it was requested): the broker decides.
    if (!row && this.broker.holds(id)) return local();
    if (!row) throw new HopscopeError('APPROVAL_UNKNOWN', `no pending approval ${id}`);
    if (row.decision !== null || row.requested !== null) throw new HopscopeError('APPROVAL_UNKNOWN', `approval ${id} was already decided`);
    throw new HopscopeError('APPROVAL_FORBIDDEN', `${approver} requested ${id} and cannot decide it`);
  }

  /** Waits for the holder to write what happened. */
  private async applied(row: Row, decision: string): Promise<PendingApproval> {
    const deadline = Date.now() + APPLY_WAIT_MS;
    for (;;) {
      const { rows } = await this.link.query<Row>('SELECT * FROM hopscope_approvals WHERE id = $1', [row.id]);
      const now = rows[0];
      if (now?.decision === decision) return toPending(now);
      if (now?.decision) {
        throw new HopscopeError('APPROVAL_UNKNOWN', `approval ${row.id} ended as ${now.decision} on gateway ${row.gateway} before the decision reached it`);
      }
      if (Date.now() > deadline) {
        throw new HopscopeError('CONTROL_PLANE_UNAVAILABLE', `gateway ${row.gateway} holds approval ${row.id} and has not applied the decision `
          + `(it may be cut off from the control plane): recorded, it applies it when it returns if the operation is still held`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** A peer decided an operation: settle it here when this gateway holds it. */
  async decidedElsewhere(id: string): Promise<void> {
    if (!this.broker.holds(id)) return;
    const { rows } = await this.link.query<Row>('SELECT * FROM hopscope_approvals WHERE id = $1', [id]);
    const row = rows[0];
    if (!row || row.decision !== null || (row.requested !== 'approved' && row.requested !== 'denied') || !row.approver) return;
    try {
      this.broker.decide(id, row.approver, row.requested, row.reason ?? undefined);
    } catch (err) {
      this.logger.error({ approval: id, detail: (err as Error).message }, 'a decision from the control plane was refused');
    }
  }

  /** After the link came back: what the broker holds is listed again, and decisions taken meanwhile are applied. */
  async resync(): Promise<void> {
    for (const p of this.broker.list()) {
      await this.publish(p);
      await this.decidedElsewhere(p.id);
    }
  }

  private async publish(r: PendingApproval): Promise<void> {
    await this.link.query(
      `INSERT INTO hopscope_approvals (id, gateway, session, identity, target, protocol, rule, operation, requested_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING`,
      [r.id, this.gateway, r.session, r.identity, r.target, r.protocol, r.rule, r.operation, r.requestedAt]);
  }
}

function toPending(r: Row): PendingApproval {
  return {
    id: r.id, identity: r.identity, session: r.session, target: r.target, protocol: r.protocol, rule: r.rule, operation: r.operation,
    requestedAt: r.requested_at.toISOString(), gateway: r.gateway,
  };
}
