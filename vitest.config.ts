import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{common,gateway,forensics,electron,workbench,bin}/**/*.test.ts', 'test/**/*.test.ts'],
    // test/reliability runs on its own: npm run test:reliability (vitest.reliability.config.ts).
    exclude: ['node_modules/**', 'dist/**', 'test/reliability/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration suites start real servers; keep them from competing for the two cores.
    fileParallelism: false,
  },
});
