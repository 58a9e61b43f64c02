/** Whether one SSH matcher holds for a line's facts, and why (the reason the client and the recording get). */
import type { CompiledShellMatcher } from '../shell-matcher.js';
import { basename, normalizePath, type Feed, type LineFacts } from './facts.js';
import { isProgram } from './programs.js';

export function matchShell(m: CompiledShellMatcher, facts: LineFacts, raw: string, uploads: ReadonlyMap<string, string> | undefined): string | undefined {
  const reasons: string[] = [];
  if (m.pattern) {
    const pattern = m.pattern;
    const line = pattern.test(raw) ? raw : facts.commands.find((c) => pattern.test(c.line))?.line;
    if (line === undefined) return undefined;
    reasons.push(line === raw ? `the command matches ${pattern}` : `${line} matches ${pattern}`);
  }
  if (m.programs) {
    const programs = m.programs;
    const args = m.args;
    const hit = facts.commands.find((c) => c.chain.some((p) => programs.some((n) => isProgram(p, n)))
      && (!args || args.every((a) => a.test(c.args.join(' ')))));
    if (!hit) return undefined;
    reasons.push(`runs ${hit.line}`);
  }
  if (m.pipeTo) {
    const feed = facts.feeds.find((f) => feedMatches(m, f));
    if (!feed) return undefined;
    reasons.push(describeFeed(feed));
  }
  if (m.runsUpload) {
    const hit = runOfUpload(facts.runs, uploads);
    if (!hit) return undefined;
    reasons.push(`runs ${hit.run}, a file uploaded in this session as ${hit.path} (sha256 ${hit.sha256.slice(0, 16)}…)`);
  }
  return reasons.join('; ');
}

function feedMatches(m: CompiledShellMatcher, f: Feed): boolean {
  if (m.pipeTo !== 'any' && (f.direct || !m.pipeTo!.some((n) => isProgram(f.interpreter, n)))) return false;
  if (m.from && !f.from.some((p) => m.from!.some((n) => isProgram(p, n)))) return false;
  if (m.decoded && !f.decoded) return false;
  return true;
}

const VIA: Record<Feed['via'], string> = {
  pipe: 'through a pipe',
  'here-string': 'through a here-string',
  heredoc: 'through a heredoc',
  'process-substitution': 'through a process substitution',
  'command-substitution': 'as a command substitution',
  file: 'through a file written in the same line',
};

function describeFeed(f: Feed): string {
  const from = f.from.length ? `output of ${f.from.join(', ')}` : 'code';
  const decoded = f.decoded ? ', decoded on the way,' : '';
  return f.direct ? `runs ${f.interpreter}, written in the same line from the ${from}`
    : `the ${from}${decoded} reaches the interpreter ${f.interpreter} ${VIA[f.via]}`;
}

/** Runs are matched to uploads by normalized path, or by basename since the working directory is not known. */
export function runOfUpload(runs: readonly string[], uploads: ReadonlyMap<string, string> | undefined): { run: string; path: string; sha256: string } | undefined {
  if (!uploads?.size) return undefined;
  for (const run of runs) {
    const norm = normalizePath(run);
    for (const [path, sha256] of uploads) {
      const up = normalizePath(path);
      if (up === norm || basename(up) === basename(norm)) return { run, path, sha256 };
    }
  }
  return undefined;
}
