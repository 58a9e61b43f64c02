/**
 * Statement node names of the PostgreSQL 18 parser (libpg-query 18), from @pgsql/types 18
 * (every `*Stmt` interface but RawStmt).
 * A guardrail naming anything else is a configuration error.
 */
export const STATEMENT_TYPES: ReadonlySet<string> = new Set([
  'AlterCollationStmt', 'AlterDatabaseRefreshCollStmt', 'AlterDatabaseSetStmt', 'AlterDatabaseStmt', 'AlterDefaultPrivilegesStmt',
  'AlterDomainStmt', 'AlterEnumStmt', 'AlterEventTrigStmt', 'AlterExtensionContentsStmt', 'AlterExtensionStmt',
  'AlterFdwStmt', 'AlterForeignServerStmt', 'AlterFunctionStmt', 'AlterObjectDependsStmt', 'AlterObjectSchemaStmt',
  'AlterOpFamilyStmt', 'AlterOperatorStmt', 'AlterOwnerStmt', 'AlterPolicyStmt', 'AlterPublicationStmt',
  'AlterRoleSetStmt', 'AlterRoleStmt', 'AlterSeqStmt', 'AlterStatsStmt', 'AlterSubscriptionStmt',
  'AlterSystemStmt', 'AlterTSConfigurationStmt', 'AlterTSDictionaryStmt', 'AlterTableMoveAllStmt', 'AlterTableSpaceOptionsStmt',
  'AlterTableStmt', 'AlterTypeStmt', 'AlterUserMappingStmt', 'CallStmt', 'CheckPointStmt',
  'ClosePortalStmt', 'ClusterStmt', 'CommentStmt', 'CompositeTypeStmt', 'ConstraintsSetStmt',
  'CopyStmt', 'CreateAmStmt', 'CreateCastStmt', 'CreateConversionStmt', 'CreateDomainStmt',
  'CreateEnumStmt', 'CreateEventTrigStmt', 'CreateExtensionStmt', 'CreateFdwStmt', 'CreateForeignServerStmt',
  'CreateForeignTableStmt', 'CreateFunctionStmt', 'CreateOpClassStmt', 'CreateOpFamilyStmt', 'CreatePLangStmt',
  'CreatePolicyStmt', 'CreatePublicationStmt', 'CreateRangeStmt', 'CreateRoleStmt', 'CreateSchemaStmt',
  'CreateSeqStmt', 'CreateStatsStmt', 'CreateStmt', 'CreateSubscriptionStmt', 'CreateTableAsStmt',
  'CreateTableSpaceStmt', 'CreateTransformStmt', 'CreateTrigStmt', 'CreateUserMappingStmt', 'CreatedbStmt',
  'DeallocateStmt', 'DeclareCursorStmt', 'DefineStmt', 'DeleteStmt', 'DiscardStmt',
  'DoStmt', 'DropOwnedStmt', 'DropRoleStmt', 'DropStmt', 'DropSubscriptionStmt',
  'DropTableSpaceStmt', 'DropUserMappingStmt', 'DropdbStmt', 'ExecuteStmt', 'ExplainStmt',
  'FetchStmt', 'GrantRoleStmt', 'GrantStmt', 'ImportForeignSchemaStmt', 'IndexStmt',
  'InsertStmt', 'ListenStmt', 'LoadStmt', 'LockStmt', 'MergeStmt',
  'NotifyStmt', 'PLAssignStmt', 'PrepareStmt', 'ReassignOwnedStmt', 'RefreshMatViewStmt',
  'ReindexStmt', 'RenameStmt', 'ReplicaIdentityStmt', 'ReturnStmt', 'RuleStmt',
  'SecLabelStmt', 'SelectStmt', 'SetOperationStmt', 'TransactionStmt', 'TruncateStmt',
  'UnlistenStmt', 'UpdateStmt', 'VacuumStmt', 'VariableSetStmt', 'VariableShowStmt',
  'ViewStmt',
]);
