// The adversarial PostgreSQL fixture: a real PostgreSQL 18 logging every
// statement, seeded with the example database (customers with emails, SSNs,
// Luhn-valid cards and notes holding an SSN; orders; scratch), and gateways in
// front of it configured like examples/gateway.yml. The guardrails and the `sql`
// section are read from examples/gateway.yml itself, so the suite judges the
// configuration the project ships; the approvals timeout is short, so a review
// nobody approves is denied (counted as not run) within a second.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { startTestGateway, type TestGateway } from '../../helpers/gateway.js';
import { startPostgres, type PgServer } from '../../helpers/postgres.js';
import { SEED_SQL } from './seed.js';

export * from './seed.js';
export { Harness, type CaseContext, type CaseOptions } from './harness.js';
export { fe, WireClient, noticeFields, rowDescription, dataRow, summarize, type BeMessage } from './wire-client.js';

/** Which masking rules a gateway runs with. */
export type MaskingVariant =
  /** `[schema.]table.column` rules for customers' email, ssn and card; pattern rules for SSNs and card numbers. */
  | 'by-table'
  /** The bare-name rule of examples/gateway.yml (`*email*`, any table) with the same pattern rules, applied at customers' text columns too (`columns:`). */
  | 'bare-name';

const PATTERN_RULES = [
  { name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b' },
  { name: 'card', builtin: 'credit-card' },
];

/**
 * HOPSCOPE_ADVERSARIAL_CONTROL=1 runs the suite against a gateway with no masking and
 * no guardrails: every case that attacks something must then fail, which shows the
 * checks can fail (a control run, never part of npm test).
 */
export const CONTROL_RUN = process.env.HOPSCOPE_ADVERSARIAL_CONTROL === '1';

export function maskingRules(variant: MaskingVariant): Record<string, unknown>[] {
  if (CONTROL_RUN) return [];
  // As examples/gateway.yml: the pattern rules are also applied at the source, to customers' text columns.
  if (variant === 'bare-name') return [{ name: 'email', column: '*email*' }, ...PATTERN_RULES.map((r) => ({ ...r, columns: ['customers.*'] }))];
  return [
    { name: 'email', column: 'customers.email' },
    { name: 'ssn-column', column: 'customers.ssn' },
    { name: 'card-column', column: 'customers.card' },
    ...PATTERN_RULES,
  ];
}

/** The policy sections of examples/gateway.yml this suite takes as they are. */
export function examplePolicies(): Record<string, unknown> {
  const example = parseYaml(readFileSync(join(process.cwd(), 'examples', 'gateway.yml'), 'utf8')) as Record<string, unknown>;
  const out: Record<string, unknown> = { guardrails: CONTROL_RUN ? [] : example.guardrails ?? [] };
  if (example.sql !== undefined) out.sql = example.sql;
  return out;
}

export interface AdversarialPg {
  db: PgServer;
  /** The target's app role, straight to PostgreSQL (seeding, victims, state checks). */
  direct(): Promise<pg.Client>;
  /** Gateways by masking variant, started on demand, all in front of `db`. */
  gateway(variant?: MaskingVariant): Promise<TestGateway>;
  stop(): Promise<void>;
}

export const APPROVALS_TIMEOUT = '1s';

export async function startAdversarialPg(opts: { seed?: boolean } = {}): Promise<AdversarialPg> {
  const db = await startPostgres({ logStatements: true });
  const direct = async () => {
    const c = new pg.Client(db.app);
    await c.connect();
    return c;
  };
  if (opts.seed !== false) {
    const c = await direct();
    await c.query(SEED_SQL);
    await c.end();
  }
  const gateways = gatewaysOf(db);
  return {
    db,
    direct,
    gateway: gateways.gateway,
    async stop() {
      await gateways.stop();
      await db.stop();
    },
  };
}

/** One gateway per masking variant in front of `db`, started on first use (the example's policies, a short approval timeout). */
export function gatewaysOf(db: PgServer): { gateway(variant?: MaskingVariant): Promise<TestGateway>; stop(): Promise<void> } {
  const gateways = new Map<MaskingVariant, Promise<TestGateway>>();
  return {
    gateway(variant = 'by-table') {
      let gw = gateways.get(variant);
      if (!gw) {
        gw = startTestGateway(db, { masking: maskingRules(variant), ...examplePolicies(), approvals: { timeout: APPROVALS_TIMEOUT } });
        gateways.set(variant, gw);
      }
      return gw;
    },
    async stop() {
      for (const gw of gateways.values()) await (await gw.catch(() => undefined))?.stop();
    },
  };
}
