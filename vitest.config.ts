import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'e2e/**', '.next/**', 'scratch/**'],
    globalSetup: ['tests/support/global-setup.ts'],
    // Each file gets its own database cloned from a migrated template (tests/support/database.ts).
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
