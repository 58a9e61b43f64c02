export { fleetRevocationActions } from './actions.js';
export { FleetMember, type FleetGateway } from './member.js';
export { MIGRATIONS, SCHEMA_VERSION, migrate } from './schema.js';
