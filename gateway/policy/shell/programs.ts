/**
 * What the judge knows about programs by name: which interpret code (and in
 * what language), which fetch from the network, which decode or transform the
 * text that passes through them. Names are basenames; a version suffix counts
 * as the same program (`python3.11` is a `python3` and a `python`).
 */
import type { Word } from './words.js';

export type Language = 'shell' | 'awk' | 'other';

const SHELLS = ['sh', 'bash', 'dash', 'zsh', 'ksh', 'ksh93', 'mksh', 'pdksh', 'oksh', 'ash', 'yash', 'posh', 'rbash', 'fish', 'tcsh', 'csh'];
const OTHER_INTERPRETERS = ['python', 'pypy', 'perl', 'ruby', 'jruby', 'node', 'nodejs', 'php', 'lua', 'luajit', 'tclsh', 'wish', 'expect', 'Rscript', 'R', 'pwsh', 'powershell', 'osascript', 'jjs', 'groovy'];
const AWKS = ['awk', 'gawk', 'mawk', 'nawk'];
/** Shell builtins that run code in the current shell: `eval`, `source` (`.` is recorded as `source`). */
export const SHELL_BUILTINS = ['eval', 'source'];
const DOWNLOADERS = ['curl', 'wget', 'wget2', 'fetch', 'aria2c', 'axel', 'lftp', 'ftp', 'tftp', 'nc', 'ncat', 'netcat', 'socat', 'telnet',
  'http', 'https', 'xh', 'curlie', 'lwp-request', 'lwp-download', 'GET'];

/** Names a rule may use for a set of programs. */
export const PROGRAM_GROUPS: Record<string, readonly string[]> = {
  shell: [...SHELLS, ...SHELL_BUILTINS],
  interpreter: [...SHELLS, ...SHELL_BUILTINS, ...OTHER_INTERPRETERS, ...AWKS],
  downloader: DOWNLOADERS,
};

/** `python3.11` is a `python3` and a `python`; `sha256sum` is not an `sh`. */
export function isProgram(program: string, name: string): boolean {
  return program === name || (program.startsWith(name) && /^[0-9][0-9.]*$/.test(program.slice(name.length)));
}

function oneOf(program: string, names: readonly string[]): boolean {
  return names.some((n) => isProgram(program, n));
}

/** The language a program interprets, or undefined when it is not an interpreter. */
export function languageOf(program: string): Language | undefined {
  if (oneOf(program, SHELLS)) return 'shell';
  if (oneOf(program, AWKS)) return 'awk';
  if (oneOf(program, OTHER_INTERPRETERS) || /^(python|pypy|perl|ruby|php|lua)[0-9.]*(-[a-z]+)?$/.test(program)) return 'other';
  return undefined;
}

/** Files a program's text can be read from as stdin. */
export const STDIN_PATHS = new Set(['-', '/dev/stdin', '/proc/self/fd/0', '/dev/fd/0']);

/**
 * Whether this stage decodes or transforms the text passing through it
 * (base64 -d, xxd -r, openssl … -d, gzip -d, rev, tr, sed, printf with
 * escapes, echo -e): code that reaches an interpreter after it was not
 * readable in the line.
 */
export function decodes(program: string, args: readonly Word[]): boolean {
  const values = args.map((a) => a.value ?? a.text);
  const has = (re: RegExp) => values.some((v) => re.test(v));
  switch (program) {
    case 'base64': case 'base32': case 'basenc':
      return has(/^(-[a-zA-Z]*[dD][a-zA-Z]*|--decode)$/);
    case 'xxd':
      return has(/^-[a-zA-Z]*r/);
    case 'openssl':
      return has(/^(-d|-decrypt|-base64|-a|-A|base64|enc|dec.*)$/);
    case 'gpg': case 'gpg2':
      return has(/^(-[a-zA-Z]*d|--decrypt)$/);
    case 'gzip': case 'bzip2': case 'xz': case 'zstd': case 'lz4': case 'brotli': case 'lzma': case 'pigz':
      return has(/^(-[a-zA-Z]*d[a-zA-Z]*|--decompress|--uncompress)$/);
    case 'gunzip': case 'zcat': case 'bzcat': case 'bunzip2': case 'xzcat': case 'unxz': case 'unzstd': case 'zstdcat': case 'lz4cat':
    case 'uudecode': case 'uncompress': case 'rev': case 'tr': case 'sed': case 'recode': case 'iconv':
      return true;
    case 'printf':
      return has(/\\(x|[0-7]|u|U)|%b/);
    case 'echo':
      return values.some((v) => /^-[a-zA-Z]*e/.test(v)) && has(/\\/);
    default:
      return false;
  }
}

/** The file a download writes when it is told to save under the URL's name (curl -O, wget without -O). */
export function urlBasename(url: string): string | undefined {
  const path = url.replace(/[?#].*$/, '').replace(/^[a-z]+:\/\/[^/]*/i, '');
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base || undefined;
}
