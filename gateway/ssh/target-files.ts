import { createHash } from 'node:crypto';
import type ssh2 from 'ssh2';

/**
 * The gateway's own sftp session to the target (opened on first use, one per
 * SSH session, as the same target user): it reads a file a client downloads,
 * to mask it before any of it is served, and reads back a file a client
 * uploaded, to hash what is actually on the target.
 */
const READ_SIZE = 32 * 1024;

export class TargetFiles {
  private session: Promise<ssh2.SFTPWrapper> | undefined;

  constructor(private readonly client: ssh2.Client) {}

  /** The whole file when it is at most `limit` bytes; otherwise its size. */
  async read(path: string, limit: number): Promise<{ data: Buffer } | { tooLarge: number }> {
    const chunks: Buffer[] = [];
    let total = 0;
    let tooLarge = false;
    await this.each(path, (chunk) => {
      total += chunk.length;
      if (total > limit) tooLarge = true;
      else chunks.push(Buffer.from(chunk));
      return !tooLarge;
    });
    return tooLarge ? { tooLarge: total } : { data: Buffer.concat(chunks, total) };
  }

  /** SHA-256 (hex), size and absolute path of a file on the target, streamed. */
  async hash(path: string): Promise<{ sha256: string; bytes: number; path: string }> {
    const sftp = await this.sftp();
    const absolute = await call<string>((cb) => sftp.realpath(path, cb)).catch(() => path);
    const hash = createHash('sha256');
    let bytes = 0;
    await this.each(absolute, (chunk) => {
      bytes += chunk.length;
      hash.update(chunk);
      return true;
    });
    return { sha256: hash.digest('hex'), bytes, path: absolute };
  }

  /** The absolute path the target resolves `path` to (relative paths from the login directory); `path` itself when it cannot. */
  async absolute(path: string): Promise<string> {
    if (path.startsWith('/')) return path;
    const sftp = await this.sftp();
    const home = await call<string>((cb) => sftp.realpath('.', cb)).catch(() => undefined);
    return home ? `${home.replace(/\/$/, '')}/${path}` : path;
  }

  async isDirectory(path: string): Promise<boolean> {
    const sftp = await this.sftp();
    return call<ssh2.Stats>((cb) => sftp.stat(path, cb)).then((s) => s.isDirectory(), () => false);
  }

  /** Reads a file in order until end of file, or until `take` says stop; one buffer, reused. */
  private async each(path: string, take: (chunk: Buffer) => boolean): Promise<void> {
    const sftp = await this.sftp();
    const handle = await call<Buffer>((cb) => sftp.open(path, 'r', cb));
    const buf = Buffer.alloc(READ_SIZE);
    try {
      for (let pos = 0; ;) {
        const n = await new Promise<number>((resolve, reject) => sftp.read(handle, buf, 0, READ_SIZE, pos, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead))));
        if (n === 0 || !take(buf.subarray(0, n))) return;
        pos += n;
      }
    } finally {
      sftp.close(handle, () => undefined);
    }
  }

  end(): void {
    void this.session?.then((s) => s.end(), () => undefined);
  }

  /** A channel of its own on the session's connection to the target. */
  private sftp(): Promise<ssh2.SFTPWrapper> {
    this.session ??= call<ssh2.SFTPWrapper>((cb) => this.client.sftp(cb));
    return this.session;
  }
}

function call<T>(run: (cb: (err: Error | null | undefined, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value))));
}
