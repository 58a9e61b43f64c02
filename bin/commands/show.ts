import type { Command } from 'commander';
import { resolveSessionId, showSession } from '../../forensics/index.js';
import { openCaseOrExit } from './case-options.js';

export function registerShow(program: Command): void {
  program
    .command('show')
    .description("one hop's commands and statements beside their masked responses, in time order, as text")
    .requiredOption('--db <file>', 'the case file')
    .requiredOption('--session <id>', 'the session (see `hopscope sessions`)')
    .addHelpText('after', '\n→ marks what the hop sent, ← what came back (as recorded: masked), !! a policy step;\n' +
      'a ? after the sequence number marks an event past a break in the recording (not evidence),\n' +
      'a ~ one in the unverified tail (after the last valid signature: not proven to be what the gateway wrote).')
    .action((opts: { db: string; session: string }) => {
      const c = openCaseOrExit(opts.db, true);
      try {
        for (const line of showSession(c, resolveSessionId(c, opts.session))) process.stdout.write(`${line}\n`);
      } finally {
        c.close();
      }
    });
}
