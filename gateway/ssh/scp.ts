import { createHash, type Hash } from 'node:crypto';
import { posix } from 'node:path';

/**
 * Legacy scp (`scp -O`, or OpenSSH before 9) runs `scp -t <target>` (upload)
 * or `scp -f <path>` (download) over exec and speaks its own protocol on
 * stdin/stdout. OpenSSH 9's scp uses sftp instead (see sftp-relay.ts).
 */
export interface ScpCommand {
  mode: 'to' | 'from';
  /** The target (upload) or source (download) path as given. */
  path: string;
  /** -r or -d: the target is a directory. */
  directory: boolean;
}

/** The scp server-side command an exec runs, or undefined (the command is not scp -t / scp -f). */
export function scpCommand(command: string): ScpCommand | undefined {
  const words = shellWords(command);
  if (!words || posix.basename(words[0] ?? '') !== 'scp') return undefined;
  let mode: ScpCommand['mode'] | undefined;
  let directory = false;
  let i = 1;
  for (; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--') {
      i++;
      break;
    }
    if (!w.startsWith('-') || w === '-') break;
    if (w.includes('t')) mode = 'to';
    if (w.includes('f')) mode = 'from';
    if (w.includes('r') || w.includes('d')) directory = true;
  }
  const path = words[i];
  return mode && path !== undefined ? { mode, path, directory } : undefined;
}

/** Splits a command into words with sh's quoting (single, double, backslash); undefined when it uses anything else. */
function shellWords(command: string): string[] | undefined {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i]!;
    if (ch === ' ' || ch === '\t') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (ch === "'") {
      const end = command.indexOf("'", i + 1);
      if (end < 0) return undefined;
      word = (word ?? '') + command.slice(i + 1, end);
      i = end;
    } else if (ch === '\\' && i + 1 < command.length) {
      word = (word ?? '') + command[++i];
    } else if (/[;&|<>()`$"\n*?]/.test(ch)) {
      return undefined;
    } else {
      word = (word ?? '') + ch;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

export interface ScpFile {
  /** The file's path on the target, relative to the scp target. */
  path: string;
  sha256: string;
  bytes: number;
}

const LINE_LIMIT = 4096;

/**
 * Follows what a client sends to `scp -t` (split anywhere) and reports each
 * file it writes with the SHA-256 of its bytes: `C<mode> <size> <name>` then
 * the bytes and a NUL; `D`/`E` enter and leave directories; `T` sets times.
 */
export class ScpUploadStream {
  private line: number[] = [];
  private remaining = 0;
  private hash: Hash | undefined;
  private name = '';
  private size = 0;
  private readonly dirs: string[] = [];
  private state: 'line' | 'data' | 'trailer' = 'line';

  constructor(private readonly onFile: (file: { dirs: string[]; name: string; sha256: string; bytes: number }) => void) {}

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.state === 'data') {
        const take = Math.min(this.remaining, chunk.length - at);
        this.hash!.update(chunk.subarray(at, at + take));
        at += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = 'trailer';
        continue;
      }
      if (this.state === 'trailer') {
        at++; // NUL (or an error byte: the file is reported either way, as scp wrote it)
        this.onFile({ dirs: [...this.dirs], name: this.name, sha256: this.hash!.digest('hex'), bytes: this.size });
        this.hash = undefined;
        this.state = 'line';
        continue;
      }
      const byte = chunk[at++]!;
      if (byte !== 0x0a) {
        if (this.line.length < LINE_LIMIT) this.line.push(byte);
        continue;
      }
      this.record(Buffer.from(this.line).toString('utf8'));
      this.line = [];
    }
  }

  private record(line: string): void {
    const m = /^([CD])([0-7]{3,4}) (\d+) (.+)$/.exec(line);
    if (m?.[1] === 'D') this.dirs.push(m[4]!);
    else if (line === 'E') this.dirs.pop();
    else if (m?.[1] === 'C') {
      this.name = m[4]!;
      this.size = Number(m[3]);
      this.remaining = this.size;
      this.hash = createHash('sha256');
      this.state = this.remaining > 0 ? 'data' : 'trailer';
    }
  }
}

/** Where a received file lands: inside the target when it is a directory, else the target itself. */
export function scpTargetPath(target: string, targetIsDirectory: boolean, file: { dirs: string[]; name: string }): string {
  return targetIsDirectory || file.dirs.length > 0 ? posix.join(target, ...file.dirs, file.name) : target;
}
