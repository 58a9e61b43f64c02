import type { PostgresTargetConfig } from '../config.js';
import type { TargetCatalog } from '../policy/catalog.js';

/**
 * One catalog per PostgreSQL target, read over a side connection with the
 * gateway's own credentials and shared by that target's sessions.
 * OWNER: the pg-provenance work package implements it (this is the stub the
 * session wiring codes against).
 */
export function catalogFor(target: PostgresTargetConfig): TargetCatalog {
  void target;
  return { snapshot: undefined, refresh: () => Promise.reject(new Error('the target catalog is not implemented yet')) };
}
