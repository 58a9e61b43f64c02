import { spawnSync } from 'node:child_process';
import { LineEditor, type TypedLine } from './line-editor.js';
import { seededRandom as random } from '../../test/helpers/random.js';

/**
 * Test support: types keys into a real \`bash --norc -i\` on a pty (Python's
 * pty module; node-pty is not installed) whose DEBUG trap, with extdebug,
 * records the history entry of each command and skips running it.
 */
const DRIVER = String.raw`
import os, pty, sys, json, time, select, re
spec = json.loads(sys.stdin.read())
cases, reset = spec['cases'], spec['reset']
out = '/tmp/hopscope-bash-keys-%d' % os.getpid()
open(out, 'w').close()
pid, fd = pty.fork()
if pid == 0:
    os.environ.update(TERM='xterm', PS1='$ ', HOME='/nonexistent', INPUTRC='/etc/inputrc')
    os.execvp('bash', ['bash', '--norc', '--noprofile', '-i'])
def drain(t):
    while select.select([fd], [], [], t)[0]:
        try:
            if not os.read(fd, 65536): return
        except OSError: return
os.write(fd, ("HISTFILE=; HISTCONTROL=; HISTIGNORE=; shopt -s extdebug; trap 'printf \"%%s\\0\" \"$(history 1)\" >> %s; false' DEBUG\r" % out).encode())
drain(0.3)
res = []
for i, c in enumerate(cases):
    sentinel = 'sentinel%d' % i
    os.write(fd, c.encode('latin1'))
    if '\x03' in reset: drain(0.1)  # SIGINT flushes the tty's input: let bash read the case first
    os.write(fd, reset.encode())
    if '\x03' in reset: drain(0.1)  # the tty discards what was typed before SIGINT is handled
    os.write(fd, (sentinel + '\r').encode())
    data = ''
    for _ in range(2000):
        drain(0.005)
        data = open(out, encoding='utf8', errors='replace').read()
        if sentinel in data: break
    open(out, 'w').close()
    seen, entries = set(), []
    for rec in data.split('\0'):
        m = re.match(r'^\s*(\d+)\*?  (.*)$', rec, re.S)
        if m and m.group(1) not in seen:
            seen.add(m.group(1))
            entries.append(m.group(2))
    res.append([e for e in entries if e != sentinel])
os.write(fd, b'\x15exit\r')
os.unlink(out)
print(json.dumps(res))
`;

/** What bash ran for each case (history entries, in order). */
export function bashRan(cases: string[], reset = '\x15'): string[][] {
  const res = spawnSync('python3', ['-c', DRIVER], { input: JSON.stringify({ cases, reset }), encoding: 'utf8', timeout: 120_000 });
  if (res.status !== 0) throw new Error(`bash driver failed: ${res.stderr}`);
  return JSON.parse(res.stdout) as string[][];
}

/** Keys as bytes (one char per byte, latin1), so UTF-8 text is given as its bytes. */
export function editorRan(editor: LineEditor, keys: string): TypedLine[] {
  const out: TypedLine[] = [];
  editor.feed(Buffer.from(keys, 'latin1'), (e) => e.kind === 'line' && out.push(e.typed));
  return out;
}

export function generate(keys: string[], n: number, seed: number): string[] {
  const next = random(seed);
  return Array.from({ length: n }, () => {
    const len = 3 + Math.floor(next() * 22);
    return Array.from({ length: len }, () => keys[Math.floor(next() * keys.length)]!).join('') + '\r';
  });
}

