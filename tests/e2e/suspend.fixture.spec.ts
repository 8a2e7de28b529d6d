// Stop suspends, Start resumes (issue 10): the built renderer against the DEV-ONLY fake backend,
// asserting what a user sees — the saved state, how the start went, discarding the saved state,
// and the "When Docker stops" settings driven from the keyboard. The real suspend and resume are
// proven by the integration tests against a real VM.
import path from 'node:path';
import { expect, test } from '@playwright/test';
import type { Page } from '@playwright/test';
import { needsBuiltRenderer, pane, SHOTS, withBridge } from './fixture-helpers.js';
import { FakeBackend, fixtureBackend } from '../fixtures/fake-backend.js';
import { makeStatus } from '../fixtures/status.js';

needsBuiltRenderer();

const badge = (page: Page) => page.getByTestId('state-badge').first();
const discard = (page: Page) => page.getByRole('button', { name: 'Shut down (discard saved state)' });

test('Stop suspends, Start resumes, Shut down discards the saved state', async ({ page }) => {
  // fast simulated steps; the fake reports the resume as 860 ms whatever the speed
  const backend = new FakeBackend({ status: makeStatus('running'), speed: 0.05 });
  await withBridge(backend, async (bridge) => {
    await bridge.authorize(page);
    await page.goto(bridge.url);
    await expect(badge(page)).toHaveText('Running');

    // Stop with the default "When Docker stops: Suspend"
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await expect(badge(page)).toHaveText('Stopped', { timeout: 15_000 });
    await expect(page.getByText('Docker is suspended. Press Start to resume it in about a second.')).toBeVisible();
    const saved = page.getByTestId('saved-state');
    await expect(saved).toContainText('Saved state');
    await expect(saved).toContainText(/1\.3 GB, today at \d/);
    await expect(page.getByTestId('last-stop')).toContainText('Suspended in 1.2 s (1.3 GB)');
    await expect(discard(page)).toBeEnabled();
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.screenshot({ path: path.join(SHOTS, `dashboard-suspended-${scheme}.png`) });
    }
    await page.emulateMedia({ colorScheme: 'light' });

    // Start resumes: the user sees how long it took, and the ports are back
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await expect(badge(page)).toHaveText('Running', { timeout: 15_000 });
    await expect(page.getByTestId('resume')).toHaveText('Last startResumed in 860 ms');
    await expect(page.getByTestId('saved-state')).toHaveCount(0);
    await expect(discard(page)).toHaveCount(0);
    await pane(page, 'Ports');
    await expect(page.locator('tr[data-port="8080"]')).toContainText('Forwarding');
    await pane(page, 'Overview');

    // suspend again, then throw the saved state away: the next start boots
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await expect(page.getByTestId('saved-state')).toBeVisible({ timeout: 15_000 });
    await discard(page).click();
    await expect(page.getByTestId('saved-state')).toHaveCount(0);
    await expect(page.getByText('Docker is stopped. Press Start to boot the VM.')).toBeVisible();
    expect(backend.calls.filter((c) => c.method === 'vm.stop').map((c) => c.params)).toEqual([{}, {}, { shutdown: true }]);
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await expect(badge(page)).toHaveText('Running', { timeout: 15_000 });
    await expect(page.locator('[data-step="docker"]')).toHaveAttribute('data-state', 'done');
    await expect(page.getByTestId('resume')).toHaveCount(0);

    // a saved state made with other resources cannot be loaded: the start boots cold and says why
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await expect(page.getByTestId('saved-state')).toBeVisible({ timeout: 15_000 });
    await pane(page, 'Resources');
    await page.getByLabel(/^Memory/).fill('8');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => backend.settings.memoryGiB).toBe(8);
    await pane(page, 'Overview');
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await expect(badge(page)).toHaveText('Running', { timeout: 15_000 });
    // the engine's reason (suspend/saved-state.ts), word for word
    await expect(page.getByTestId('resume')).toHaveText('Last startBooted cold: settings changed since the save: memoryGiB 4 → 8');
  });
});

test('"When Docker stops" and "Suspend before the Mac sleeps" from the keyboard', async ({ page }) => {
  const backend = fixtureBackend('running');
  await withBridge(backend, async (bridge) => {
    await bridge.authorize(page);
    await page.goto(bridge.url + '#resources');
    await expect(page.getByRole('heading', { level: 2, name: 'Resources' })).toBeVisible();
    const group = page.getByRole('radiogroup', { name: 'When Docker stops' });
    const suspend = group.getByRole('radio', { name: /^Suspend/ });
    const shutdown = group.getByRole('radio', { name: /^Shut down/ });
    const sleep = page.getByRole('switch', { name: /^Suspend before the Mac sleeps/ });
    await expect(suspend).toBeChecked();
    await expect(sleep).not.toBeChecked();
    await expect(sleep).toBeEnabled();
    await page.screenshot({ path: path.join(SHOTS, 'dashboard-stop-settings-light.png') });

    // Tab reaches the checked radio (Revert and Save are disabled: nothing to save); the arrow keys
    // choose; each choice is saved at once
    await page.getByRole('switch', { name: /^Keep the VM running/ }).focus();
    await page.keyboard.press('Tab');
    await expect(suspend).toBeFocused();
    await page.keyboard.press('ArrowDown');
    await expect(shutdown).toBeChecked();
    await expect.poll(() => backend.settings.stopMode).toBe('shutdown');
    await expect(sleep).toBeDisabled();
    await expect(page.getByText('Needs “Suspend” above.')).toBeVisible();
    await page.keyboard.press('ArrowUp');
    await expect(suspend).toBeChecked();
    await expect.poll(() => backend.settings.stopMode).toBe('suspend');

    await page.keyboard.press('Tab');
    await expect(sleep).toBeFocused();
    await page.keyboard.press('Space');
    await expect(sleep).toBeChecked();
    await expect.poll(() => backend.settings.suspendOnSleep).toBe(true);
    expect(backend.calls.filter((c) => c.method === 'settings.set').map((c) => c.params)).toEqual([
      { patch: { stopMode: 'shutdown' } },
      { patch: { stopMode: 'suspend' } },
      { patch: { suspendOnSleep: true } },
    ]);

    // with "Shut down", Stop powers off and leaves no saved state
    await shutdown.check();
    await expect.poll(() => backend.settings.stopMode).toBe('shutdown');
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await expect(badge(page)).toHaveText('Stopped', { timeout: 15_000 });
    await pane(page, 'Overview');
    await expect(page.getByTestId('last-stop')).toContainText('Shut down in 1.5 s');
    await expect(page.getByTestId('saved-state')).toHaveCount(0);
    await expect(page.getByText('Docker is stopped. Press Start to boot the VM.')).toBeVisible();
  });
});
