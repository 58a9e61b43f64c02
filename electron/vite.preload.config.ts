import { defineConfig } from 'vite';

/** Bundles the preload into one CommonJS file, as sandboxed preloads must be. Run from the package root. */
export default defineConfig({
  build: {
    outDir: 'dist/electron',
    emptyOutDir: false,
    minify: false,
    sourcemap: false,
    lib: { entry: 'electron/preload.ts', formats: ['cjs'], fileName: () => 'preload.cjs' },
    rollupOptions: { external: ['electron'] },
  },
});
