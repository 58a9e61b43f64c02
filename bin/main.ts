import { Command, CommanderError } from 'commander';
import { isHopscopeError } from '../common/errors.js';

/** A command used the wrong way: exit status 2. */
export class UsageError extends Error {}

/** Thrown by commands to exit with a status after printing their own report. */
export class ExitStatus extends Error {
  constructor(readonly status: number) {
    super(`exit ${status}`);
  }
}

type Register = (program: Command) => void;

/**
 * Each command's module, loaded only when needed: a command runs with its own module alone (`hopscope token issue`
 * does not load the gateway's listeners, the forensic store or the workbench's server), every module is loaded for
 * the overview (`hopscope --help`, `hopscope help X`, an unknown command). In the order of the overview.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  gateway: async () => (await import('./commands/gateway.js')).registerGateway,
  token: async () => (await import('./commands/token.js')).registerToken,
  verify: async () => (await import('./commands/verify.js')).registerVerify,
  approvals: async () => (await import('./commands/approvals.js')).registerApprovals,
  demo: async () => (await import('./commands/demo.js')).registerDemo,
  import: async () => (await import('./commands/import.js')).registerImport,
  sessions: async () => (await import('./commands/sessions.js')).registerSessions,
  chain: async () => (await import('./commands/chain.js')).registerChain,
  show: async () => (await import('./commands/show.js')).registerShow,
  export: async () => (await import('./commands/export.js')).registerExport,
  workbench: async () => (await import('./commands/workbench.js')).registerWorkbench,
  fleet: async () => (await import('./commands/fleet.js')).registerFleet,
};

/** The program with `command` registered, or with every command when it is not one of them (or not given). */
export async function buildProgram(command?: string): Promise<Command> {
  const program = new Command('hopscope')
    .description('Gateway and forensic workbench for nested agent sessions (PostgreSQL and SSH)')
    .showHelpAfterError()
    .exitOverride();
  const names = command !== undefined && Object.hasOwn(COMMANDS, command) ? [command] : Object.keys(COMMANDS);
  const registers = await Promise.all(names.map((name) => COMMANDS[name]!()));
  for (const register of registers) register(program);
  return program;
}

export async function run(argv: string[]): Promise<number> {
  try {
    await (await buildProgram(argv[2])).parseAsync(argv);
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
