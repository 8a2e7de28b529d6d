import { defineConfig } from 'vitest/config';

// One real VM per suite file; files run one after another (2 cores: two TCG guests at once would
// only make both slow). No retries: a flaky VM test is a bug to fix, not to hide.
export default defineConfig({
  test: {
    include: ['tests/integration/*.test.ts'],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 600_000,
    retry: 0,
  },
});
