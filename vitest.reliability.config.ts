import { defineConfig } from 'vitest/config';

/**
 * `npm run test:reliability`: crash, PostgreSQL-restart and soak tests that take minutes, one file
 * at a time; the PostgreSQL tests start their own cluster. The soak runs alone: with the crash
 * tests beside it during its first minute, its server's caches and heap filled more slowly and
 * its memory was still climbing after the warm-up (165 MiB at 5 s, 197 MiB at 60 s, 203 MiB at
 * 100 s, where alone it is at ~200 MiB within 10 s), which the soak counted as growth.
 */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 1,
    minWorkers: 1,
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
