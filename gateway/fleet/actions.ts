import type { Clock } from '../../common/clock.js';
import { HopscopeError } from '../../common/errors.js';
import { EventType } from '../../common/recording/index.js';
import type { Revocation, RevocationStore } from '../policy/revocations.js';
import type { AuditLog } from '../recording/index.js';
import { actorOf, cutLocal, targetOf, type RevocationActions } from '../revocation.js';
import type { SessionRegistry } from '../sessions.js';
import type { FleetMember } from './member.js';
import type { FleetRevocation } from './revocations.js';
import type { CutSession } from './sessions.js';

export interface FleetActionDeps { registry: SessionRegistry; fleet: FleetMember; audit: AuditLog; clock: Clock; local: RevocationStore }

/**
 * Revocations in a fleet: taken by any gateway, written to the control plane
 * (every gateway is notified and cuts its own sessions, and those below them
 * wherever their parents live), recorded in the audit of the gateway that took
 * it with every session cut in the fleet, and in each peer's audit with what it cut.
 */
export function fleetRevocationActions(deps: FleetActionDeps): RevocationActions & { cutFromPeer(r: FleetRevocation, fleetCut: CutSession[]): string[] } {
  const { registry, fleet, audit } = deps;
  return {
    list: () => fleet.revocations.list(),
    async revoke(req) {
      const which = targetOf(req, 'revoke');
      // Taken here only, it would not reach the other gateways: refused whole (503), nothing half-revoked.
      unreachable(fleet, 'revoke');
      const at = Math.floor(deps.clock.nowMicros() / 1e6);
      const reason = req.reason ? { reason: req.reason } : {};
      const r = await fleet.revocations.add({ ...which, at, by: req.by, ...reason });
      const fleetCut = await fleet.sessions.cutBy(r);
      const here = cutLocal({ ...which, by: req.by, ...reason }, registry, fleetCut);
      for (const id of here) void fleet.sessions.ended(id, 'revoked').catch(() => undefined);
      const sessionsCut = [...new Set([...here, ...fleetCut.map((c) => c.id)])];
      audit.record(EventType.Revoked, { ...which, ...actorOf(req), ...reason, at, sessionsCut, fleet: { origin: fleet.name, revocation: r.id } });
      return sessionsCut;
    },
    async unrevoke(req) {
      const which = targetOf(req, 'unrevoke');
      unreachable(fleet, 'lift a revocation');
      const lifted: Revocation[] = await fleet.revocations.remove(which);
      // keys.dir's copy too: it is adopted again when a gateway joins.
      deps.local.remove(which);
      if (lifted.length === 0) return [];
      audit.record(EventType.Unrevoked, { ...which, ...actorOf(req), at: Math.floor(deps.clock.nowMicros() / 1e6), lifted });
      return lifted;
    },
    cutFromPeer(r, fleetCut) {
      const which = r.identity !== undefined ? { identity: r.identity } : { tokenId: r.tokenId! };
      const by = r.by ?? 'unknown';
      const cut = cutLocal({ ...which, by, ...(r.reason ? { reason: r.reason } : {}) }, registry, fleetCut);
      if (cut.length) {
        audit.record(EventType.Revoked, {
          ...which, by, ...(r.reason ? { reason: r.reason } : {}), at: r.at, sessionsCut: cut, fleet: { origin: r.gateway, revocation: r.id },
        });
      }
      return cut;
    },
  };
}

function unreachable(fleet: FleetMember, what: string): void {
  if (fleet.state !== 'up') {
    throw new HopscopeError('CONTROL_PLANE_UNAVAILABLE', `the fleet's control plane is unreachable: cannot ${what} for the whole fleet now (nothing was changed); try again when it answers`);
  }
}
