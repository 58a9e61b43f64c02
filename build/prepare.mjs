// npm's `prepare` (run by `npm install` / `npm ci` in this folder): builds dist/ and the renderer when the
// build tools are installed. A production-only install (`npm ci --omit=dev --omit=optional`, README:
// "Running the gateway headless") has no TypeScript or Vite: it runs the dist/ built beforehand, so this
// says so and succeeds instead of failing the install.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let tools = true;
try {
  require.resolve('typescript');
  require.resolve('vite');
} catch {
  tools = false;
}
if (!tools) {
  process.stderr.write('hopscope: build tools not installed (--omit=dev): dist/ is not rebuilt; run the one built beforehand\n');
  process.exit(0);
}
const npm = process.env.npm_execpath;
const build = npm ? spawnSync(process.execPath, [npm, 'run', 'build'], { stdio: 'inherit' }) : spawnSync('npm', ['run', 'build'], { stdio: 'inherit' });
process.exit(build.status ?? 1);
