import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { freePort, isAddressInUse } from './helpers/ports.js';

// Helpers of the workbench's end-to-end tests: the real CLI in browser mode, and Debian's Chromium through Playwright.
export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const artifacts = join(root, 'test-artifacts');

/** Fails clearly when the build (CLI, server, UI) is older than its sources. */
export function assertBuilt(): void {
  const newest = (dir: string): number => Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) =>
    (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
  const ui = join(root, 'renderer', 'dist', 'index.html');
  const cli = join(root, 'dist', 'bin', 'commands', 'workbench.js');
  for (const [built, sources] of [[ui, join(root, 'renderer', 'src')], [cli, join(root, 'electron')]] as const) {
    if (!existsSync(built) || statSync(built).mtimeMs < newest(sources)) throw new Error(`${built} is missing or stale: run \`npm run build\` first`);
  }
}

export interface Workbench {
  url: string;
  port: number;
  secret: string;
  output: () => string;
  stop(): Promise<void>;
  /** The workbench process itself (to kill it as a crash would). */
  child: ChildProcess;
}

/** `hopscope workbench --web` on a free port; resolves with the URL it prints. */
export async function startWorkbench(args: string[], opts: { env?: Record<string, string> } = {}): Promise<Workbench> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(process.execPath, [join(root, 'bin', 'hopscope'), 'workbench', '--web', '--port', String(port), ...args],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}) });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const url = await new Promise<string | undefined>((resolveUrl) => {
      const timer = setTimeout(() => resolveUrl(undefined), 20_000);
      const check = () => {
        const m = /open (http:\/\/127\.0\.0\.1:\d+\/([\w-]+)\/)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolveUrl(m[1]);
        }
      };
      child.stdout.on('data', check);
      child.once('exit', () => {
        clearTimeout(timer);
        resolveUrl(undefined);
      });
    });
    if (!url) {
      await stopChild(child);
      if (attempt < 3 && isAddressInUse(out)) continue;
      throw new Error(`hopscope workbench did not start:\n${out}`);
    }
    return { url, port, secret: new URL(url).pathname.split('/')[1]!, output: () => out, stop: () => stopChild(child), child };
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}

/** Debian's Chromium, headless, with a fresh profile; never a downloaded browser. */
export async function launchChromium(viewport = { width: 1440, height: 900 }): Promise<BrowserContext> {
  mkdirSync(artifacts, { recursive: true });
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'hopscope-chromium-')), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport,
    acceptDownloads: true,
  });
}
