// Playwright drives the built renderer (renderer/dist, `npm run build:renderer`) in Debian's
// Chromium through the bridge (tests/e2e/bridge). Projects:
//   vm       — against a real supervisor and VM (BERTH_HOME / BERTH_INSTANCE): *.vm.spec.ts
//   fixture  — the same pages against the dev-only fake backend, for fast view checks and screenshots
//   electron — a _electron smoke test, skipped (with its reason) where no Electron binary exists
// Never `npx playwright install`: the browser is /usr/bin/chromium (or $CHROMIUM_PATH).
import path from 'node:path';
import { defineConfig } from '@playwright/test';

const here = import.meta.dirname;

export default defineConfig({
  testDir: here,
  outputDir: path.join(here, '../artifacts/test-results'),
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [['list'], ['html', { open: 'never', outputFolder: path.join(here, '../artifacts/playwright-report') }]],
  timeout: 60_000,
  expect: { timeout: 10_000 },
  use: {
    browserName: 'chromium',
    headless: true,
    viewport: { width: 920, height: 720 },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--no-first-run',
        '--disable-sync',
        '--disable-quic',
        '--disable-background-networking',
        '--disable-component-update',
      ],
    },
  },
  projects: [
    { name: 'fixture', testMatch: /\.fixture\.spec\.ts$/ },
    // one VM: boot (~30 s under TCG), docker, emulation, console, stop — in order
    { name: 'vm', testMatch: /\.vm\.spec\.ts$/, timeout: 15 * 60_000 },
    { name: 'electron', testMatch: /electron\.smoke\.spec\.ts$/ },
  ],
});
