import type { MaskCounts } from './types.js';

/** What a pattern pass needs of its rule besides the (global) regex: the recognizer's validity check and the replacement. */
export interface PatternRule {
  name: string;
  accept: ((match: string) => boolean) | undefined;
  replacement: string;
}

/**
 * `text.replace(pattern, (m) => accepted ? replacement : m)`, counting the
 * replacements into `counts`, byte for byte what String.prototype.replace gives
 * with a global regex (ECMAScript RegExp.prototype[@@replace]): matches are found
 * from lastIndex 0 by exec, an empty match moves lastIndex on by one code unit
 * (one code point under the u or v flag), and the replacement is inserted as it
 * is (no `$` patterns, as with a replacer function). Written out because a
 * replace with a function goes through V8's runtime for every call: ~3× the
 * cost of exec on the short values of result rows, most of which match nothing
 * (issue 15). The text is returned itself when nothing was replaced.
 */
export function replacePattern(pattern: RegExp, rule: PatternRule, text: string, counts: MaskCounts): string {
  pattern.lastIndex = 0;
  let match = pattern.exec(text);
  if (match === null) return text;
  let out = '';
  let from = 0;
  let replaced = 0;
  do {
    const found = match[0];
    if (found === '') pattern.lastIndex = advance(text, pattern.lastIndex, pattern.flags);
    if (!rule.accept || rule.accept(found)) {
      out += text.slice(from, match.index) + rule.replacement;
      from = match.index + found.length;
      replaced++;
    }
    match = pattern.exec(text);
  } while (match !== null);
  if (replaced === 0) return text;
  counts[rule.name] = (counts[rule.name] ?? 0) + replaced;
  return out + text.slice(from);
}

/** AdvanceStringIndex: past one code unit, or past a surrogate pair when the regex reads code points. */
function advance(text: string, index: number, flags: string): number {
  if (!flags.includes('u') && !flags.includes('v')) return index + 1;
  if (index + 1 >= text.length) return index + 1;
  const lead = text.charCodeAt(index);
  const trail = text.charCodeAt(index + 1);
  return lead >= 0xd800 && lead <= 0xdbff && trail >= 0xdc00 && trail <= 0xdfff ? index + 2 : index + 1;
}
