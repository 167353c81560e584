import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/setup/global.ts'],
    projects: [
      { extends: true, test: { name: 'sqlite', include: ['test/**/*.test.ts'] } },
      // The HTTP tests again, on PostgreSQL (a throwaway cluster started by the global setup).
      {
        extends: true,
        test: { name: 'postgres', include: ['test/http/**/*.test.ts'], env: { OPENKVS_TEST_DRIVER: 'postgres' } },
      },
    ],
  },
});
