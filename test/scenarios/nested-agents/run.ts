// Runs the nested-agents incident for real and writes its sealed recordings:
//   npm run scenario:nested-agents                                  (into out/scenarios/nested-agents)
//   npm run scenario:nested-agents -- --out examples/nested-agents  (regenerates the committed copy)
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from './environment.js';
import { runNestedAgents } from './scenario.js';

const { values } = parseArgs({ options: { out: { type: 'string' } } });
const out = resolve(values.out ?? resolve(repoRoot(), 'out', 'scenarios', 'nested-agents'));
try {
  const result = await runNestedAgents({ out, log: (line) => process.stderr.write(`scenario: ${line}\n`) });
  process.stdout.write([
    `root session (contractor-ci → build-host): ${result.rootSession}`,
    `approvals decided by alice: ${result.decided.map((d) => `${d.id} ${d.decision} (${d.operation})`).join('; ')}`,
    result.revokeOutput.trim(),
    `after the revocation: ${result.refusedAfterRevoke.trim()}`,
    `recordings: ${result.recordingsDir}`,
    `verify with: ./bin/hopscope verify ${result.recordingsDir} --key ${result.publicKeyPath}`,
    '',
  ].join('\n'));
} catch (err) {
  process.stderr.write(`scenario failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
}
