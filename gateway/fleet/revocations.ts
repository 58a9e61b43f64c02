import { HopscopeError } from '../../common/errors.js';
import type { TokenClaims } from '../../common/tokens/index.js';
import { describeRevocation, type Revocation, type RevocationSelector } from '../policy/revocations.js';
import type { ControlPlaneLink } from './link.js';

/** A revocation as the control plane keeps it: with its row id and the gateway that took it. */
export interface FleetRevocation extends Revocation {
  id: number;
  gateway: string;
}

interface Row { id: string; identity: string | null; token_id: string | null; at: string; by: string | null; reason: string | null; gateway: string }

/**
 * The fleet's revocations, read from the control plane into memory. Admission
 * reads the copy (no query on the login path); the copy is replaced on every
 * notification and every heartbeat's re-read (the safety net for a missed
 * notification), and `refresh()` returns the revocations it had not seen, so the
 * caller cuts their sessions once.
 */
export class FleetRevocations {
  private entries: FleetRevocation[] = [];
  private seen = new Set<number>();

  constructor(private readonly link: ControlPlaneLink, private readonly gateway: string) {}

  list(): Revocation[] {
    return this.entries.map(({ id: _id, gateway: _gw, ...r }) => r);
  }

  revocationOf(claims: TokenClaims): Revocation | undefined {
    const r = this.entries.find((e) => (e.tokenId !== undefined && (e.tokenId === claims.jti || e.tokenId === claims.root))
      || (e.identity !== undefined && e.identity === claims.sub));
    if (!r) return undefined;
    const { id: _id, gateway: _gw, ...revocation } = r;
    return revocation;
  }

  revokedReason(claims: TokenClaims): string | undefined {
    const r = this.revocationOf(claims);
    return r && describeRevocation(r);
  }

  /** Re-reads every revocation; returns those not seen before (each is returned once in the life of this gateway). */
  async refresh(): Promise<FleetRevocation[]> {
    const { rows } = await this.link.query<Row>('SELECT id, identity, token_id, at, by, reason, gateway FROM hopscope_revocations ORDER BY id');
    this.entries = rows.map(fromRow);
    const fresh = this.entries.filter((r) => !this.seen.has(r.id));
    for (const r of fresh) this.seen.add(r.id);
    return fresh;
  }

  /** Adds a revocation to the control plane and tells every gateway; returns it with its id. */
  async add(r: Revocation): Promise<FleetRevocation> {
    const { rows } = await this.link.query<Row>(
      'INSERT INTO hopscope_revocations (identity, token_id, at, by, reason, gateway) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *',
      [r.identity ?? null, r.tokenId ?? null, r.at, r.by ?? null, r.reason ?? null, this.gateway]);
    const added = fromRow(rows[0]!);
    // In force here at once (the next login is refused), and cut by the caller, not again by the notification.
    this.entries.push(added);
    this.seen.add(added.id);
    await this.link.notify('hopscope_revocation', String(added.id));
    return added;
  }

  /** Lifts every revocation of exactly this identity or token id, fleet-wide; returns those lifted. */
  async remove(which: RevocationSelector): Promise<Revocation[]> {
    if (!which.identity === !which.tokenId) throw new HopscopeError('CONFIG_INVALID', 'unrevoke exactly one of an identity or a token id');
    const { rows } = which.identity !== undefined
      ? await this.link.query<Row>('DELETE FROM hopscope_revocations WHERE identity = $1 RETURNING *', [which.identity])
      : await this.link.query<Row>('DELETE FROM hopscope_revocations WHERE token_id = $1 RETURNING *', [which.tokenId]);
    if (rows.length) await this.link.notify('hopscope_revocation', 'lifted');
    return rows.map(fromRow).map(({ id: _id, gateway: _gw, ...r }) => r);
  }

  /** Revocations a gateway kept in keys.dir before it joined the fleet: added once, so joining un-revokes nothing. */
  async adopt(local: Revocation[]): Promise<number> {
    let added = 0;
    for (const r of local) {
      const { rowCount } = await this.link.query(
        `INSERT INTO hopscope_revocations (identity, token_id, at, by, reason, gateway)
         SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (
           SELECT 1 FROM hopscope_revocations WHERE identity IS NOT DISTINCT FROM $1 AND token_id IS NOT DISTINCT FROM $2)`,
        [r.identity ?? null, r.tokenId ?? null, r.at, r.by ?? null, r.reason ?? null, this.gateway]);
      added += rowCount ?? 0;
    }
    if (added) await this.link.notify('hopscope_revocation', 'adopted');
    return added;
  }
}

function fromRow(row: Row): FleetRevocation {
  return {
    id: Number(row.id), gateway: row.gateway, at: Number(row.at),
    ...(row.identity !== null ? { identity: row.identity } : {}), ...(row.token_id !== null ? { tokenId: row.token_id } : {}),
    ...(row.by !== null ? { by: row.by } : {}), ...(row.reason !== null ? { reason: row.reason } : {}),
  };
}
