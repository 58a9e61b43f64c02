import type { ControlPlaneLink } from './link.js';

/**
 * How long the control plane keeps a session after it ended, and an approval after it was decided. Nothing reads
 * them after that: the recordings are the history. A revocation follows the lineage through ended sessions, so an
 * ended session is kept, however old, while any live session descends from it.
 */
export const RETAIN_ENDED_SECONDS = 3600;

/** How often a gateway prunes (each gateway of the fleet does; the deletes are idempotent). */
export const PRUNE_EVERY_MS = 10 * 60_000;

export interface Pruned { sessions: number; approvals: number }

/**
 * Deletes what the fleet no longer needs: sessions ended more than `retainSeconds` ago that are not an ancestor of a
 * live session, and approvals decided more than `retainSeconds` ago. Without it the tables grow with every session
 * the fleet ever admitted, and the revocation query (a recursive walk of the lineage) with them.
 */
export async function pruneControlPlane(link: ControlPlaneLink, retainSeconds = RETAIN_ENDED_SECONDS): Promise<Pruned> {
  const sessions = await link.query(
    `WITH RECURSIVE ancestor(id) AS (
       SELECT parent FROM hopscope_sessions WHERE ended_at IS NULL AND parent IS NOT NULL
       UNION
       SELECT s.parent FROM hopscope_sessions s JOIN ancestor a ON s.id = a.id WHERE s.parent IS NOT NULL
     )
     DELETE FROM hopscope_sessions s
      WHERE s.ended_at < now() - make_interval(secs => $1)
        AND NOT EXISTS (SELECT 1 FROM ancestor a WHERE a.id = s.id)`, [retainSeconds]);
  const approvals = await link.query(
    'DELETE FROM hopscope_approvals WHERE decision IS NOT NULL AND decided_at < now() - make_interval(secs => $1)', [retainSeconds]);
  return { sessions: sessions.rowCount ?? 0, approvals: approvals.rowCount ?? 0 };
}
