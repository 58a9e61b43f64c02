export { createAdminServer, loadOrCreateAdminToken, ADMIN_TOKEN_FILE, type LiveSession } from './server.js';
export { GatewayMetrics } from './metrics.js';
