import { Command, CommanderError } from 'commander';
import { isHopscopeError } from '../common/errors.js';
import { registerGateway } from './commands/gateway.js';
import { registerToken } from './commands/token.js';
import { registerVerify } from './commands/verify.js';
import { registerDemo } from './commands/demo.js';
import { registerImport } from './commands/import.js';
import { registerSessions } from './commands/sessions.js';
import { registerChain } from './commands/chain.js';
import { registerShow } from './commands/show.js';
import { registerExport } from './commands/export.js';
import { registerApprovals } from './commands/approvals.js';
import { registerWorkbench } from './commands/workbench.js';
import { registerFleet } from './commands/fleet.js';

/** A command used the wrong way: exit status 2. */
export class UsageError extends Error {}

/** Thrown by commands to exit with a status after printing their own report. */
export class ExitStatus extends Error {
  constructor(readonly status: number) {
    super(`exit ${status}`);
  }
}

export function buildProgram(): Command {
  const program = new Command('hopscope')
    .description('Gateway and forensic workbench for nested agent sessions (PostgreSQL and SSH)')
    .showHelpAfterError()
    .exitOverride();
  registerGateway(program);
  registerToken(program);
  registerVerify(program);
  registerApprovals(program);
  registerDemo(program);
  registerImport(program);
  registerSessions(program);
  registerChain(program);
  registerShow(program);
  registerExport(program);
  registerWorkbench(program);
  registerFleet(program);
  return program;
}

export async function run(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof ExitStatus) return err.status;
    // Commander has printed its message (unknown command or option, missing argument): a usage error, as ours.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UsageError) {
      process.stderr.write(`hopscope: ${err.message}\n`);
      return 2;
    }
    const message = isHopscopeError(err) || err instanceof Error ? err.message : String(err);
    process.stderr.write(`hopscope: ${message}\n`);
    return 1;
  }
}
