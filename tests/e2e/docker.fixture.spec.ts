// The Containers, Images, Volumes and Disk views of the built renderer in Chromium, against the
// DEV-ONLY fake backend (no VM): grouped containers, live updates, logs, remove with confirmation,
// the emulated badge, prune, reclaim, empty and error states — and the README's screenshots, light
// and dark, into docs/screenshots/. The real behaviour is proven by docker.vm.spec.ts.
import path from 'node:path';
import fs from 'node:fs';
import { expect, test } from '@playwright/test';
import { needsBuiltRenderer, pane, withBridge } from './fixture-helpers.js';
import { dockerFixtureBackend, FakeBackend, fixtureBackend } from '../fixtures/fake-backend.js';
import { makeStatus } from '../fixtures/status.js';

needsBuiltRenderer();

const DOCS = path.resolve(import.meta.dirname, '../../docs/screenshots');
fs.mkdirSync(DOCS, { recursive: true });

for (const scheme of ['light', 'dark'] as const) {
  test(`Docker views with fixture data (${scheme})`, async ({ page }) => {
    await page.emulateMedia({ colorScheme: scheme });
    await page.setViewportSize({ width: 1100, height: 720 });
    const backend = dockerFixtureBackend();
    await withBridge(backend, async (bridge) => {
      await bridge.authorize(page);
      await page.goto(bridge.url);
      await pane(page, 'Containers');
      const groups = page.getByTestId('container-group');
      await expect(groups).toHaveCount(2);
      await expect(groups.first()).toHaveAttribute('data-project', 'shop');
      await expect(groups.first().locator('tbody tr')).toHaveCount(3);
      await expect(groups.nth(1).locator('tbody tr')).toHaveCount(2);
      await expect(page.getByRole('link', { name: '8080:80' })).toHaveAttribute('href', 'http://localhost:8080/');
      await expect(page.locator('tr[data-container="legacy-api"]')).toContainText('amd64 · emulated');
      // CPU and memory from the one-shot stats
      await expect(page.locator('tr[data-container="legacy-api"]')).toContainText('87 %');
      await page.screenshot({ path: path.join(DOCS, `containers-${scheme}.png`) });

      await page.getByRole('button', { name: 'Logs of shop-web-1' }).click();
      await expect(page.getByTestId('container-log')).toContainText('Configuration complete');
      await page.getByRole('searchbox', { name: 'Search the log' }).fill('favicon');
      await expect(page.getByTestId('log-state')).toContainText('1 of 3 lines');
      await page.screenshot({ path: path.join(DOCS, `container-logs-${scheme}.png`) });
      await page.getByRole('button', { name: 'Back to containers' }).click();

      await pane(page, 'Images');
      await expect(page.locator('tr[data-image="acme/legacy-api:2.3"] [data-testid="emulated-badge"]')).toHaveText('Emulated');
      await expect(page.getByTestId('emulation-line')).toContainText('1 image is of another architecture');
      await page.screenshot({ path: path.join(DOCS, `images-${scheme}.png`) });

      await pane(page, 'Volumes');
      await expect(page.locator('tr[data-volume="shop_pgdata"]')).toContainText('shop-db-1');
      await expect(page.locator('tr[data-volume="old_cache"]')).toContainText('unused');
      await page.screenshot({ path: path.join(DOCS, `volumes-${scheme}.png`) });

      await pane(page, 'Disk');
      await expect(page.getByTestId('disk-allocated')).toHaveText('3.4 GB');
      await expect(page.locator('tr[data-kind="volumes"]')).toContainText('1.1 GB');
      await page.screenshot({ path: path.join(DOCS, `disk-${scheme}.png`) });
    });
  });
}

test('containers update live, stop and remove with confirmation, logs stream', async ({ page }) => {
  await page.setViewportSize({ width: 1100, height: 720 });
  const backend = dockerFixtureBackend();
  await withBridge(backend, async (bridge) => {
    await bridge.authorize(page);
    await page.goto(bridge.url);
    await pane(page, 'Containers');
    const web = page.locator('tr[data-container="shop-web-1"]');
    await expect(web).toHaveAttribute('data-state', 'running');
    await page.getByRole('button', { name: 'Stop shop-web-1' }).click();
    // the state comes back through the pushed `containers` event, without a reload
    await expect(web).toHaveAttribute('data-state', 'exited');
    await expect(web.getByTestId('container-state')).toHaveText('Exited');

    // a change made elsewhere (docker CLI) shows up the same way
    backend.updateContainer('scratchpad', { state: 'running', status: 'Up 1 second', startedAt: new Date().toISOString() });
    await expect(page.locator('tr[data-container="scratchpad"]')).toHaveAttribute('data-state', 'running');

    await page.getByRole('button', { name: 'Remove legacy-api' }).click();
    const dialog = page.getByRole('alertdialog', { name: 'Remove legacy-api?' });
    await expect(dialog).toContainText('It is running');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(page.locator('tr[data-container="legacy-api"]')).toHaveCount(1);
    await page.getByRole('button', { name: 'Remove legacy-api' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Remove' }).click();
    await expect(page.locator('tr[data-container="legacy-api"]')).toHaveCount(0);
    expect(backend.calls.filter((c) => c.method === 'containers.remove')).toHaveLength(1);

    await page.getByRole('button', { name: 'Logs of shop-db-1' }).click();
    await expect(page.getByTestId('log-state')).toHaveText('Streaming');
    backend.print(backend.docker.containers.find((c) => c.name === 'shop-db-1')!.id, 'LOG:  checkpoint complete');
    await expect(page.getByTestId('container-log')).toContainText('checkpoint complete');
    await pane(page, 'Overview');
    // leaving the view ends the followed log
    await expect.poll(() => backend.calls.filter((c) => c.method === 'containers.logsClose').length).toBe(1);
  });
});

test('images prune, volumes refuse one in use, reclaim what was ticked', async ({ page }) => {
  await page.setViewportSize({ width: 1100, height: 720 });
  const backend = dockerFixtureBackend();
  await withBridge(backend, async (bridge) => {
    await bridge.authorize(page);
    await page.goto(bridge.url);
    await pane(page, 'Images');
    await page.getByRole('button', { name: 'Remove dangling (1)' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Remove' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Removed 1 image' })).toContainText('95 MB freed');
    await expect(page.getByTestId('images-table').locator('tbody tr')).toHaveCount(5);

    await pane(page, 'Volumes');
    await page.getByRole('button', { name: 'Remove shop_pgdata' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Remove' }).click();
    await expect(page.getByTestId('docker-action-error')).toContainText('volume is in use');

    await pane(page, 'Disk');
    await page.getByRole('checkbox', { name: 'Unused volumes' }).check();
    await page.getByRole('checkbox', { name: 'Build cache' }).uncheck();
    await page.getByRole('button', { name: 'Reclaim' }).click();
    await expect(page.getByRole('alertdialog')).toContainText('Unused volumes');
    await page.getByRole('alertdialog').getByRole('button', { name: 'Reclaim' }).click();
    await expect(page.getByTestId('reclaim-result')).toContainText('Freed 1.2 GB');
    expect(backend.calls.find((c) => c.method === 'disk.reclaim')!.params).toEqual({ containers: true, images: 'dangling', volumes: true });
  });
});

test('empty, stopped and not-answering states', async ({ page }) => {
  await withBridge(fixtureBackend('running'), async (bridge) => {
    await bridge.authorize(page);
    await page.goto(bridge.url);
    await pane(page, 'Containers');
    await expect(page.getByTestId('containers-empty')).toContainText('No containers yet');
    await pane(page, 'Images');
    await expect(page.getByTestId('images-empty')).toBeVisible();
    await pane(page, 'Volumes');
    await expect(page.getByTestId('volumes-empty')).toBeVisible();
  });
  await withBridge(new FakeBackend({ status: makeStatus('stopped') }), async (bridge) => {
    await bridge.authorize(page);
    await page.goto(bridge.url);
    await pane(page, 'Containers');
    await expect(page.getByTestId('docker-not-running')).toContainText('Docker is not running');
    await pane(page, 'Disk');
    await expect(page.getByTestId('df-missing')).toContainText('Docker is not running');
  });
  const broken = dockerFixtureBackend();
  broken.dockerError = { code: 'E_DOCKER', message: 'Docker is not answering (nothing listens on its socket)', hint: 'Check that Docker is running (berth status).' };
  await withBridge(broken, async (bridge) => {
    await bridge.authorize(page);
    await page.goto(bridge.url);
    await pane(page, 'Containers');
    const err = page.getByTestId('docker-error');
    await expect(err.getByRole('heading')).toHaveText('Docker is not answering');
    await expect(err).toContainText('berth status');
    await page.screenshot({ path: path.join(DOCS, 'containers-not-answering.png') });
    broken.dockerError = null;
    await err.getByRole('button', { name: 'Try again' }).click();
    await expect(page.getByTestId('container-group')).toHaveCount(2);
  });
});

test('Shell: the console window opens a docker exec in the container (a fake dockerd on a unix socket)', async ({ page }) => {
  const os = await import('node:os');
  const { withConsoles } = await import('../../electron/main/app-backend.js');
  const { FakeDockerd, container } = await import('../fixtures/fake-dockerd.js');
  const { startBridge } = await import('./bridge/server.js');
  const { RENDERER } = await import('./fixture-helpers.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-shell-'));
  const dockerd = new FakeDockerd(path.join(dir, 'docker.sock'));
  dockerd.containers = [container({ Id: 'a2'.padEnd(64, '0'), name: 'shop-db-1' })];
  await dockerd.start();
  const fake = dockerFixtureBackend();
  const backend = withConsoles(fake, { sshConfig: '', command: { file: '/bin/sh', args: [] }, dockerSocket: dockerd.socketPath });
  const bridge = await startBridge({ backend, rendererDir: RENDERER });
  try {
    await bridge.authorize(page);
    await page.setViewportSize({ width: 1100, height: 720 });
    await page.goto(bridge.url);
    await pane(page, 'Containers');
    await page.getByRole('button', { name: 'Shell in shop-db-1' }).click();
    await expect.poll(() => fake.calls.length).toBeGreaterThan(0);
    const con = await page.context().newPage();
    await bridge.authorize(con);
    await con.setViewportSize({ width: 860, height: 540 });
    await con.goto(`${bridge.url}console.html`);
    await expect(con.getByTestId('shell-target')).toHaveText('in container shop-db-1');
    await expect(con.getByTestId('shell-state')).toHaveText('Connected');
    const rows = con.getByTestId('shell-terminal').locator('.xterm-rows');
    await expect(rows).toContainText('# /bin/sh -c');
    await con.getByTestId('shell-terminal').click();
    await con.keyboard.type('uname -m');
    await expect(rows).toContainText('uname -m');
    await con.screenshot({ path: path.join(DOCS, 'console-container-shell.png') });
    expect(dockerd.requests.some((r) => r.url.startsWith('/containers/shop-db-1/exec') || r.url.startsWith(`/containers/${'a2'.padEnd(64, '0')}/exec`))).toBe(true);
    // back to the VM's shell (here the local stand-in)
    await con.getByRole('button', { name: 'VM shell' }).click();
    await expect(con.getByTestId('shell-target')).toHaveText('in the VM');
    await expect(con.getByTestId('shell-state')).toHaveText('Connected');
    await con.close();
  } finally {
    await bridge.close();
    await backend.close();
    await dockerd.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
