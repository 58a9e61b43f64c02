import { defineConfig } from 'vitest/config';

// `npm run test:reliability`: crash, fail-closed, load, tamper, bad-input, auth and
// leak suites against real PostgreSQL, OpenSSH and the gateway CLI (test/reliability).
// Each writes its counts to test-artifacts/reliability/*.json; `npm run reliability:report`
// turns them into docs/RELIABILITY.md.
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Every file starts real servers and loads them; one at a time on two cores.
    fileParallelism: false,
  },
});
