/**
 * The SSH guardrails: judges an exec command or a completed shell line on the
 * facts the bash parser gives (cached per text). The most severe verdict wins:
 * a matching block/review rule, then the `shell.unresolved` default for what
 * cannot be known before run time, then `shell.uncertain` for a typed line
 * the gateway could not reconstruct for sure. An `allow` rule that matches
 * waives the unresolved default (an operator vouching for, say, one `eval`),
 * never another rule's block.
 */
import { inScope, type CompiledGuardrail } from '../rules.js';
import type { PolicyContext, Verdict } from '../types.js';
import { factsOf, type LineFacts } from './facts.js';
import { matchShell } from './match.js';

export type ShellDefault = 'allow' | 'review' | 'block';

export interface ShellDefaults {
  unresolved?: ShellDefault | undefined;
  uncertain?: ShellDefault | undefined;
}

const SEVERITY = { allow: 0, review: 1, block: 2 } as const;
const CACHE_SIZE = 2_000;
const MAX_TEXT = 256 * 1024;

export class ShellJudge {
  private readonly rules: CompiledGuardrail[];
  private readonly cache = new Map<string, LineFacts>();

  constructor(rules: CompiledGuardrail[], private readonly defaults: ShellDefaults = {}) {
    this.rules = rules.filter((r) => r.ssh);
  }

  /** Whether judging ever reads the parser: any SSH rule, or a default that is not `allow`. */
  get needsParser(): boolean {
    return this.rules.length > 0 || [this.defaults.unresolved, this.defaults.uncertain].some((d) => d !== undefined && d !== 'allow');
  }

  judge(ctx: PolicyContext, text: string, opts: { uncertain?: boolean } = {}): Verdict {
    const scoped = this.rules.filter((r) => inScope(r, ctx.identity, ctx.target));
    const fallback = scoped.length ? 'review' : 'allow';
    const unresolved = this.defaults.unresolved ?? fallback;
    const uncertain = this.defaults.uncertain ?? fallback;
    if (scoped.length === 0 && unresolved === 'allow' && (!opts.uncertain || uncertain === 'allow')) return { action: 'allow' };

    const facts = this.facts(text);
    const candidates: Verdict[] = [];
    let vouched = false;
    for (const rule of scoped) {
      const reason = matchShell(rule.ssh!, facts, text, ctx.uploads);
      if (reason === undefined) continue;
      if (rule.action === 'allow') vouched = true;
      else candidates.push({ action: rule.action, rule: rule.name, reason });
    }
    if (facts.unresolved.length && !vouched && unresolved !== 'allow') {
      candidates.push({ action: unresolved, rule: 'shell-unresolved',
        reason: `cannot be judged before it runs (${facts.unresolved.join('; ')}); shell.unresolved is ${unresolved}` });
    }
    if (opts.uncertain && uncertain !== 'allow') {
      candidates.push({ action: uncertain, rule: 'shell-uncertain',
        reason: `the gateway could not reconstruct the typed line for sure; shell.uncertain is ${uncertain}` });
    }
    let verdict: Verdict = { action: 'allow' };
    for (const c of candidates) if (SEVERITY[c.action] > SEVERITY[verdict.action]) verdict = c;
    return verdict;
  }

  /** The facts of a text, parsed once (LRU); a failure to parse at all is itself unresolved (fail closed). */
  facts(text: string): LineFacts {
    const hit = this.cache.get(text);
    if (hit) {
      this.cache.delete(text);
      this.cache.set(text, hit);
      return hit;
    }
    let facts: LineFacts;
    if (text.length > MAX_TEXT) {
      facts = { commands: [], feeds: [], runs: [], unresolved: [`the command is longer than ${MAX_TEXT} characters`] };
    } else {
      try {
        facts = factsOf(text);
      } catch (err) {
        facts = { commands: [], feeds: [], runs: [], unresolved: [`the shell parser failed: ${(err as Error).message}`] };
      }
    }
    if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(text, facts);
    return facts;
  }
}
