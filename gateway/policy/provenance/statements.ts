/**
 * Statements refused outright while column masking is in scope: each would run
 * code or read data the rewrite cannot reach. Returns the reason, or undefined.
 * (Functions named by triggers, and functions created under a trusted name, are
 * judged in walk.ts, which has the catalog.)
 */
export function refusedStatement(type: string, body: Record<string, unknown>): string | undefined {
  switch (type) {
    case 'DoStmt':
      return 'a DO block runs SQL the gateway cannot see';
    case 'CreateEventTrigStmt':
    case 'CreateCastStmt':
    case 'CreateOpClassStmt':
    case 'CreateTransformStmt':
    case 'CreatePLangStmt':
    case 'CreateConversionStmt':
      return `${type.replace(/Stmt$/, '')} binds functions that run implicitly, unseen by the gateway`;
    case 'DefineStmt': {
      const kind = body.kind as string;
      return kind === 'OBJECT_AGGREGATE' || kind === 'OBJECT_OPERATOR' || kind === 'OBJECT_TYPE'
        ? `CREATE ${kind.slice(7)} binds functions that run implicitly, unseen by the gateway` : undefined;
    }
    case 'CreateForeignTableStmt':
    case 'ImportForeignSchemaStmt':
    case 'CreateForeignServerStmt':
    case 'AlterForeignServerStmt':
      return 'a foreign table reads data around the gateway (e.g. the protected table itself, over a loopback server)';
    case 'CopyStmt':
      return body.is_program === true ? 'COPY … PROGRAM runs a program that can reach the database around the gateway' : undefined;
    default:
      return undefined;
  }
}

/** Where a RangeVar that appears as a FROM item can be replaced by a masked subquery, by its field's name. */
export const FROM_ITEM_KEYS = new Set(['fromClause', 'usingClause', 'larg', 'rarg', 'sourceRelation']);

/** Relation names that create a relation (the session tracks them), by the path of their field. */
export const CREATION_PATHS = new Set(['CreateStmt.relation', 'CreateTableAsStmt.into.rel', 'SelectStmt.intoClause.rel', 'ViewStmt.view']);

/**
 * References that neither read nor expose column values (locks, grants,
 * maintenance, LIKE copies the definition only): left alone, not even resolved.
 */
export const HARMLESS_PATHS = new Set([
  'LockStmt.relations', 'TruncateStmt.relations', 'VacuumRelation.relation', 'ClusterStmt.relation', 'ReindexStmt.relation',
  'GrantStmt.objects', 'TableLikeClause.relation', 'RefreshMatViewStmt.relation', 'CommentStmt.object', 'SecLabelStmt.object',
  'DropStmt.objects', 'AlterOwnerStmt.relation',
]);

/** Write statements whose target is `relation`: it cannot become a subquery, so reads of it are checked instead. */
export const WRITE_STATEMENTS = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);
