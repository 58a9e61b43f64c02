import { hostname } from 'node:os';
import type { KeyObject } from 'node:crypto';
import type { FleetGateway, FleetStatus } from '../../common/api/gateway.js';
import { HopscopeError } from '../../common/errors.js';
import { publicKeyFromPem, type Signer } from '../../common/keys.js';
import { readSecret, type LoadedConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { ApprovalBroker } from '../policy/approvals.js';
import type { Revocation } from '../policy/revocations.js';
import type { FleetAdmission } from '../admission.js';
import type { RegistryObserver, SessionInfo } from '../sessions.js';
import { FleetApprovals } from './approvals.js';
import { ControlPlaneLink, type LinkState } from './link.js';
import { PRUNE_EVERY_MS, pruneControlPlane } from './retention.js';
import { FleetRevocations, type FleetRevocation } from './revocations.js';
import { FleetSessions, type CutSession, type FleetSession } from './sessions.js';

export type FleetConfig = NonNullable<LoadedConfig['controlPlane']>;


export interface MemberDeps {
  config: LoadedConfig;
  signer: Signer;
  /** The keys tokens are verified with: the member adds every fleet key and removes retired ones, in place. */
  trusted: Map<string, KeyObject>;
  broker: ApprovalBroker;
  logger: Logger;
  adminUrl: string;
  /** The gateway's live sessions now (for a resync after the link came back). */
  liveSessions: () => SessionInfo[];
  /** Another gateway took this one's name over: end every live session (the fleet can no longer see them). */
  evicted: () => void;
  /** Cuts this gateway's sessions under a revocation (fleetCut: the fleet-wide lineage); returns the ids cut here. */
  cut: (r: FleetRevocation, fleetCut: CutSession[]) => string[];
}

/**
 * This gateway as a member of a fleet: registered with its key, heartbeating
 * within its lease, marking peers whose lease ran out as crashed, and keeping
 * in memory what admission reads (trusted keys, revocations) current from
 * notifications, with a re-read on every heartbeat as the safety net.
 */
export class FleetMember implements FleetAdmission, RegistryObserver {
  readonly name: string;
  readonly revocations: FleetRevocations;
  readonly sessions: FleetSessions;
  readonly approvals: FleetApprovals;
  private readonly link: ControlPlaneLink;
  private heartbeat: NodeJS.Timeout | undefined;
  /** Another gateway holds this name now: this one admits no one (its sessions were ended). */
  private evicted = false;
  /** Published at admission, not yet live in the registry (connecting upstream): when each was admitted. */
  private readonly unregistered = new Map<string, number>();
  /** Work on the control plane's state, one at a time: notifications, heartbeats and the catch-up. */
  private serial: Promise<unknown> = Promise.resolve();
  /** When this gateway last pruned the control plane's ended sessions and decided approvals (retention.ts). */
  private lastPrune = Date.now();

  private constructor(private readonly deps: MemberDeps, private readonly cfg: FleetConfig) {
    this.name = cfg.gatewayName;
    const conn = typeof cfg.postgres === 'string' ? cfg.postgres : readSecret(cfg.postgres, 'controlPlane.postgres').trim();
    this.link = new ControlPlaneLink(conn, deps.logger);
    this.revocations = new FleetRevocations(this.link, this.name);
    this.sessions = new FleetSessions(this.link, this.name);
    this.approvals = new FleetApprovals(this.link, this.name, deps.broker, deps.logger);
  }

  /** Joins the fleet: schema, registration, keys, revocations (local ones adopted); throws when it cannot. */
  static async join(deps: MemberDeps, local: Revocation[]): Promise<FleetMember> {
    const member = new FleetMember(deps, deps.config.controlPlane!);
    try {
      await member.link.open();
      await member.register();
      await member.revocations.adopt(local);
      await member.refreshKeys();
      await member.revocations.refresh();
    } catch (err) {
      await member.link.close();
      if (err instanceof HopscopeError) throw err;
      throw new HopscopeError('CONTROL_PLANE_UNAVAILABLE', `cannot join the fleet's control plane: ${(err as Error).message}`);
    }
    member.link.on('notify', (channel, payload) => member.run(() => member.onNotify(channel, payload)));
    member.link.on('reconnected', () => member.run(() => member.catchUp()));
    member.link.markUp();
    const every = Math.max(1, Math.floor(member.cfg.leaseSeconds / 3)) * 1000;
    member.heartbeat = setInterval(() => member.run(() => member.beat()), every);
    member.heartbeat.unref();
    return member;
  }

  get state(): LinkState {
    return this.link.state;
  }

  /** Whether a new session may be admitted now: always while the link is up; otherwise as the config says. */
  admission(): { admit: true; localOnly: boolean } | { admit: false; message: string } {
    if (this.evicted) return { admit: false, message: `another gateway of the fleet holds the name ${this.name} now: this gateway admits no one` };
    if (this.link.state === 'up') return { admit: true, localOnly: false };
    if (this.cfg.whenUnreachable === 'admit-local') return { admit: true, localOnly: true };
    return {
      admit: false,
      message: this.link.state === 'down'
        ? "the fleet's control plane is unreachable: new sessions are refused until it answers"
        : "the gateway is catching up with the fleet's control plane: try again in a moment",
    };
  }

  parentGateway(session: string): Promise<string | undefined> {
    return this.sessions.liveOn(session);
  }

  async admitted(info: SessionInfo): Promise<void> {
    await this.sessions.publish(info);
    this.unregistered.set(info.id, Date.now());
  }

  added(info: SessionInfo): void {
    this.unregistered.delete(info.id);
  }

  removed(info: SessionInfo): void {
    void this.sessions.ended(info.id, 'ended').catch(() => undefined); // a resync after the link returns marks it
  }

  /** `GET /fleet`: the gateways, every live session and every held operation of the fleet. */
  async status(): Promise<FleetStatus> {
    return this.read('the fleet', async () => ({
      self: this.name, state: this.state, gateways: await this.gateways(),
      sessions: (await this.sessions.list()).map((s) => ({ ...s })), approvals: await this.approvals.list(),
    }));
  }

  /** Every live session of the fleet (GET /sessions). */
  liveSessions(): Promise<FleetSession[]> {
    return this.read("the fleet's sessions", () => this.sessions.list());
  }

  /**
   * A read for the admin API: while the control plane is away, a clear 503 naming this gateway (the driver's
   * own error, which may name the control plane's role or host, goes to the log only).
   */
  private async read<T>(what: string, body: () => Promise<T>): Promise<T> {
    const unreachable = () => new HopscopeError('CONTROL_PLANE_UNAVAILABLE',
      `gateway ${this.name} cannot reach the fleet's control plane (${this.state}): ${what} cannot be listed now`);
    if (this.link.state !== 'up') throw unreachable();
    try {
      return await body();
    } catch (err) {
      this.deps.logger.error({ detail: (err as Error).message }, `control plane read failed: ${what}`);
      throw unreachable();
    }
  }

  /** The fleet's gateways, their health and live session counts. */
  async gateways(): Promise<FleetGateway[]> {
    const { rows } = await this.link.query<{
      name: string; key_id: string; admin_url: string; host: string; pid: number; started_at: Date; heartbeat_at: Date;
      state: FleetGateway['state']; healthy: boolean; sessions: string;
    }>(`SELECT g.*, g.state = 'live' AND g.heartbeat_at >= now() - make_interval(secs => g.lease_seconds) AS healthy,
               (SELECT count(*) FROM hopscope_sessions s WHERE s.gateway = g.name AND s.ended_at IS NULL) AS sessions
          FROM hopscope_gateways g ORDER BY g.name`);
    return rows.map((r) => ({
      name: r.name, keyId: r.key_id, adminUrl: r.admin_url, host: r.host, pid: r.pid, startedAt: r.started_at.toISOString(),
      heartbeatAt: r.heartbeat_at.toISOString(), state: r.state, healthy: r.healthy, sessions: Number(r.sessions),
    }));
  }

  /** Retires a signing key fleet-wide: tokens it signed are refused by every gateway from now on. */
  async retireKey(keyId: string, by: string): Promise<boolean> {
    const { rowCount } = await this.link.query(
      'UPDATE hopscope_keys SET retired_at = now(), retired_by = $2 WHERE key_id = $1 AND retired_at IS NULL', [keyId, by]);
    if (!rowCount) return false;
    await this.link.notify('hopscope_key', keyId);
    await this.run(() => this.refreshKeys());
    return true;
  }

  async keys(): Promise<{ keyId: string; gateway: string; registeredAt: string; retiredAt: string | null; retiredBy: string | null }[]> {
    const { rows } = await this.link.query<{ key_id: string; gateway: string; registered_at: Date; retired_at: Date | null; retired_by: string | null }>(
      'SELECT key_id, gateway, registered_at, retired_at, retired_by FROM hopscope_keys ORDER BY registered_at');
    return rows.map((r) => ({ keyId: r.key_id, gateway: r.gateway, registeredAt: r.registered_at.toISOString(), retiredAt: r.retired_at?.toISOString() ?? null, retiredBy: r.retired_by }));
  }

  /** Leaves the fleet cleanly: its sessions (already ended by the gateway) and held operations marked, state stopped. */
  async leave(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.serial.catch(() => undefined);
    await this.link.transaction(async (c) => {
      await c.query("UPDATE hopscope_sessions SET ended_at = now(), end_cause = coalesce(end_cause, 'gateway-shutdown') WHERE gateway = $1 AND ended_at IS NULL", [this.name]);
      await c.query("UPDATE hopscope_approvals SET decision = 'gateway-gone', decided_at = now() WHERE gateway = $1 AND decision IS NULL", [this.name]);
      await c.query("UPDATE hopscope_gateways SET state = 'stopped', heartbeat_at = now() WHERE name = $1", [this.name]);
    }).catch((err: Error) => this.deps.logger.error({ detail: err.message }, 'could not mark this gateway stopped in the control plane: its lease will expire'));
    await this.link.close();
  }

  /** Queued after the work before it; errors are logged (the heartbeat retries). */
  private run(work: () => Promise<unknown>): Promise<unknown> {
    this.serial = this.serial.then(work).catch((err: Error) => this.deps.logger.error({ detail: err.message }, 'control plane work failed'));
    return this.serial;
  }

  private async onNotify(channel: string, payload: string): Promise<void> {
    if (channel === 'hopscope_revocation') await this.applyRevocations();
    else if (channel === 'hopscope_approval') await this.approvals.decidedElsewhere(payload);
    else if (channel === 'hopscope_key') await this.refreshKeys();
  }

  /** Re-reads the revocations and cuts this gateway's sessions under each one not seen before. */
  private async applyRevocations(): Promise<void> {
    for (const r of await this.revocations.refresh()) {
      const fleetCut = await this.sessions.cutBy(r);
      const cut = this.deps.cut(r, fleetCut);
      for (const id of cut) void this.sessions.ended(id, 'revoked').catch(() => undefined);
    }
  }

  private async beat(): Promise<void> {
    if (this.link.state !== 'up') return; // the reconnect loop brings it back, then catchUp runs
    const { rowCount } = await this.link.query("UPDATE hopscope_gateways SET heartbeat_at = now() WHERE name = $1 AND state = 'live' AND host = $2 AND pid = $3",
      [this.name, hostname(), process.pid]);
    // Marked crashed by a peer (this gateway was cut off longer than its lease): come back, and say what it holds.
    if (!rowCount) await this.catchUp();
    if (this.evicted) return;
    const { rows } = await this.link.query<{ gateways: string[] | null; sessions: string }>(
      `WITH dead AS (
         UPDATE hopscope_gateways SET state = 'crashed'
          WHERE state = 'live' AND name <> $1 AND heartbeat_at < now() - make_interval(secs => lease_seconds) RETURNING name),
       s AS (UPDATE hopscope_sessions SET ended_at = now(), end_cause = 'gateway-crash'
              WHERE ended_at IS NULL AND gateway IN (SELECT name FROM dead) RETURNING id),
       a AS (UPDATE hopscope_approvals SET decision = 'gateway-gone', decided_at = now()
              WHERE decision IS NULL AND gateway IN (SELECT name FROM dead) RETURNING id)
       SELECT (SELECT array_agg(name) FROM dead) AS gateways, (SELECT count(*) FROM s) AS sessions`, [this.name]);
    // Admitted but never established (the upstream refused, the client left): not live any more.
    for (const [id, at] of this.unregistered) {
      if (Date.now() - at < 60_000) continue;
      this.unregistered.delete(id);
      await this.sessions.ended(id, 'not-established');
    }
    const dead = rows[0]?.gateways;
    if (dead?.length) this.deps.logger.warn({ gateways: dead, sessions: Number(rows[0]!.sessions) }, 'gateways past their lease marked crashed, their sessions ended');
    await this.applyRevocations();
    await this.refreshKeys();
    if (Date.now() - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = Date.now();
      const pruned = await pruneControlPlane(this.link);
      if (pruned.sessions || pruned.approvals) this.deps.logger.info(pruned, 'control plane pruned: sessions ended and approvals decided over an hour ago');
    }
  }

  /** After the link came back (or a peer took this gateway for dead): re-register, re-read, re-publish, then admit. */
  private async catchUp(): Promise<void> {
    if (this.evicted) return;
    // The name is still this process's only if no other gateway took it over meanwhile (after its lease expired).
    const { rowCount } = await this.link.query(
      "UPDATE hopscope_gateways SET state = 'live', heartbeat_at = now() WHERE name = $1 AND host = $2 AND pid = $3", [this.name, hostname(), process.pid]);
    if (!rowCount) {
      this.evicted = true;
      this.deps.logger.error({ gateway: this.name }, 'another gateway took this gateway\'s name over while it was cut off: it admits no one and ends its sessions');
      this.deps.evicted();
      return;
    }
    await this.refreshKeys();
    // What it holds first, so that the lineage the revocations follow is whole.
    await this.sessions.resync(this.deps.liveSessions());
    await this.applyRevocations();
    await this.approvals.resync();
    this.link.caughtUp();
  }

  private async register(): Promise<void> {
    const { keyId, publicKey } = this.deps.signer;
    const { rows: keyRows } = await this.link.query<{ retired_at: Date | null }>(
      `INSERT INTO hopscope_keys (key_id, public_key, gateway) VALUES ($1, $2, $3)
       ON CONFLICT (key_id) DO UPDATE SET key_id = EXCLUDED.key_id RETURNING retired_at`, [keyId, publicKey, this.name]);
    if (keyRows[0]?.retired_at) {
      throw new HopscopeError('CONFIG_INVALID', `this gateway's signing key ${keyId} was retired fleet-wide: give it a new key (move keys.dir/gateway_ed25519 away)`);
    }
    const { rows } = await this.link.query<{ name: string }>(
      `INSERT INTO hopscope_gateways AS g (name, key_id, admin_url, host, pid, started_at, heartbeat_at, lease_seconds, state)
       VALUES ($1, $2, $3, $4, $5, now(), now(), $6, 'live')
       ON CONFLICT (name) DO UPDATE SET key_id = $2, admin_url = $3, host = $4, pid = $5, started_at = now(), heartbeat_at = now(),
         lease_seconds = $6, state = 'live'
        WHERE g.state <> 'live' OR g.heartbeat_at < now() - make_interval(secs => g.lease_seconds)
       RETURNING name`, [this.name, keyId, this.deps.adminUrl, hostname(), process.pid, this.cfg.leaseSeconds]);
    if (!rows[0] && !(await this.takeOverDeadHolder(keyId))) {
      throw new HopscopeError('CONFIG_INVALID', `gateway name ${this.name} is held by a live gateway of the fleet (its lease has not expired): give each gateway its own controlPlane.gatewayName`);
    }
    // Peers trust this gateway's key from now on, not only after their next heartbeat.
    await this.link.notify('hopscope_key', keyId);
    // What a previous run under this name left open did not survive it.
    await this.link.query("UPDATE hopscope_sessions SET ended_at = now(), end_cause = 'gateway-crash' WHERE gateway = $1 AND ended_at IS NULL", [this.name]);
    await this.link.query("UPDATE hopscope_approvals SET decision = 'gateway-gone', decided_at = now() WHERE gateway = $1 AND decision IS NULL", [this.name]);
  }

  /**
   * The name's holder is within its lease but ran on this host under a pid that no longer exists (a worker the
   * primary restarts, a gateway restarted by systemd right after a crash): this gateway takes the name over.
   */
  private async takeOverDeadHolder(keyId: string): Promise<boolean> {
    const { rows } = await this.link.query<{ host: string; pid: number }>('SELECT host, pid FROM hopscope_gateways WHERE name = $1', [this.name]);
    const holder = rows[0];
    if (!holder || holder.host !== hostname() || holder.pid === process.pid || pidAlive(holder.pid)) return false;
    const { rowCount } = await this.link.query(
      `UPDATE hopscope_gateways SET key_id = $2, admin_url = $3, pid = $4, started_at = now(), heartbeat_at = now(), lease_seconds = $5, state = 'live'
        WHERE name = $1 AND host = $6 AND pid = $7`, [this.name, keyId, this.deps.adminUrl, process.pid, this.cfg.leaseSeconds, hostname(), holder.pid]);
    if (rowCount) this.deps.logger.warn({ gateway: this.name, pid: holder.pid }, 'took over the name of a gateway whose process on this host is gone');
    return rowCount === 1;
  }

  /** Every registered key not retired is trusted; a retired one is not, even when keys.dir holds it. */
  private async refreshKeys(): Promise<void> {
    const { rows } = await this.link.query<{ key_id: string; public_key: string; retired_at: Date | null }>(
      'SELECT key_id, public_key, retired_at FROM hopscope_keys');
    for (const r of rows) {
      if (r.retired_at) this.deps.trusted.delete(r.key_id);
      else if (!this.deps.trusted.has(r.key_id)) this.deps.trusted.set(r.key_id, publicKeyFromPem(r.public_key));
    }
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}
