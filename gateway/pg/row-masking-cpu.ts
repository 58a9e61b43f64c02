// CPU per result row of RowMasker.mask, without PostgreSQL or sockets (issue 15): the rows of bench:pg's
// protected-column select (`SELECT id, name, email, ssn, card FROM customers`, the seed of bench/pg.ts) masked with
// the example's rules (email by column, ssn by a user pattern, card built-in), or (`builtins`) a wider row of free
// text under every built-in recognizer. CPU from process.cpuUsage, rounds interleaved with a warm-up first; take the
// least. `node dist/gateway/pg/row-masking-cpu.js [example|builtins] [rows per round] [rounds]`.
import { Masker } from '../policy/masking.js';
import { compileMasking } from '../policy/rules.js';
import { UTF8_ENCODING } from './encoding.js';
import { RowMasker } from './masking.js';
import { serializeBackend as backend, type FieldDescription } from './protocol/index.js';

const [workload = 'example', rowsText = '200000', roundsText = '5'] = process.argv.slice(2);
const ROWS = Number(rowsText);
const field = (name: string, dataTypeID: number): FieldDescription =>
  ({ name, tableID: 0, columnID: 0, dataTypeID, dataTypeSize: -1, dataTypeModifier: -1, format: 'text' });

const EXAMPLE_RULES = [
  { name: 'email', column: '*email*' },
  { name: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b' },
  { name: 'card', builtin: 'credit-card' },
];
const BUILTIN_RULES = ['email', 'credit-card', 'us-ssn', 'iban', 'aws-access-key', 'jwt', 'pem-private-key'].map((builtin) => ({ name: builtin, builtin }));

const pad = (n: number, width: number): string => String(n).padStart(width, '0');
/** bench/pg.ts seedCustomers, row i. */
function exampleRow(i: number): string[] {
  return [String(i), `Customer ${i}`, `user${i}@example.com`, `${pad(100 + (i % 800), 3)}-${pad(10 + (i % 89), 2)}-${pad(1000 + i, 4)}`, '4111111111111111'];
}
/** Free text as an application table holds it: mostly nothing to mask, now and then a value of some recognizer. */
function builtinRow(i: number): string[] {
  const note = i % 10 === 0 ? `call back, card 4111 1111 1111 1111` : i % 10 === 1 ? `key AKIAIOSFODNN7EXAMPLE rotated` : `order ${i} shipped on 2026-11-${pad(1 + (i % 28), 2)}, all good`;
  return [String(i), `Customer ${i}`, i % 7 === 0 ? `mail user${i}@example.com` : 'no contact', note, `plan-${i % 3}`];
}

const rules = compileMasking(workload === 'builtins' ? BUILTIN_RULES : EXAMPLE_RULES, 'row-masking-cpu');
const session = new Masker(rules).forSession('bench', 'db');
const masker = new RowMasker({ masker: session, protectedColumn: () => undefined, masksText: true, encoding: UTF8_ENCODING });
const fields = workload === 'builtins'
  ? [field('id', 23), field('name', 25), field('contact', 25), field('note', 25), field('plan', 25)]
  : [field('id', 23), field('name', 25), field('email', 25), field('ssn', 25), field('card', 25)];
masker.use(masker.columnsOf(backend.rowDescription(fields)));
const frames = Array.from({ length: 1000 }, (_, i) => backend.dataRow(workload === 'builtins' ? builtinRow(i + 1) : exampleRow(i + 1)));

function round(): number {
  const cpu = process.cpuUsage();
  let bytes = 0;
  for (let i = 0; i < ROWS; i++) {
    bytes += masker.mask(frames[i % frames.length]!).length;
    if (i % 1000 === 999) masker.take();
  }
  const used = process.cpuUsage(cpu);
  if (bytes === 0) throw new Error('no rows');
  return ((used.user + used.system) / ROWS);
}

round(); // warm-up: compile
const perRow = Array.from({ length: Number(roundsText) }, round);
console.log(`${workload}: ${ROWS} rows x ${perRow.length} rounds, CPU µs per row ${perRow.map((v) => v.toFixed(3)).join(' ')}; least ${Math.min(...perRow).toFixed(3)}`);
