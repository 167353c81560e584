import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/setup/global.ts'],
    projects: [
      // test/reliability/ takes minutes: `npm run test:reliability` (vitest.reliability.config.ts).
      {
        extends: true,
        test: { name: 'sqlite', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/reliability/**'] },
      },
      // The HTTP tests again, on PostgreSQL (a throwaway cluster started by the global setup).
      {
        extends: true,
        test: { name: 'postgres', include: ['test/http/**/*.test.ts'], env: { OPENKVS_TEST_DRIVER: 'postgres' } },
      },
    ],
  },
});
