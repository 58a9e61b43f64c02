import type { LiveSession as LiveSessionRow } from '../admin/server.js';
import type { Revocation } from '../policy/revocations.js';
import type { SessionInfo } from '../sessions.js';
import type { ControlPlaneLink } from './link.js';

/** A live session of any gateway of the fleet, as `GET /sessions` lists it (the admin API's session, with its gateway). */
export type FleetSession = LiveSessionRow & { gateway: string };

/** A session a revocation cuts: itself matched (`root` = its id) or below a matched one (`root` = that ancestor). */
export interface CutSession { id: string; root: string; gateway: string }

/**
 * The fleet's live sessions and their lineage in the control plane. A session
 * is published when it is admitted (before the client is connected upstream),
 * so a hop token minted on one gateway can name a parent that another gateway
 * finds, and a revocation can follow the lineage across gateways.
 */
export class FleetSessions {
  constructor(private readonly link: ControlPlaneLink, private readonly gateway: string) {}

  /**
   * Publishes a live session. Published again after an outage, a session that peers had marked ended (this
   * gateway was taken for dead while it was only cut off) is live again: lineage and revocations find it.
   */
  async publish(info: SessionInfo): Promise<void> {
    await this.link.query(
      `INSERT INTO hopscope_sessions AS s (id, gateway, protocol, identity, target, client, token_id, root_token_id, parent, link_kind, started_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, to_timestamp($11::double precision / 1e6))
       ON CONFLICT (id) DO UPDATE SET ended_at = NULL, end_cause = NULL WHERE s.gateway = EXCLUDED.gateway AND s.ended_at IS NOT NULL`,
      [info.id, this.gateway, info.protocol, info.identity, info.target, info.client, info.tokenId, info.rootTokenId,
        info.parent ?? null, info.linkKind ?? null, info.startedMicros]);
  }

  async ended(id: string, cause: string): Promise<void> {
    await this.link.query('UPDATE hopscope_sessions SET ended_at = now(), end_cause = $2 WHERE id = $1 AND ended_at IS NULL', [id, cause]);
  }

  /** The gateway holding this session, when it is live anywhere in the fleet. */
  async liveOn(id: string): Promise<string | undefined> {
    const { rows } = await this.link.query<{ gateway: string }>('SELECT gateway FROM hopscope_sessions WHERE id = $1 AND ended_at IS NULL', [id]);
    return rows[0]?.gateway;
  }

  async list(): Promise<FleetSession[]> {
    const { rows } = await this.link.query<{
      id: string; gateway: string; protocol: string; identity: string; target: string; client: string;
      parent: string | null; link_kind: string | null; started_at: Date;
    }>(`SELECT s.id, s.gateway, s.protocol, s.identity, s.target, s.client, s.parent, s.link_kind, s.started_at
        FROM hopscope_sessions s JOIN hopscope_gateways g ON g.name = s.gateway
        WHERE s.ended_at IS NULL AND g.state = 'live' ORDER BY s.started_at`);
    return rows.map((r) => ({
      id: r.id, gateway: r.gateway, protocol: r.protocol, identity: r.identity, target: r.target, client: r.client,
      parent: r.parent ?? undefined, linkKind: r.link_kind ?? undefined, startedAt: r.started_at.toISOString(),
    }));
  }

  /**
   * Every live session of the fleet a revocation cuts: those it names, and every live session below them, however
   * deep. The lineage is followed through sessions that ended (a hop outlives its parent; a peer may have marked a
   * cut-off gateway's sessions ended), so a descendant is cut whatever became of the sessions between.
   */
  async cutBy(r: Revocation): Promise<CutSession[]> {
    const { rows } = await this.link.query<CutSession>(
      `WITH RECURSIVE cut(id, root, gateway, live) AS (
         SELECT id, id, gateway, ended_at IS NULL FROM hopscope_sessions
          WHERE identity = $1 OR token_id = $2 OR root_token_id = $2
         UNION
         SELECT s.id, cut.root, s.gateway, s.ended_at IS NULL FROM hopscope_sessions s JOIN cut ON s.parent = cut.id
       ) SELECT id, root, gateway FROM cut WHERE live`, [r.identity ?? null, r.tokenId ?? null]);
    return rows;
  }

  /**
   * After the link came back: what this gateway holds now is what the control plane says it holds (sessions
   * admitted meanwhile published, sessions that ended meanwhile marked ended).
   */
  async resync(live: SessionInfo[]): Promise<void> {
    for (const info of live) await this.publish(info);
    await this.link.query(
      `UPDATE hopscope_sessions SET ended_at = now(), end_cause = 'ended-while-unreachable'
        WHERE gateway = $1 AND ended_at IS NULL AND NOT (id = ANY($2::text[]))`, [this.gateway, live.map((s) => s.id)]);
  }
}
