// What the fixture specs share: the built renderer served by the bridge over a fake backend, and
// moving between the dashboard's sections as a user does.
import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import type { Page } from '@playwright/test';
import { startBridge } from './bridge/server.js';
import type { Bridge } from './bridge/server.js';
import type { FakeBackend } from '../fixtures/fake-backend.js';

export const RENDERER = path.resolve(import.meta.dirname, '../../renderer/dist');
export const SHOTS = path.resolve(import.meta.dirname, '../artifacts/screenshots');

/** Call at the top of a spec file: fails its tests early, with the fix, when the build is missing. */
export function needsBuiltRenderer(): void {
  test.beforeAll(() => {
    if (!fs.existsSync(path.join(RENDERER, 'index.html'))) throw new Error('renderer/dist is missing: run `npm run build:renderer` first');
    fs.mkdirSync(SHOTS, { recursive: true });
  });
}

export async function withBridge(backend: FakeBackend, fn: (b: Bridge) => Promise<void>): Promise<void> {
  const bridge = await startBridge({ backend, rendererDir: RENDERER });
  try {
    await fn(bridge);
  } finally {
    await bridge.close();
    await backend.close();
  }
}

export async function pane(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: new RegExp(`^${name}`) }).click();
  await expect(page.getByRole('heading', { level: 2, name })).toBeVisible();
}
