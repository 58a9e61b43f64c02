import { z } from 'zod';
import { configError, regex } from './rule-support.js';
import { languageOf, PROGRAM_GROUPS, SHELL_BUILTINS } from './shell/programs.js';

const Names = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

/**
 * What an SSH guardrail matches (the `ssh:` of a guardrail rule), judged on the
 * bash parser's reading of an exec command or a completed shell line. Every key
 * given must hold (`args` narrows `programs`; `from` and `decoded` narrow `pipeTo`):
 * - `pattern`: a regular expression over the raw text and over each command
 *   after quote removal and unwrapping (`c''url x` is tested as `curl x`);
 * - `programs`: a command runs one of these programs (by name, wherever it is
 *   and however it is spelled, wrappers included) — names or the groups
 *   `interpreter`, `shell`, `downloader`; `args`: regular expressions that
 *   must all match its arguments (joined by spaces);
 * - `pipeTo`: code reaches an interpreter from elsewhere in the line (a pipe,
 *   `<(…)`, `$(…)` as its code, a here-string or heredoc built at run time, a
 *   file the line wrote): `interpreter`, `shell`, or interpreter names;
 * - `from`: that code carries the output of these programs (names or groups);
 * - `decoded: true`: that code passed through a decoder (base64 -d, xxd -r, …);
 * - `runsUpload: true`: a command runs a file uploaded in this session (sftp,
 *   scp), matched by path or by basename (the working directory is unknown).
 */
export const ShellMatcherSchema = z.object({
  pattern: z.string().min(1).optional(),
  programs: Names.optional(),
  args: z.array(z.string().min(1)).min(1).optional(),
  pipeTo: Names.optional(),
  from: Names.optional(),
  decoded: z.literal(true).optional(),
  runsUpload: z.literal(true).optional(),
}).strict();

export interface CompiledShellMatcher {
  pattern: RegExp | undefined;
  programs: string[] | undefined;
  args: RegExp[] | undefined;
  /** Interpreter names, or 'any' for the interpreter group (a downloaded file run directly counts). */
  pipeTo: string[] | 'any' | undefined;
  from: string[] | undefined;
  decoded: boolean;
  runsUpload: boolean;
  /** The matcher as configured, for reasons. */
  source: string;
}

const PROGRAM_NAME = /^[A-Za-z0-9_+][A-Za-z0-9._+-]*$|^\.$/;

export function compileShellMatcher(ssh: z.infer<typeof ShellMatcherSchema>, where: string): CompiledShellMatcher {
  const keys = Object.keys(ssh);
  if (keys.length === 0) throw configError(`${where}: ssh: give at least one of pattern, programs, pipeTo, from, decoded, runsUpload`);
  if (ssh.args && !ssh.programs) throw configError(`${where}: ssh.args narrows programs: give programs too`);
  const feedKeys = ssh.pipeTo !== undefined || ssh.from !== undefined || ssh.decoded !== undefined;
  let pipeTo: CompiledShellMatcher['pipeTo'];
  if (ssh.pipeTo === 'interpreter' || (feedKeys && ssh.pipeTo === undefined)) pipeTo = 'any';
  else if (ssh.pipeTo !== undefined) {
    pipeTo = names(ssh.pipeTo, 'pipeTo', where);
    for (const n of pipeTo) {
      if (!languageOf(n) && !SHELL_BUILTINS.includes(n)) throw configError(`${where}: ssh.pipeTo: ${n} is not an interpreter the shell judge knows (give interpreter, shell, or names like sh, bash, python3, perl)`);
    }
  }
  return {
    pattern: ssh.pattern === undefined ? undefined : regex(ssh.pattern, '', where),
    programs: ssh.programs === undefined ? undefined : names(ssh.programs, 'programs', where),
    args: ssh.args?.map((a) => regex(a, '', `${where}: ssh.args`)),
    pipeTo,
    from: ssh.from === undefined ? undefined : names(ssh.from, 'from', where),
    decoded: ssh.decoded === true,
    runsUpload: ssh.runsUpload === true,
    source: JSON.stringify(ssh),
  };
}

/** Program names with the groups expanded; a path or pattern is a configuration error (names are matched after resolution). */
function names(value: string | string[], key: string, where: string): string[] {
  const out: string[] = [];
  for (const n of typeof value === 'string' ? [value] : value) {
    if (Object.hasOwn(PROGRAM_GROUPS, n)) out.push(...PROGRAM_GROUPS[n]!);
    else if (!PROGRAM_NAME.test(n)) {
      throw configError(`${where}: ssh.${key}: ${JSON.stringify(n)} is not a program name (give names like curl or the groups ${Object.keys(PROGRAM_GROUPS).join(', ')}; paths and wrappers are resolved before matching)`);
    } else if (typeof value === 'string') {
      throw configError(`${where}: ssh.${key}: ${n} is not a group (${Object.keys(PROGRAM_GROUPS).join(', ')}); give program names as a list: [${n}]`);
    } else out.push(n === '.' ? 'source' : n);
  }
  return out;
}
