import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (the folder with package.json), from source (electron/) or from the build (dist/electron/). */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** The built renderer (vite build of renderer/). */
export function rendererDist(): string {
  return join(packageRoot(), 'renderer', 'dist');
}

/**
 * The page's Content-Security-Policy, the same in Electron and in the browser:
 * scripts only from the app, no eval, no inline scripts, no remote anything.
 * Inline styles are allowed because xterm.js and React Flow set them.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:", "font-src 'self'",
  "connect-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'", "object-src 'none'",
].join('; ');
