import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// `vite build renderer`: root is this folder. Relative asset paths, so the same build
// runs under the browser mode's secret prefix (/<secret>/) and Electron's hopscope://app/.
export default defineConfig({
  base: './',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 2000, sourcemap: false },
});
