/**
 * Destructive DDL a guardrail can name beyond statement types (the `operations:`
 * of a SQL matcher): what one statement does to existing objects, read from its
 * parse tree. A statement may do several (ALTER TABLE t DROP COLUMN a CASCADE:
 * drop, drop-column, cascade).
 */
export const OPERATIONS: Readonly<Record<string, string>> = {
  drop: 'any DROP: DROP TABLE/VIEW/FUNCTION/…, DROP DATABASE/ROLE/OWNED/…, ALTER … DROP COLUMN/CONSTRAINT',
  'drop-column': 'ALTER TABLE … DROP COLUMN (ALTER TYPE … DROP ATTRIBUTE)',
  'alter-column-type': 'ALTER TABLE … ALTER COLUMN … TYPE',
  'drop-constraint': 'ALTER TABLE/DOMAIN … DROP CONSTRAINT',
  'drop-default': 'ALTER TABLE … ALTER COLUMN … DROP DEFAULT',
  'drop-not-null': 'ALTER TABLE … ALTER COLUMN … DROP NOT NULL',
  'drop-identity': 'ALTER TABLE … ALTER COLUMN … DROP IDENTITY / DROP EXPRESSION',
  rename: 'any RENAME (tables, columns, schemas, …)',
  'rename-table': 'ALTER TABLE/VIEW/MATERIALIZED VIEW/FOREIGN TABLE … RENAME TO',
  'rename-column': 'ALTER TABLE … RENAME COLUMN (ALTER TYPE … RENAME ATTRIBUTE)',
  'set-schema': 'ALTER … SET SCHEMA',
  'detach-partition': 'ALTER TABLE … DETACH PARTITION',
  'drop-inherit': 'ALTER TABLE … NO INHERIT',
  cascade: 'DROP/TRUNCATE/ALTER … CASCADE',
  truncate: 'TRUNCATE',
  'set-unlogged': 'ALTER TABLE … SET UNLOGGED (contents lost on a crash)',
  'disable-trigger': 'ALTER TABLE … DISABLE TRIGGER, ALTER EVENT TRIGGER … DISABLE',
  'disable-rule': 'ALTER TABLE … DISABLE RULE',
  'disable-row-security': 'ALTER TABLE … DISABLE / NO FORCE ROW LEVEL SECURITY',
  'change-owner': 'ALTER … OWNER TO',
  'or-replace': 'CREATE OR REPLACE (FUNCTION, VIEW, RULE, TRIGGER, …): replaces an existing object',
};

const ALTER_TABLE: Record<string, string[]> = {
  AT_DropColumn: ['drop', 'drop-column'],
  AT_AlterColumnType: ['alter-column-type'],
  AT_DropConstraint: ['drop', 'drop-constraint'],
  AT_DropNotNull: ['drop-not-null'],
  AT_DropIdentity: ['drop-identity'],
  AT_DropExpression: ['drop-identity'],
  AT_DetachPartition: ['detach-partition'],
  AT_DetachPartitionFinalize: ['detach-partition'],
  AT_DropInherit: ['drop-inherit'],
  AT_SetUnLogged: ['set-unlogged'],
  AT_DisableTrig: ['disable-trigger'],
  AT_DisableTrigAll: ['disable-trigger'],
  AT_DisableTrigUser: ['disable-trigger'],
  AT_DisableRule: ['disable-rule'],
  AT_DisableRowSecurity: ['disable-row-security'],
  AT_NoForceRowSecurity: ['disable-row-security'],
  AT_ChangeOwner: ['change-owner'],
};

const RELATIONS = new Set(['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_FOREIGN_TABLE']);
const DROPS = new Set(['DropStmt', 'DropdbStmt', 'DropRoleStmt', 'DropOwnedStmt', 'DropSubscriptionStmt', 'DropTableSpaceStmt', 'DropUserMappingStmt']);

type Node = Record<string, unknown>;

/** The destructive operations one statement (its node name and body) performs. */
export function operationsOf(type: string, body: Node): Set<string> {
  const ops = new Set<string>();
  if (body.behavior === 'DROP_CASCADE') ops.add('cascade');
  if (body.replace === true) ops.add('or-replace');
  if (DROPS.has(type)) ops.add('drop');
  switch (type) {
    case 'TruncateStmt':
      ops.add('truncate');
      break;
    case 'AlterTableStmt':
      for (const cmd of (body.cmds as { AlterTableCmd?: Node }[] | undefined) ?? []) {
        const c = cmd.AlterTableCmd;
        if (!c) continue;
        for (const op of ALTER_TABLE[c.subtype as string] ?? []) ops.add(op);
        if (c.subtype === 'AT_ColumnDefault' && c.def === undefined) ops.add('drop-default');
        if (c.behavior === 'DROP_CASCADE') ops.add('cascade');
      }
      break;
    case 'AlterDomainStmt':
      if (body.subtype === 'X') ops.add('drop').add('drop-constraint');
      if (body.subtype === 'T' && body.def === undefined) ops.add('drop-default');
      if (body.subtype === 'N') ops.add('drop-not-null');
      break;
    case 'RenameStmt':
      ops.add('rename');
      if (body.renameType === 'OBJECT_COLUMN' || body.renameType === 'OBJECT_ATTRIBUTE') ops.add('rename-column');
      if (RELATIONS.has(body.renameType as string)) ops.add('rename-table');
      break;
    case 'AlterObjectSchemaStmt':
      ops.add('set-schema');
      break;
    case 'AlterOwnerStmt':
      ops.add('change-owner');
      break;
    case 'AlterEventTrigStmt':
      if (body.tgenabled === 'D') ops.add('disable-trigger');
      break;
  }
  return ops;
}
