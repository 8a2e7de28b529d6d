import { defineConfig } from 'vitest/config';

// The aarch64 guest under TCG on this x86_64 host: the code path a Mac takes with HVF.
export default defineConfig({
  test: {
    include: ['tests/integration/aarch64/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 900_000,
    retry: 0,
  },
});
