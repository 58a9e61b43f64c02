// Sums the self time of a V8 CPU profile by function: `node dist/bench/profile-summary.js FILE.cpuprofile [--top 40]`.
// How issue 15's profiles were taken (commit the method, never the profiles):
// - the gateway under pgbench or bench:ssh: `node dist/bench/pg.js … --gateway-node-args='--cpu-prof --cpu-prof-dir=/tmp/prof'`
//   (bench:ssh takes the same option), one profile per child gateway;
// - the import alone: `node --cpu-prof --cpu-prof-dir=/tmp/prof dist/bench/import.js --phase import DIR CASE.db "$(cat DATA/key/*.pub)"`
//   writes one profile for the main thread and one for the write thread (a worker); summarise each.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '40' } } });
for (const path of positionals) {
  const p = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    const f = byId.get(id)!.callFrame;
    const file = f.url.replace(/^.*\/(dist|node_modules)\//, '$1/');
    const key = `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  console.log(`${path}: ${(total / 1e6).toFixed(2)} s sampled`);
  for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    console.log(`${(us / 1e3).toFixed(0).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`);
  }
}
