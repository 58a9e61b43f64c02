import { z } from 'zod';
import { regex } from './rule-support.js';

/** What an SSH guardrail matches (the `ssh:` of a guardrail rule). */
export const ShellMatcherSchema = z.object({ pattern: z.string().min(1) }).strict();

export type CompiledShellMatcher = RegExp;

export function compileShellMatcher(ssh: z.infer<typeof ShellMatcherSchema>, where: string): CompiledShellMatcher {
  return regex(ssh.pattern, '', where);
}
