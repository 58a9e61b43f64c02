export { createAdminServer, loadOrCreateAdminToken, ADMIN_TOKEN_FILE, type LiveSession } from './server.js';
export { GatewayMetrics } from './metrics.js';
export { LivePolicies } from './live-policies.js';
export { PolicyReloader, reachOf, type ReloadOutcome } from './reload.js';
export { checkConfig, type CheckedConfig } from './check.js';
