// The packaging suite: a real electron-builder pack against a stand-in Electron (5–10 s).
//   npx vitest run --config tests/vitest.packaging.mts
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/packaging/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
