// Counts of the adversarial PostgreSQL suite for docs/RELIABILITY.md: per class,
// the cases tried, how many held, how many leaked a seeded value, how many let a
// destructive statement run. Each test file writes its class to
// test-artifacts/adversarial-pg/<class>.json; the merged table of every class
// run so far goes to test-artifacts/adversarial-pg.json and is printed.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CaseResult {
  id: string;
  name: string;
  /** A hand-written case, or one of the generated variants. */
  kind: 'case' | 'variant';
  passed: boolean;
  /** Outside what the defence claims (reported, never failing the suite). */
  beyond?: string;
  leaks: string[];
  ran: string[];
  problems: string[];
}

export const CLASSES = {
  'c1-column-masking': 'column masking bypass',
  'c2-pattern-rules': 'pattern-rule bypass on unprotected columns',
  'c3-extended-protocol': 'extended protocol without / with a stale Describe',
  'c4-async-messages': 'asynchronous messages (notifications, parameter status)',
  'c5-encoding': 'client encoding hides a statement',
  'c6-wrapped-destructive': 'wrapped destructive statements',
  'c7-recording-truth': 'recording names the statement that ran',
  'c8-copy-dump': 'COPY and pg_dump through a masking gateway',
  'c9-transparency': 'transparency to real clients',
} as const;
export type ClassId = keyof typeof CLASSES;

const ARTIFACTS = join(process.cwd(), 'test-artifacts');
/** A control run (HOPSCOPE_ADVERSARIAL_CONTROL=1, no defences) writes apart, never into the real counts. */
const NAME = process.env.HOPSCOPE_ADVERSARIAL_CONTROL === '1' ? 'adversarial-pg-control' : 'adversarial-pg';
const DIR = join(ARTIFACTS, NAME);

export class ClassSummary {
  private readonly results: CaseResult[] = [];
  private readonly started = Date.now();
  /** `part`: a class spread over several test files writes one file per part; the table sums them. */
  constructor(readonly cls: ClassId, private readonly part = '') {}

  add(r: CaseResult): void {
    const at = this.results.findIndex((x) => x.id === r.id);
    if (at >= 0) this.results[at] = r;
    else this.results.push(r);
  }

  /** Writes this class's file and the merged table; returns the table as text. */
  write(): string {
    mkdirSync(DIR, { recursive: true });
    const failed = this.results.filter((r) => !r.passed);
    writeFileSync(join(DIR, `${this.cls}${this.part && `.${this.part}`}.json`), `${JSON.stringify({
      cls: this.cls, title: CLASSES[this.cls], at: new Date().toISOString(), seconds: (Date.now() - this.started) / 1000,
      ...counts(this.results), failed, passedNames: this.results.filter((r) => r.passed).map((r) => r.name),
    }, null, 2)}\n`);
    return writeMerged();
  }
}

function counts(results: CaseResult[]) {
  const claimed = results.filter((r) => !r.beyond);
  const beyond = results.filter((r) => r.beyond);
  return {
    cases: claimed.length,
    handWritten: claimed.filter((r) => r.kind === 'case').length,
    generated: claimed.filter((r) => r.kind === 'variant').length,
    passed: claimed.filter((r) => r.passed).length,
    leaked: claimed.filter((r) => r.leaks.length).length,
    destructiveRan: claimed.filter((r) => r.ran.length).length,
    otherFailures: claimed.filter((r) => !r.passed && !r.leaks.length && !r.ran.length).length,
    beyondClaims: { cases: beyond.length, failed: beyond.filter((r) => !r.passed).length },
  };
}

interface ClassFile { cls: ClassId; title: string; seconds: number; cases: number; handWritten: number; generated: number; passed: number; leaked: number; destructiveRan: number; otherFailures: number; beyondClaims: { cases: number; failed: number } }

function writeMerged(): string {
  const byClass = new Map<string, ClassFile>();
  for (const f of readdirSync(DIR).filter((x) => x.endsWith('.json')).sort()) {
    const part = JSON.parse(readFileSync(join(DIR, f), 'utf8')) as ClassFile;
    const sum = byClass.get(part.cls);
    if (!sum) { byClass.set(part.cls, part); continue; }
    for (const k of ['seconds', 'cases', 'handWritten', 'generated', 'passed', 'leaked', 'destructiveRan', 'otherFailures'] as const) sum[k] += part[k];
    sum.beyondClaims = { cases: sum.beyondClaims.cases + part.beyondClaims.cases, failed: sum.beyondClaims.failed + part.beyondClaims.failed };
  }
  const rows = [...byClass.values()];
  writeFileSync(join(ARTIFACTS, `${NAME}.json`), `${JSON.stringify({ at: new Date().toISOString(), rows: rows.map(({ cls, title, seconds, cases, handWritten, generated, passed, leaked, destructiveRan, otherFailures, beyondClaims }) => ({ cls, title, seconds, cases, handWritten, generated, passed, leaked, destructiveRan, otherFailures, beyondClaims })) }, null, 2)}\n`);
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [
    line(['class', 'cases (hand + generated)', 'held', 'leaked', 'destructive ran', 'other failures', 'beyond claims (failed)']),
    line(['---', '---', '---', '---', '---', '---', '---']),
    ...rows.map((r) => line([`${r.cls} ${r.title}`, `${r.cases} (${r.handWritten} + ${r.generated})`, r.passed, r.leaked, r.destructiveRan, r.otherFailures,
      `${r.beyondClaims.cases} (${r.beyondClaims.failed})`])),
  ].join('\n');
}
