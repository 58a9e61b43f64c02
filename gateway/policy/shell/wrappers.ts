/**
 * Programs that run another program: `env`, `sudo`, `exec`, `nice`, `xargs`,
 * `ssh host cmd`… Unwrapping an argv gives the chain of programs it runs,
 * outermost first, and the one that finally runs with its own arguments.
 */
import type { Word } from './words.js';

export interface Invocation {
  /** Program names (basenames), outermost first: `sudo -E bash -s` → sudo, bash. */
  chain: string[];
  /** Each of `chain` as written after quote removal (`/usr/bin/sudo`). */
  paths: string[];
  /** The index of the word naming the program that finally runs; undefined when the wrappers run nothing or only a shell. */
  program: number | undefined;
  /** Why the program that runs is not known before run time. */
  unresolved?: string;
  /** A wrapper runs a shell that reads its commands from stdin (`sudo -s`, `su`, `chroot DIR`, `ssh host`). */
  shellOnStdin: boolean;
  /** Shell code a wrapper hands to a shell (`su -c`, `ssh host cmd`, `env -S`, `watch`, `flock -c`), as words to join with spaces. */
  nestedCode: Word[][];
  /** `xargs`: the program's arguments come from stdin. */
  stdinAsArgs: boolean;
}

interface Options {
  /** Short options that take an argument (attached or in the next word). */
  arg?: string;
  /** Long options that take an argument in the next word when not given as --name=value. */
  long?: string[];
  /** `-5` style numeric options (nice). */
  numeric?: boolean;
  /** NAME=value words after the options set the environment (env, sudo). */
  assignments?: boolean;
}

/** The index of the first word after the options. A word only known at run time ends the options. */
export function skipOptions(words: readonly Word[], i: number, spec: Options): number {
  while (i < words.length) {
    const v = words[i]!.value;
    if (v === undefined) return i;
    if (v === '--') return i + 1;
    if (v.startsWith('--') && v.length > 2) {
      i += !v.includes('=') && spec.long?.includes(v.slice(2)) ? 2 : 1;
      continue;
    }
    if (v.length > 1 && v.startsWith('-')) {
      let next = 1;
      if (!(spec.numeric && /^-\d+$/.test(v))) {
        for (let k = 1; k < v.length; k++) {
          if (spec.arg?.includes(v[k]!)) {
            if (k === v.length - 1) next = 2;
            break;
          }
        }
      }
      i += next;
      continue;
    }
    if (spec.assignments && /^[A-Za-z_][A-Za-z0-9_]*=/.test(v)) {
      i++;
      continue;
    }
    return i;
  }
  return i;
}

type Unwrapped =
  | { next: number; shellIfNone?: boolean }
  | { code: Word[] }
  | { shell: true }
  | { none: true };

const flagIn = (words: readonly Word[], from: number, to: number, re: RegExp) =>
  words.slice(from, to).some((w) => w.value !== undefined && re.test(w.value));

/** Where the wrapped command starts, or what the wrapper runs instead. */
const WRAPPERS: Record<string, (words: readonly Word[], i: number) => Unwrapped> = {
  env: (w, i) => {
    for (let k = i; k < w.length; k++) {
      const v = w[k]!.value;
      if (v === '-S' || v === '--split-string') return { code: w.slice(k + 1) };
      if (v?.startsWith('--split-string=')) return { code: [{ ...w[k]!, value: v.slice(15) }, ...w.slice(k + 1)] };
      if (v?.startsWith('-S') && !v.startsWith('--')) return { code: [{ ...w[k]!, value: v.slice(2) }, ...w.slice(k + 1)] };
      if (v === undefined || !(v.startsWith('-') || v.includes('='))) break;
    }
    return { next: skipOptions(w, i, { arg: 'uCP', long: ['unset', 'chdir'], assignments: true }) };
  },
  sudo: (w, i) => {
    const next = skipOptions(w, i, { arg: 'ughpCDrtUTR', long: ['user', 'group', 'host', 'prompt', 'close-from', 'chdir', 'role', 'type', 'other-user', 'command-timeout'], assignments: true });
    if (flagIn(w, i, next, /^-[a-zA-Z]*e|^--edit$/)) return { none: true };
    return { next, shellIfNone: flagIn(w, i, next, /^-[a-zA-Z]*[si]|^--(shell|login)$/) };
  },
  doas: (w, i) => {
    const next = skipOptions(w, i, { arg: 'uCa' });
    return { next, shellIfNone: flagIn(w, i, next, /^-[a-zA-Z]*s/) };
  },
  su: (w, i) => suLike(w, i),
  runuser: (w, i) => (flagIn(w, i, w.length, /^-u$|^--user$/) && !flagIn(w, i, w.length, /^-c|^--command/)
    ? { next: skipOptions(w, i, { arg: 'ugGsw', long: ['user', 'group', 'supp-group', 'shell', 'whitelist-environment'] }) }
    : suLike(w, i)),
  exec: (w, i) => ({ next: skipOptions(w, i, { arg: 'a' }) }),
  command: (w, i) => {
    const next = skipOptions(w, i, {});
    return flagIn(w, i, next, /^-[a-zA-Z]*[vV]/) ? { none: true } : { next };
  },
  builtin: (_w, i) => ({ next: i }),
  nice: (w, i) => ({ next: skipOptions(w, i, { arg: 'n', long: ['adjustment'], numeric: true }) }),
  nohup: (w, i) => ({ next: skipOptions(w, i, {}) }),
  setsid: (w, i) => ({ next: skipOptions(w, i, {}) }),
  time: (w, i) => ({ next: skipOptions(w, i, { arg: 'fo', long: ['format', 'output'] }) }),
  stdbuf: (w, i) => ({ next: skipOptions(w, i, { arg: 'ioe', long: ['input', 'output', 'error'] }) }),
  ionice: (w, i) => ({ next: skipOptions(w, i, { arg: 'cnpPu', long: ['class', 'classdata', 'pid', 'pgid', 'uid'] }) }),
  timeout: (w, i) => ({ next: skipOptions(w, i, { arg: 'sk', long: ['signal', 'kill-after'] }) + 1 }),
  taskset: (w, i) => ({ next: skipOptions(w, i, {}) + 1 }),
  chrt: (w, i) => ({ next: skipOptions(w, i, { arg: 'TPD', long: ['sched-runtime', 'sched-period', 'sched-deadline'] }) + 1 }),
  chroot: (w, i) => ({ next: skipOptions(w, i, { long: ['userspec', 'groups'] }) + 1, shellIfNone: true }),
  unshare: (w, i) => ({ next: skipOptions(w, i, { arg: 'SGRwC', long: ['setuid', 'setgid', 'root', 'wd'] }), shellIfNone: true }),
  nsenter: (w, i) => ({ next: skipOptions(w, i, { arg: 'tSGrw', long: ['target', 'setuid', 'setgid'] }), shellIfNone: true }),
  'systemd-run': (w, i) => ({ next: skipOptions(w, i, { arg: 'pEMHu', long: ['property', 'setenv', 'machine', 'host', 'unit', 'uid', 'gid', 'working-directory', 'description', 'slice'] }) }),
  xargs: (w, i) => ({ next: skipOptions(w, i, { arg: 'adEILnPs', long: ['arg-file', 'delimiter', 'eof', 'replace', 'max-lines', 'max-args', 'max-procs', 'max-chars', 'process-slot-var'] }) }),
  flock: (w, i) => {
    const at = skipOptions(w, i, { arg: 'wEn', long: ['timeout', 'conflict-exit-code'] }) + 1;
    const v = w[at]?.value;
    if (v === '-c' || v === '--command') return { code: w.slice(at + 1, at + 2) };
    return { next: at };
  },
  sg: (w, i) => {
    const at = i + 1;
    return { code: w[at]?.value === '-c' ? w.slice(at + 1, at + 2) : w.slice(at) };
  },
  script: (w, i) => {
    const at = w.findIndex((x, k) => k >= i && (x.value === '-c' || x.value === '--command'));
    return at >= 0 ? { code: w.slice(at + 1, at + 2) } : { shell: true };
  },
  watch: (w, i) => ({ code: w.slice(skipOptions(w, i, { arg: 'nq', long: ['interval', 'differences', 'chgexit', 'equexit'] })) }),
  ssh: (w, i) => {
    const host = skipOptions(w, i, { arg: 'BbcDEeFIiJLlmOoPpQRSWw' });
    if (flagIn(w, i, host, /^-[a-zA-Z]*[NWO]/)) return { none: true };
    const rest = w.slice(host + 1);
    return rest.length ? { code: rest } : { shell: true };
  },
  busybox: (_w, i) => ({ next: i }),
  toybox: (_w, i) => ({ next: i }),
  unbuffer: (w, i) => ({ next: skipOptions(w, i, {}) }),
  proxychains: (w, i) => ({ next: skipOptions(w, i, { arg: 'f' }) }),
  proxychains4: (w, i) => ({ next: skipOptions(w, i, { arg: 'f' }) }),
  torsocks: (w, i) => ({ next: skipOptions(w, i, { arg: 'uPpa' }) }),
  strace: (w, i) => ({ next: skipOptions(w, i, { arg: 'abeEIoOpPsSuUX' }) }),
  ltrace: (w, i) => ({ next: skipOptions(w, i, { arg: 'aAeEflnoOpsSuxX' }) }),
  fakeroot: (w, i) => ({ next: skipOptions(w, i, { arg: 'ils', long: ['lib', 'faked'] }) }),
};

/** `su [-] [user] [-c code]`: the code runs in the user's shell; without -c that shell reads stdin. */
function suLike(w: readonly Word[], i: number): Unwrapped {
  for (let k = i; k < w.length; k++) {
    const v = w[k]!.value;
    if (v === '-c' || v === '--command' || v === '--session-command') return { code: w.slice(k + 1, k + 2) };
    if (v?.startsWith('--command=')) return { code: [{ ...w[k]!, value: v.slice(10) }] };
  }
  return { shell: true };
}

export function isWrapper(name: string): boolean {
  return Object.hasOwn(WRAPPERS, name);
}

export function unwrap(words: readonly Word[]): Invocation {
  const inv: Invocation = { chain: [], paths: [], program: undefined, shellOnStdin: false, nestedCode: [], stdinAsArgs: false };
  let i = 0;
  let shellIfNone = false;
  while (i < words.length) {
    const w = words[i]!;
    if (w.expands) return { ...inv, unresolved: `the program ${w.text} is a pattern the shell expands at run time` };
    const name = w.value !== undefined ? w.value.slice(w.value.lastIndexOf('/') + 1) : w.base;
    if (name === undefined || name === '') return { ...inv, unresolved: `the program ${w.text || "''"} is only known at run time` };
    inv.chain.push(name);
    inv.paths.push(w.value ?? w.text);
    const wrapper = Object.hasOwn(WRAPPERS, name) ? WRAPPERS[name]! : undefined;
    if (!wrapper) return { ...inv, program: i };
    if (name === 'xargs') inv.stdinAsArgs = true;
    const r = wrapper(words, i + 1);
    if ('code' in r) {
      inv.nestedCode.push(r.code);
      return inv;
    }
    if ('shell' in r) return { ...inv, shellOnStdin: true };
    if ('none' in r) return inv;
    shellIfNone = r.shellIfNone ?? false;
    i = r.next;
  }
  return { ...inv, shellOnStdin: shellIfNone };
}
