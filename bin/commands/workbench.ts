import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { loadTrustedKeys } from '../../common/keys.js';
import { importPaths, openCase } from '../../forensics/index.js';
import { loadConfig } from '../../gateway/index.js';
import { CaseBackend } from '../../workbench/node/backend.js';
import { packageRoot, rendererDist } from '../../workbench/node/paths.js';
import { Downloads, startWebServer } from '../../workbench/node/web-server.js';
import { ExitStatus } from '../main.js';
import { collect, trustedKeysFrom, usageError } from './case-options.js';

interface WorkbenchOptions {
  db?: string;
  demo?: boolean;
  web?: boolean;
  port?: string;
  key: string[];
  config?: string;
}

export function registerWorkbench(program: Command): void {
  program
    .command('workbench')
    .description('the desktop app over a case file; --web (or no Electron binary) serves it on 127.0.0.1 with a secret in the URL')
    .option('--db <file>', 'the case file to open (created if missing)')
    .option('--demo', 'open the nested-agents incident of examples/ (imported afresh into .hopscope/demo-case.db, or into --db)')
    .option('--web', 'serve the UI to a browser instead of opening the Electron window')
    .option('--port <n>', 'port for --web (default: a free one)')
    .option('--key <file-or-dir>', 'trusted Ed25519 public key (PEM) or a folder of *.pub keys, for imports; repeatable', collect, [])
    .option('--config <file>', "trust the gateway key in this configuration's keys.dir")
    .addHelpText('after', '\nThe browser mode prints a URL with a random secret; the UI and its API answer nothing without it.\n' +
      'Stop it with Ctrl-C.')
    .action(async (opts: WorkbenchOptions) => {
      if (opts.demo) await prepareDemo(opts);
      const port = opts.port === undefined ? undefined : Number(opts.port);
      if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) usageError(`--port must be a port number, not ${opts.port}`);
      if (!opts.web) {
        const electron = electronBinary();
        if (electron) return runElectron(electron, opts);
        process.stderr.write('hopscope: no Electron binary here; serving the workbench to a browser instead\n');
      }
      await serveWeb(opts, port);
    });
}

/** The Electron executable when the `electron` package's binary was downloaded; undefined otherwise. */
function electronBinary(): string | undefined {
  try {
    const path = createRequire(import.meta.url)('electron') as unknown;
    return typeof path === 'string' && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

async function runElectron(electron: string, opts: WorkbenchOptions): Promise<void> {
  const main = join(packageRoot(), 'dist', 'electron', 'main.js');
  const keys = [...opts.key, ...(opts.config ? [loadConfig(opts.config).keys.dir] : [])];
  const args = [main, ...(opts.db ? ['--db', opts.db] : []), ...keys.flatMap((k) => ['--key', k])];
  const child = spawn(electron, args, { stdio: 'inherit' });
  const status = await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  if (status !== 0) throw new ExitStatus(status);
}

/** The committed nested-agents recordings, verified against their committed public key, in a local case file. */
async function prepareDemo(opts: WorkbenchOptions): Promise<void> {
  const demo = join(packageRoot(), 'examples', 'nested-agents');
  const key = join(demo, 'gateway_ed25519.pub');
  if (opts.db === undefined) {
    // The default demo case is derived from the committed recordings alone: made afresh each time, so
    // it never mixes in the sessions of an older copy of the examples.
    opts.db = join('.hopscope', 'demo-case.db');
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${opts.db}${suffix}`, { force: true });
  }
  opts.key = [...opts.key, key];
  mkdirSync(dirname(opts.db), { recursive: true });
  const c = openCase(opts.db);
  try {
    const summary = await importPaths(c, [join(demo, 'recordings')], { trusted: loadTrustedKeys([key]) });
    process.stderr.write(`hopscope: demo case ${opts.db}: ${summary.imported} imported, ${summary.unchanged} already there` +
      `${summary.allIntact ? ', all intact' : ' — NOT all intact'}\n`);
  } finally {
    c.close();
  }
}

async function serveWeb(opts: WorkbenchOptions, port: number | undefined): Promise<void> {
  const staticDir = rendererDist();
  if (!existsSync(join(staticDir, 'index.html'))) {
    process.stderr.write(`hopscope: the workbench UI is not built (${staticDir} is missing); run \`npm run build\`\n`);
    throw new ExitStatus(1);
  }
  const trusted = trustedKeysFrom(opts);
  const workDir = mkdtempSync(join(tmpdir(), 'hopscope-workbench-'));
  const downloads = new Downloads();
  let backend: CaseBackend;
  try {
    backend = new CaseBackend({ ...(opts.db ? { db: opts.db } : {}), trusted, workDir, deliver: downloads.deliver });
  } catch (err) {
    rmSync(workDir, { recursive: true, force: true });
    process.stderr.write(`hopscope: ${(err as Error).message}\n`);
    throw new ExitStatus(1);
  }
  const web = await startWebServer({ api: backend, downloads, staticDir, ...(port !== undefined ? { port } : {}) });
  process.stdout.write(`hopscope workbench: open ${web.url}\n`);
  process.stderr.write('hopscope: serving on 127.0.0.1 only; the URL holds the secret, keep it private. Ctrl-C stops.\n');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await web.close();
  backend.close();
  rmSync(workDir, { recursive: true, force: true });
}
