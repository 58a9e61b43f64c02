/**
 * Where an interpreter takes its program from: inline code (`sh -c`,
 * `python3 -c`, `perl -e`, `node -e`, `php -r`, an awk program), a script
 * file (`bash x.sh`, `bash <(…)`), or stdin (`sh`, `sh -s`, `python3 -`).
 */
import { isProgram, type Language } from './programs.js';
import { literalWord, type Word } from './words.js';

export interface CodeSource {
  /** The interpreter reads its program from stdin. */
  stdin: boolean;
  /** Inline code words (several for `perl -e a -e b`). */
  code: Word[];
  /** The script file it runs (a path, or a process substitution). */
  script: Word | undefined;
}

interface InlineSpec {
  /** Short options whose argument is inline code. */
  code: string;
  /** Long options whose argument is inline code. */
  longCode?: string[];
  /** Short options whose argument is a script file. */
  file?: string;
  /** Short options that take some other argument (attached or next). */
  arg?: string;
  /** Long options that take an argument in the next word. */
  long?: string[];
  /** Short options after which the rest is not a script (python -m module). */
  module?: string;
  /** Without a script argument the program text comes from stdin (false for awk: its first word is the program). */
  firstWordIsCode?: boolean;
}

const SPECS: [string[], InlineSpec][] = [
  [['python', 'pypy'], { code: 'c', arg: 'WXQ', module: 'm', long: ['check-hash-based-pycs'] }],
  [['perl'], { code: 'eE', arg: 'IMmxiCdl0DV' }],
  [['ruby', 'jruby'], { code: 'e', arg: 'IrCEFKTWx0' }],
  [['node', 'nodejs'], { code: 'ep', longCode: ['eval', 'print'], arg: 'rC', long: ['require', 'import', 'input-type', 'loader', 'conditions', 'experimental-loader'] }],
  [['php'], { code: 'rBRE', file: 'fF', arg: 'dczt' }],
  [['lua', 'luajit'], { code: 'e', arg: 'lj' }],
  [['awk', 'gawk', 'mawk', 'nawk'], { code: 'e', longCode: ['source'], file: 'f', arg: 'vFWo', long: ['assign', 'field-separator', 'file', 'include', 'load'], firstWordIsCode: true }],
  [['expect'], { code: 'c', file: 'f', arg: 'bD' }],
  [['Rscript', 'R'], { code: 'e', long: ['file'] }],
  [['osascript'], { code: 'e', arg: 'l' }],
  [['pwsh', 'powershell'], { code: 'c', longCode: ['Command', 'command'], file: 'f', long: ['File', 'file'] }],
];

export function codeSource(program: string, language: Language, args: readonly Word[]): CodeSource {
  if (language === 'shell') return shellSource(args);
  const spec = SPECS.find(([names]) => names.some((n) => isProgram(program, n)))?.[1] ?? { code: '' };
  return inlineSource(spec, args);
}

/** sh/bash/zsh…: `-c code` (also in a group: `-ec`, `-lc`), `-s` or no operand: stdin; else the first operand is the script. */
function shellSource(args: readonly Word[]): CodeSource {
  let codeNext = false;
  let stdin = false;
  for (let i = 0; i < args.length; i++) {
    const v = args[i]!.value;
    if (v === undefined) return codeNext ? { stdin, code: [args[i]!], script: undefined } : { stdin, code: [], script: args[i] };
    if (v === '--' || v === '-') {
      const rest = args[i + 1];
      if (codeNext) return { stdin, code: rest ? [rest] : [], script: undefined };
      return v === '-' ? { stdin: true, code: [], script: undefined } : { stdin: stdin || !rest, code: [], script: rest };
    }
    if (/^--(rcfile|init-file)$/.test(v) || /^[-+][oO]$/.test(v)) {
      i++;
      continue;
    }
    if (v === '--command' || v === '-C') { // fish --command, a few shells' long form
      return { stdin, code: args[i + 1] ? [args[i + 1]!] : [], script: undefined };
    }
    if (v.startsWith('--command=')) return { stdin, code: [literalWord(v.slice(10))], script: undefined };
    if (v.startsWith('--')) continue;
    if (/^[-+][a-zA-Z]+$/.test(v)) {
      if (v.includes('c')) codeNext = true;
      if (v.includes('s')) stdin = true;
      continue;
    }
    if (codeNext) return { stdin, code: [args[i]!], script: undefined };
    return stdin ? { stdin, code: [], script: undefined } : { stdin: false, code: [], script: args[i] };
  }
  return { stdin: !codeNext || stdin, code: [], script: undefined };
}

function inlineSource(spec: InlineSpec, args: readonly Word[]): CodeSource {
  const code: Word[] = [];
  let script: Word | undefined;
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    const v = w.value;
    if (v === undefined) return done(w);
    if (v === '-') return { stdin: true, code, script: undefined };
    if (v === '--') return done(args[i + 1]);
    if (v.startsWith('--')) {
      const [name, attached] = [v.slice(2).split('=')[0]!, v.includes('=') ? v.slice(v.indexOf('=') + 1) : undefined];
      if (spec.longCode?.includes(name)) {
        if (attached !== undefined) code.push(literalWord(attached));
        else if (args[++i]) code.push(args[i]!);
      } else if (attached === undefined && spec.long?.includes(name)) {
        if (name === 'file') script = args[++i];
        else i++;
      }
      continue;
    }
    if (v.length > 1 && v.startsWith('-')) {
      for (let k = 1; k < v.length; k++) {
        const c = v[k]!;
        const kind = spec.code.includes(c) ? 'code' : spec.file?.includes(c) ? 'file' : spec.module?.includes(c) ? 'module' : spec.arg?.includes(c) ? 'arg' : undefined;
        if (!kind) continue;
        const rest = v.slice(k + 1);
        const value = rest ? literalWord(rest) : args[++i];
        if (kind === 'module') return { stdin: false, code, script: undefined };
        if (kind === 'code' && value) code.push(value);
        if (kind === 'file' && value) script = value;
        break;
      }
      continue;
    }
    return done(w);
  }
  return done(undefined);

  function done(operand: Word | undefined): CodeSource {
    if (code.length || script) return { stdin: false, code, script };
    if (spec.firstWordIsCode) return { stdin: false, code: operand ? [operand] : [], script: undefined };
    if (operand?.value !== undefined && operand.value === '-') return { stdin: true, code, script: undefined };
    return operand ? { stdin: false, code, script: operand } : { stdin: true, code, script: undefined };
  }
}
