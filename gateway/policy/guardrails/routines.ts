import type { CatalogSnapshot } from '../catalog.js';
import { glob } from '../rule-support.js';
import { BUILTIN_FUNCTIONS } from './builtin-functions.js';
import type { Call } from './facts.js';

const BUILTIN_SCHEMAS = new Set(['pg_catalog', 'information_schema']);

export type RoutineKind = 'builtin' | 'user' | 'unknown';

/**
 * Tells a built-in function from a user-defined one (code the gateway cannot
 * see). A schema-qualified name decides by its schema. An unqualified one is
 * user-defined when the catalog knows a function of that name outside
 * pg_catalog and information_schema (an overload or a search_path can pick it
 * over the built-in), built-in when only those schemas define it — or, without
 * the catalog's answer, when PostgreSQL 18 defines it — and unknown otherwise
 * (the guard asks for a catalog refresh, then treats it as user-defined).
 * Functions matching `sql.trustedFunctions` count as built-in.
 */
export class RoutineClassifier {
  private readonly trusted: RegExp[];

  constructor(trustedFunctions: readonly string[]) {
    this.trusted = trustedFunctions.map(glob);
  }

  classify(call: Call, catalog: CatalogSnapshot | undefined): RoutineKind {
    const { name, schema } = call;
    if (schema !== undefined) {
      if (BUILTIN_SCHEMAS.has(schema)) return 'builtin';
      return this.isTrusted(name, [schema]) ? 'builtin' : 'user';
    }
    const schemas = catalog?.functionsByName?.get(name)?.map((f) => f.schema);
    if (schemas && schemas.length > 0) {
      const user = schemas.filter((s) => !BUILTIN_SCHEMAS.has(s));
      return user.length === 0 || this.isTrusted(name, user) ? 'builtin' : 'user';
    }
    if (BUILTIN_FUNCTIONS.has(name)) return 'builtin';
    return this.isTrusted(name, []) ? 'builtin' : 'unknown';
  }

  /** A user-defined operator calls a user-defined function: the function it calls, or undefined for a built-in operator. */
  operatorCall(operator: string, catalog: CatalogSnapshot | undefined): string | undefined {
    const defined = catalog?.operatorsByName?.get(operator);
    const untrusted = defined?.find((o) => !this.isTrusted(o.functionName, [o.functionSchema]));
    return untrusted && `${untrusted.functionSchema}.${untrusted.functionName}`;
  }

  private isTrusted(name: string, schemas: readonly string[]): boolean {
    if (this.trusted.length === 0) return false;
    if (this.trusted.some((g) => g.test(name))) return true;
    return schemas.length > 0 && schemas.every((s) => this.trusted.some((g) => g.test(`${s}.${name}`)));
  }
}
