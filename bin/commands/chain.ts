import type { Command } from 'commander';
import { buildChain, chainDot, chainJson, chainMermaid, chainText, resolveSessionId } from '../../forensics/index.js';
import { openCaseOrExit, usageError } from './case-options.js';

const RENDER = { text: chainText, json: chainJson, dot: chainDot, mermaid: chainMermaid } as const;

export function registerChain(program: Command): void {
  program
    .command('chain')
    .description('the hop graph: from each root identity, its sessions and the hops they spawned, with link kinds and evidence')
    .requiredOption('--db <file>', 'the case file')
    .option('--format <format>', 'text | json | dot | mermaid', 'text')
    .option('--session <id>', 'only the chain that contains this session')
    .addHelpText('after', '\n--format json adds "answers": who triggered each chain, the commands per hop, sensitive fields returned\n' +
      '(masked or not) and to which hop, blocked/held/approved/denied operations, and integrity.')
    .action((opts: { db: string; format: string; session?: string }) => {
      const render = RENDER[opts.format as keyof typeof RENDER];
      if (!render) usageError(`unknown format ${opts.format}: use text, json, dot or mermaid`);
      const c = openCaseOrExit(opts.db, true);
      try {
        process.stdout.write(render(buildChain(c, { session: opts.session === undefined ? undefined : resolveSessionId(c, opts.session) })));
      } finally {
        c.close();
      }
    });
}
