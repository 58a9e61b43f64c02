// Red team (session 8) masking helpers: the plain sequential passes the prefilters
// must equal, the texts that attack them, and the SSH output of a recording.
import type { CompiledMasking } from '../../gateway/policy/rules.js';
import type { MaskCounts } from '../../gateway/policy/types.js';
export { seededRandom as random } from '../helpers/random.js';

/** Masking as it was before the fast paths: every pattern rule, String.prototype.replace with a function, in order. */
export function plainPasses(rules: CompiledMasking[], input: string): { text: string; counts: MaskCounts } {
  const counts: MaskCounts = {};
  let text = input;
  for (const rule of rules) {
    if (!rule.pattern) continue;
    text = text.replace(rule.pattern, (m: string) => {
      if (rule.accept && !rule.accept(m)) return m;
      counts[rule.name] = (counts[rule.name] ?? 0) + 1;
      return rule.replacement;
    });
  }
  return { text, counts };
}

/** Real values of each built-in. */
export const VALUES = [
  '123-45-6789', 'alice.smith@example.org', '4111 1111 1111 1111', '4111-1111-1111-1111', '4111111111111111',
  'GB82WEST12345698765432', 'GB82 WEST 1234 5698 7654 32', 'AKIAIOSFODNN7EXAMPLE',
  'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
  '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----',
];

/**
 * Look-alikes and neighbours of the characters values are made of: other Unicode digits
 * (Arabic-Indic, Devanagari, full-width), dashes (hyphen, non-breaking hyphen, en dash,
 * minus), at-signs (full-width, small), full-width letters, combining marks, zero-width
 * characters, NUL, U+FFFD, lone surrogates, latin1 bytes read as characters.
 */
export const ODD = [
  '\u0663', '\u0966', '\uff11', '\uff10', '\u2010', '\u2011', '\u2013', '\u2212', '\uff20', '\ufe6b', '\uff21', '\uff41',
  '\u0301', '\u0338', '\u200b', '\u200d', '\ufeff', '\u0000', '\ufffd', '\ud800', '\udc00', '\u00a0', '\u00ff', '\u00c3',
  '\u0085', '\u2028', 'İ', 'ſ', 'K', '\n', ' ', '-', '@', '.', '0', 'A', 'z',
];

/** Values with odd characters around and inside them: at each position, one replaced or inserted, at the edges. */
export function attackTexts(next: () => number): string[] {
  const out: string[] = [];
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  for (const v of VALUES) {
    for (let i = 0; i <= v.length; i++) {
      const odd = pick(ODD);
      out.push(v.slice(0, i) + odd + v.slice(i)); // inserted
      if (i < v.length) out.push(v.slice(0, i) + odd + v.slice(i + 1)); // replaced
    }
    for (const odd of ODD) out.push(odd + v + odd, `${odd}${odd}${v}`, `${v}${odd}${odd}`);
  }
  return out;
}

/** The output bytes of an SSH session recording (ssh.output events, decoded), in order. */
export function sshOutputOf(recording: string): Buffer {
  const parts: Buffer[] = [];
  for (const line of recording.split('\n')) {
    if (!line.includes('"type":"ssh.output"')) continue;
    const data = (JSON.parse(line) as { data: { data?: string; encoding?: string } }).data;
    if (data.data === undefined) continue;
    parts.push(Buffer.from(data.data, data.encoding === 'base64' ? 'base64' : 'utf8'));
  }
  return Buffer.concat(parts);
}
