/**
 * JavaScript regular expressions (as the output scanner runs them) translated to
 * PostgreSQL advanced regular expressions (AREs), so that a pattern rule can be
 * applied at the source, inside the masked projection, by regexp_replace().
 *
 * The translation is by construct, never by copying text: every character class
 * becomes an explicit set of code points (JavaScript's `\d \w \s` and `.` are
 * ASCII digits, ASCII word characters, its own list of spaces and "anything but a
 * line terminator"; PostgreSQL's are locale-dependent), every literal that is not
 * a letter, digit or space is written as an escape (PostgreSQL reads `[:`, `{`,
 * `\x…` and `***` differently). What cannot be carried faithfully is refused
 * with the reason: backreferences, named groups, quantified assertions, flags
 * other than g and i, bounds over PostgreSQL's 255, classes that match nothing.
 *
 * Two differences are by design, and both can only widen what is masked:
 * - `\b` and `\B` are dropped (a value glued to a letter or a digit has no word
 *   boundary, as for the output form, see rules.ts withoutWordBoundaries);
 * - lazy quantifiers become greedy: PostgreSQL decides greediness for the whole
 *   expression, so a lazy one could make it stop earlier than JavaScript does;
 *   greedy, PostgreSQL takes the longest match at the leftmost position, which
 *   contains the one JavaScript takes there.
 * Lookbehind needs PostgreSQL 9.6 or later.
 */

import { classOf, complement, LINE_TERMINATORS, literal, normalize, SHORTHANDS, subtract, UntranslatablePattern, type ClassSet, type Range } from './are-sets.js';

export { UntranslatablePattern } from './are-sets.js';

/** A translated pattern: the ARE and the flags for regexp_replace (`g`, or `gi`). */
export interface AreForm {
  source: string;
  flags: string;
}

/** PostgreSQL's bound on {n,m}. */
const MAX_BOUND = 255;

export function toAre(source: string, flags: string): AreForm {
  const unsupported = [...flags].filter((f) => f !== 'g' && f !== 'i');
  if (unsupported.length) throw new UntranslatablePattern(`flag ${unsupported.join('')} has no faithful PostgreSQL form (only g and i do)`);
  const parser = new Parser(source);
  const are = parser.disjunction();
  if (parser.pos < source.length) throw new UntranslatablePattern(`unbalanced ) at offset ${parser.pos}`);
  return { source: are, flags: flags.includes('i') ? 'gi' : 'g' };
}

class Parser {
  pos = 0;

  constructor(private readonly src: string) {}

  private peek(offset = 0): string | undefined {
    return this.src[this.pos + offset];
  }

  private fail(what: string): never {
    throw new UntranslatablePattern(`${what} (at offset ${this.pos}) cannot be translated faithfully to a PostgreSQL regular expression`);
  }

  disjunction(): string {
    const branches = [this.alternative()];
    while (this.peek() === '|') {
      this.pos++;
      branches.push(this.alternative());
    }
    return branches.join('|');
  }

  private alternative(): string {
    let out = '';
    while (this.pos < this.src.length && this.peek() !== '|' && this.peek() !== ')') out += this.term();
    return out;
  }

  private term(): string {
    const c = this.peek()!;
    if (c === '^' || c === '$') {
      this.pos++;
      return this.noQuantifier(c, 'an anchor');
    }
    if (c === '\\' && (this.peek(1) === 'b' || this.peek(1) === 'B')) {
      this.pos += 2;
      return this.noQuantifier('', 'a word boundary'); // dropped: see the module comment
    }
    if (c === '(' && this.peek(1) === '?' && (this.peek(2) === '=' || this.peek(2) === '!' || (this.peek(2) === '<' && (this.peek(3) === '=' || this.peek(3) === '!')))) {
      const head = this.peek(2) === '<' ? `(?<${this.peek(3)}` : `(?${this.peek(2)}`;
      this.pos += head.length;
      const body = this.disjunction();
      this.expect(')');
      return this.noQuantifier(`${head}${body})`, 'an assertion');
    }
    const atom = this.atom();
    return atom + this.quantifier(atom);
  }

  private noQuantifier(out: string, what: string): string {
    if (this.quantifierAhead()) this.fail(`a quantified ${what}`);
    return out;
  }

  private expect(ch: string): void {
    if (this.peek() !== ch) this.fail(`a missing ${ch}`);
    this.pos++;
  }

  private atom(): string {
    const c = this.peek()!;
    this.pos++;
    switch (c) {
      case '.': return classOf({ ranges: LINE_TERMINATORS, negated: true });
      case '[': return this.characterClass();
      case '\\': return this.escape();
      case '(': {
        let head = '(';
        if (this.peek() === '?') {
          if (this.peek(1) !== ':') this.fail('a named group');
          head = '(?:';
          this.pos += 2;
        }
        const body = this.disjunction();
        this.expect(')');
        return `${head}${body})`;
      }
      case '{':
        if (this.quantifierAt(this.pos - 1)) this.fail('a quantifier with nothing to repeat');
        return literal(c.charCodeAt(0));
      case '*': case '+': case '?':
        return this.fail('a quantifier with nothing to repeat');
      default:
        return this.literalAt(c);
    }
  }

  /** A literal code unit; a surrogate pair is one code point (quantifying its second half alone is refused). */
  private literalAt(c: string): string {
    const unit = c.charCodeAt(0);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const low = this.src.charCodeAt(this.pos);
      if (!(low >= 0xdc00 && low <= 0xdfff)) this.fail('a lone surrogate');
      this.pos++;
      if (this.quantifierAhead()) this.fail('a quantifier on half of a surrogate pair');
      return literal(0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00));
    }
    if (unit >= 0xdc00 && unit <= 0xdfff) this.fail('a lone surrogate');
    return literal(unit);
  }

  private escape(): string {
    const c = this.peek();
    if (c === undefined) this.fail('a trailing backslash');
    const set = this.classEscape();
    if (set) return classOf(set);
    return literal(this.characterEscape());
  }

  /** `\d \D \w \W \s \S` as code point sets (the backslash already read), or undefined. */
  private classEscape(): ClassSet | undefined {
    const c = this.peek()!;
    const base = SHORTHANDS[c.toLowerCase()];
    if (!base) return undefined;
    this.pos++;
    return { ranges: base, negated: c !== c.toLowerCase() };
  }

  /** The code point of a character escape (the backslash already read). */
  private characterEscape(): number {
    const c = this.peek()!;
    this.pos++;
    const simple: Record<string, number> = { t: 9, n: 10, v: 11, f: 12, r: 13 };
    if (simple[c] !== undefined) return simple[c];
    if (c === '0' && !/[0-9]/.test(this.peek() ?? '')) this.fail('\\0 (NUL, which PostgreSQL text cannot hold)');
    if (/[0-9]/.test(c)) this.fail(`a backreference or octal escape (\\${c})`);
    if (c === 'k' && this.peek() === '<') this.fail('a named backreference');
    if (c === 'c') {
      if (!/[A-Za-z]/.test(this.peek() ?? '')) this.fail('\\c without a control letter');
      return this.src.charCodeAt(this.pos++) % 32;
    }
    if (c === 'x' && /^[0-9A-Fa-f]{2}$/.test(this.src.slice(this.pos, this.pos + 2))) {
      this.pos += 2;
      return parseInt(this.src.slice(this.pos - 2, this.pos), 16);
    }
    if (c === 'u' && /^[0-9A-Fa-f]{4}$/.test(this.src.slice(this.pos, this.pos + 4))) {
      const unit = parseInt(this.src.slice(this.pos, this.pos + 4), 16);
      this.pos += 4;
      if (unit >= 0xd800 && unit <= 0xdbff && /^\\u[dD][c-fC-F][0-9A-Fa-f]{2}$/.test(this.src.slice(this.pos, this.pos + 6))) {
        const low = parseInt(this.src.slice(this.pos + 2, this.pos + 6), 16);
        this.pos += 6;
        if (this.quantifierAhead()) this.fail('a quantifier on half of a surrogate pair');
        return 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
      }
      if (unit >= 0xd800 && unit <= 0xdfff) this.fail('a lone surrogate');
      return unit;
    }
    // An identity escape (`\.`, `\-`, or a letter with no meaning, which JavaScript reads as itself).
    const unit = c.charCodeAt(0);
    if (unit >= 0xd800 && unit <= 0xdfff) this.fail('an escaped surrogate');
    return unit;
  }

  /**
   * `[…]`: the union of its items, where `\D \W \S` are complements. A union with
   * a complement is a complement (of what no complement leaves out, minus the
   * plain items), so every class is one set or one negated set.
   */
  private characterClass(): string {
    let negated = false;
    if (this.peek() === '^') {
      negated = true;
      this.pos++;
    }
    const items: (number | ClassSet)[] = [];
    while (this.peek() !== ']') {
      if (this.peek() === undefined) this.fail('an unterminated class');
      const lo = this.classAtom();
      if (this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== undefined) {
        this.pos++;
        const hi = this.classAtom();
        if (typeof lo === 'number' && typeof hi === 'number') {
          items.push({ ranges: [[lo, hi]], negated: false });
          continue;
        }
        items.push(lo, 0x2d, hi); // Annex B: `[\d-x]` is the class, a hyphen and x
        continue;
      }
      items.push(lo);
    }
    this.pos++;
    const sets = items.map((i) => (typeof i === 'number' ? { ranges: [[i, i]] as Range[], negated: false } : i));
    const plain = normalize(sets.filter((x) => !x.negated).flatMap((x) => x.ranges));
    const complements = sets.filter((x) => x.negated);
    let union: ClassSet = { ranges: plain, negated: false };
    if (complements.length) {
      // P ∪ ¬N1 ∪ ¬N2 … = ¬((N1 ∩ N2 …) \ P)
      let excluded = normalize(complements[0]!.ranges);
      for (const c of complements.slice(1)) excluded = subtract(excluded, complement(c.ranges));
      union = { ranges: subtract(excluded, plain), negated: true };
    }
    return classOf(negated ? { ranges: union.ranges, negated: !union.negated } : union);
  }

  private classAtom(): number | ClassSet {
    const c = this.peek()!;
    this.pos++;
    if (c !== '\\') {
      const unit = c.charCodeAt(0);
      if (unit >= 0xd800 && unit <= 0xdfff) this.fail('a surrogate in a class');
      return unit;
    }
    if (this.peek() === 'b') {
      this.pos++;
      return 8; // backspace, in a class
    }
    if (this.peek() === '-') {
      this.pos++;
      return 0x2d;
    }
    return this.classEscape() ?? this.characterEscape();
  }

  private quantifierAhead(): boolean {
    const c = this.peek();
    return c === '*' || c === '+' || c === '?' || (c === '{' && this.quantifierAt(this.pos) !== null);
  }

  private quantifierAt(at: number): RegExpExecArray | null {
    return /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(at));
  }

  /** The quantifier after an atom, greedy (a lazy `?` suffix is dropped: see the module comment). */
  private quantifier(atom: string): string {
    const c = this.peek();
    let out: string;
    if (c === '*' || c === '+' || c === '?') {
      this.pos++;
      out = c;
    } else if (c === '{' && this.quantifierAt(this.pos)) {
      const m = this.quantifierAt(this.pos)!;
      this.pos += m[0].length;
      const [min, max] = [Number(m[1]), m[3] ? Number(m[3]) : undefined];
      if (min > MAX_BOUND || (max ?? 0) > MAX_BOUND) this.fail(`a bound over ${MAX_BOUND} (${m[0]})`);
      out = m[0];
    } else {
      return '';
    }
    if (atom === '') this.fail('a quantifier with nothing to repeat');
    if (this.peek() === '?') this.pos++;
    if (this.quantifierAhead()) this.fail('a quantifier on a quantifier');
    return out;
  }
}

/** Text that regexp_replace() inserts as is (`\` and `&` are special in its replacement). */
export function replacementText(text: string): string {
  return text.replace(/[\\&]/g, '\\$&');
}
