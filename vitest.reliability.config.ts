import { defineConfig } from 'vitest/config';

/**
 * `npm run test:reliability`: crash, PostgreSQL-restart and soak tests that take minutes. Two files
 * run at once, so that the crash tests run during the soak's five minutes (the soak measures the
 * memory of its own server, which their load does not change); the PostgreSQL tests start their
 * own cluster.
 */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
