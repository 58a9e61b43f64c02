export { loadConfig, parseConfig, type LoadedConfig, type GatewayConfig } from './config.js';
export { startGateway, type RunningGateway, type StartOptions } from './server.js';
export { checkConfig, type CheckedConfig, type ReloadOutcome } from './admin/index.js';
