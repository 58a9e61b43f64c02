export { fleetRevocationActions } from './actions.js';
export { FleetMember } from './member.js';
export { MIGRATIONS, SCHEMA_VERSION, migrate } from './schema.js';
