// The built renderer against the DEV-ONLY fake backend: every view in light and dark, with fixture
// data (screenshots for the README and for looking at), plus the bridge's input validation.
// The real behaviour is proven by dashboard.vm.spec.ts against a real supervisor and VM.
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { startBridge } from './bridge/server.js';
import { needsBuiltRenderer, pane, RENDERER, SHOTS, withBridge } from './fixture-helpers.js';
import { stepProgress } from '../../electron/shared/progress.js';
import { FakeBackend, fixtureBackend } from '../fixtures/fake-backend.js';
import { makeStatus, MOUNTS, PORTS } from '../fixtures/status.js';

needsBuiltRenderer();

for (const scheme of ['light', 'dark'] as const) {
  test(`every view with fixture data (${scheme})`, async ({ page }) => {
    await page.emulateMedia({ colorScheme: scheme });
    const backend = fixtureBackend('running');
    backend.status.ports = structuredClone(PORTS);
    backend.status.mounts = structuredClone(MOUNTS);
    backend.status.state = 'degraded';
    backend.log('events', '{"event":"port","port":80,"state":"failed","reason":"port 80 is in use on the Mac"}');
    await withBridge(backend, async (bridge) => {
      await bridge.authorize(page);
      await page.goto(bridge.url);
      await expect(page.getByTestId('state-badge').first()).toHaveText('Running with problems');
      await expect(page.getByTestId('steps').getByRole('listitem')).toHaveCount(9);
      await page.screenshot({ path: path.join(SHOTS, `dashboard-overview-${scheme}.png`) });

      await pane(page, 'Ports');
      await expect(page.getByTestId('ports-table').locator('tbody tr')).toHaveCount(3);
      await expect(page.getByRole('link', { name: 'localhost:8080' })).toHaveAttribute('href', 'http://localhost:8080/');
      await page.screenshot({ path: path.join(SHOTS, `dashboard-ports-${scheme}.png`) });

      await pane(page, 'Mounts');
      await expect(page.getByTestId('mounts-table').locator('tbody tr')).toHaveCount(3);
      await page.screenshot({ path: path.join(SHOTS, `dashboard-mounts-${scheme}.png`) });

      await pane(page, 'Emulation');
      await page.screenshot({ path: path.join(SHOTS, `dashboard-emulation-${scheme}.png`) });

      await pane(page, 'Resources');
      await page.getByLabel(/^CPUs/).fill('6');
      await page.getByRole('button', { name: 'Save' }).click();
      await expect(page.getByTestId('restart-needed')).toBeVisible();
      await page.screenshot({ path: path.join(SHOTS, `dashboard-resources-${scheme}.png`) });

      await pane(page, 'Logs');
      await page.getByRole('button', { name: 'Boot console' }).click();
      await expect(page.getByTestId('log')).toContainText('Linux version');
      await page.screenshot({ path: path.join(SHOTS, `dashboard-logs-${scheme}.png`) });
    });
  });

  test(`error and starting states (${scheme})`, async ({ page }) => {
    await page.emulateMedia({ colorScheme: scheme });
    await withBridge(new FakeBackend({ status: makeStatus('error') }), async (bridge) => {
      await bridge.authorize(page);
      await page.goto(bridge.url);
      const panel = page.getByTestId('error-panel');
      await expect(panel).toContainText('Failed at “SSH up”');
      await expect(panel).toContainText('SSH did not come up within 120 s');
      await expect(panel).toContainText('See serial.log');
      await expect(panel).toContainText('/Users/ada/.berth/default/serial.log');
      await page.screenshot({ path: path.join(SHOTS, `dashboard-error-${scheme}.png`) });
    });
    const starting = new FakeBackend({ status: makeStatus('starting', { startedAt: new Date().toISOString() }) });
    await withBridge(starting, async (bridge) => {
      await bridge.authorize(page);
      await page.goto(bridge.url);
      // the engine's own progress event for the kernel step starting: step 4 of 9
      starting.emit('progress', stepProgress('kernel', 'running'));
      await expect(page.getByTestId('progress')).toContainText('Kernel booted');
      await expect(page.getByTestId('progress')).toContainText('33%');
      await page.screenshot({ path: path.join(SHOTS, `dashboard-starting-${scheme}.png`) });
    });
  });
}

test('start and stop with the fake engine', async ({ page }) => {
  const backend = new FakeBackend({ speed: 0.05 });
  await withBridge(backend, async (bridge) => {
    await bridge.authorize(page);
    await page.goto(bridge.url);
    await expect(page.getByTestId('state-badge').first()).toHaveText('Stopped');
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await expect(page.getByTestId('steps')).toBeVisible();
    await expect(page.getByTestId('state-badge').first()).toHaveText('Running', { timeout: 15_000 });
    await expect(page.locator('[data-step="docker"]')).toHaveAttribute('data-state', 'done');
    backend.publish({ protocol: 'tcp', guestPort: 80, hostPort: 8081, guestAddress: '0.0.0.0', source: 'docker', state: 'forwarding', container: 'web' });
    await pane(page, 'Ports');
    await expect(page.locator('tr[data-port="8081"]')).toContainText('Forwarding');
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await expect(page.getByTestId('state-badge').first()).toHaveText('Stopped', { timeout: 15_000 });
  });
});

test('dev:web: the address with the token in its fragment works without the driver, and drops the token from the address bar', async ({ page }) => {
  await withBridge(fixtureBackend('running'), async (bridge) => {
    // no authorize(): a person opening an address without the token gets nothing from the engine
    await page.goto(bridge.url);
    await expect(page.getByText('The Berth engine does not answer.')).toBeVisible();
    // then the printed address, in a fresh load (a fragment-only change would not reload the page)
    await page.goto('about:blank');
    await page.goto(bridge.devUrl('', 'resources'));
    await expect(page.getByRole('heading', { level: 2, name: 'Resources' })).toBeVisible();
    await expect(page.getByTestId('state-badge').first()).toHaveText('Running');
    expect(page.url()).toBe(`${bridge.url}#resources`);
    // a reload keeps working (sessionStorage), though the address no longer has the token
    await page.reload();
    await expect(page.getByTestId('state-badge').first()).toHaveText('Running');
  });
});

test('the bridge validates requests like the IPC layer', async ({ request }) => {
  const backend = new FakeBackend();
  await withBridge(backend, async (bridge) => {
    const post = (data: unknown, token = bridge.token) =>
      request.post(`${bridge.url}__berth/invoke`, { data, headers: { 'x-berth-token': token, 'content-type': 'application/json' } });
    expect(await (await post({ method: 'vm.start', params: { cpus: 0 } })).json()).toMatchObject({ ok: false, error: { code: 'E_INVALID_PARAMS' } });
    expect(await (await post({ method: 'emulation.set', params: { enabled: 'yes' } })).json()).toMatchObject({ ok: false, error: { code: 'E_INVALID_PARAMS' } });
    expect(await (await post({ method: 'rm -rf', params: {} })).json()).toMatchObject({ ok: false, error: { code: 'E_UNKNOWN_METHOD' } });
    expect(await (await post({ method: 'vm.status', params: {} })).json()).toMatchObject({ ok: true, value: { state: 'stopped' } });
    expect((await post({ method: 'vm.status', params: {} }, 'wrong')).status()).toBe(401);
    expect((await request.get(`${bridge.url}..%2f..%2fpackage.json`)).status()).not.toBe(200);
    expect(backend.calls.map((c) => c.method)).toEqual(['vm.status']);
  });
});

test('console window: xterm under the CSP, a local shell standing in for the VM', async ({ page }) => {
  const { withConsoles } = await import('../../electron/main/app-backend.js');
  const fake = fixtureBackend('running');
  const backend = withConsoles(fake, { sshConfig: '', command: { file: '/bin/sh', args: [] } });
  const bridge = await startBridge({ backend, rendererDir: RENDERER });
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  try {
    await page.setViewportSize({ width: 860, height: 540 });
    await bridge.authorize(page);
    await page.goto(`${bridge.url}console.html`);
    await expect(page.getByTestId('shell-state')).toHaveText('Connected');
    const rows = page.getByTestId('shell-terminal').locator('.xterm-rows');
    await page.getByTestId('shell-terminal').click();
    await page.keyboard.type('PS1="berth$ "; echo hello-$((6*7)); echo "size=[$(stty size)]"\n');
    await expect(rows).toContainText('hello-42');
    // the pty was sized to the window, not left at 80×24
    await expect(rows).toContainText(/size=\[\d+ \d+\]/);
    const [, r, c] = /size=\[(\d+) (\d+)\]/.exec((await rows.textContent()) ?? '')!;
    expect([Number(r), Number(c)]).not.toEqual([24, 80]);
    expect(Number(c)).toBeGreaterThan(80);
    await page.screenshot({ path: path.join(SHOTS, 'console-shell.png') });
    await page.getByRole('tab', { name: 'Boot log' }).click();
    await expect(page.getByTestId('boot-terminal').locator('.xterm-rows')).toContainText('Linux version');
    await page.screenshot({ path: path.join(SHOTS, 'console-boot.png') });
    expect(errors.filter((e) => /Content Security Policy/i.test(e))).toEqual([]);
  } finally {
    await bridge.close();
    await backend.close();
  }
});
