// The built renderer, in Chromium, against a REAL supervisor and VM through the bridge: the user's
// path from Start to Stop. One VM for the whole file, so the tests run in order.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from '@playwright/test';
import type { Page } from '@playwright/test';
import { importBusybox } from './busybox-image.js';
import { startRealEngine } from './real-engine.js';
import type { RealEngine } from './real-engine.js';

const run = promisify(execFile);
const SHOTS = path.resolve(import.meta.dirname, '../artifacts/screenshots');
const PORT = Number(process.env.BERTH_E2E_PORT ?? 18080);
const IMAGE = 'berth-e2e/busybox:latest';
const BOOT_TIMEOUT = 10 * 60_000;

test.describe.configure({ mode: 'serial' });

let engine: RealEngine;
let page: Page;

async function docker(args: string[], timeout = 120_000): Promise<string> {
  const st = await engine.backend.invoke('vm.status', {});
  if (!st.ok) throw new Error(st.error.message);
  const { stdout } = await run('docker', args, { env: { ...process.env, DOCKER_HOST: st.value.dockerHost }, timeout, maxBuffer: 16 << 20 });
  return stdout.trim();
}

async function pane(name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: new RegExp(`^${name}`) }).click();
  await expect(page.getByRole('heading', { level: 2, name })).toBeVisible();
}

const badge = () => page.getByTestId('state-badge');

test.beforeAll(async ({ browser }) => {
  fs.mkdirSync(SHOTS, { recursive: true });
  engine = await startRealEngine();
  // small and quick: this machine has 2 cores and boots under TCG. No host folders: mounts are
  // not what this suite is about, and on a Linux host run as root "~" is /root. No docker
  // context either: the test passes DOCKER_HOST and leaves the user's ~/.docker alone.
  const set = await engine.backend.invoke('settings.set', { patch: { cpus: 2, memoryGiB: 2, mounts: [], docker: { context: false, defaultSocket: false } } });
  if (!set.ok) throw new Error(`settings.set: ${set.error.message}`);
  page = await browser.newPage();
  await engine.bridge.authorize(page);
});

test.afterAll(async () => {
  if (!engine) return;
  const st = await engine.backend.invoke('vm.status', {});
  if (st.ok && st.value.state !== 'stopped') await engine.backend.invoke('vm.stop', { force: true });
  await page?.close();
  await engine.close();
});

test('Start: the readiness steps appear, then the VM runs', async () => {
  await page.goto(engine.bridge.url);
  await expect(badge()).toHaveText('Stopped');
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  await expect(badge()).toHaveText(/Starting|Running/);
  const steps = page.getByTestId('steps');
  await expect(steps).toBeVisible();
  await expect(steps.getByRole('listitem')).toHaveCount(9);
  await expect(steps.locator('[data-step="qemu"]')).toHaveAttribute('data-state', 'done', { timeout: BOOT_TIMEOUT });
  await page.screenshot({ path: path.join(SHOTS, 'vm-starting.png') });
  await expect(badge()).toHaveText(/^(Running|Error|Running with problems)$/, { timeout: BOOT_TIMEOUT });
  if ((await badge().textContent()) === 'Error') {
    await page.screenshot({ path: path.join(SHOTS, 'vm-start-failed.png') });
    throw new Error(`the VM failed to start; the dashboard says: ${await page.getByTestId('error-panel').innerText()}`);
  }
  await expect(badge()).toHaveText('Running');
  for (const step of ['image', 'disk', 'qemu', 'kernel', 'ssh', 'boot-marker', 'docker', 'socket']) {
    await expect(steps.locator(`[data-step="${step}"]`)).toHaveAttribute('data-state', /done|skipped/);
  }
  await expect(steps.locator('[data-step="docker"] .step-time')).toHaveText(/\d+(\.\d)? (ms|s)/);
  await expect(page.getByTestId('docker-host')).toHaveText(`unix://${engine.paths.docker}`);
  await page.screenshot({ path: path.join(SHOTS, 'vm-running.png') });
});

test('docker run -d -p: the port appears in the table', async () => {
  test.setTimeout(5 * 60_000);
  await importBusybox((args) => docker(args), IMAGE);
  await docker(['run', '-d', '--name', 'berth-e2e-web', '-p', `${PORT}:8080`, IMAGE, 'httpd', '-f', '-p', '8080', '-h', '/www']);
  await pane('Ports');
  const row = page.locator(`tr[data-port="${PORT}"]`);
  await expect(row).toBeVisible({ timeout: 60_000 });
  await expect(row).toHaveAttribute('data-state', 'forwarding');
  await expect(row).toContainText('Forwarding');
  await expect(row.getByRole('link', { name: `localhost:${PORT}` })).toHaveAttribute('href', `http://localhost:${PORT}/`);
  const res = await fetch(`http://127.0.0.1:${PORT}/`);
  expect(await res.text()).toBe('hello from berth\n');
  await page.screenshot({ path: path.join(SHOTS, 'vm-ports.png') });

  await docker(['rm', '-f', 'berth-e2e-web']);
  await expect(row).toHaveCount(0, { timeout: 60_000 });
});

test('toggle emulation: the self-test result shows', async () => {
  test.setTimeout(3 * 60_000);
  await pane('Emulation');
  const sw = page.getByTestId('emulation-switch');
  await expect(sw).toBeEnabled();
  if (await sw.isChecked()) {
    await sw.click();
    await expect(sw).not.toBeChecked({ timeout: 60_000 });
    await expect(page.getByTestId('emulation-state')).toHaveText(/^Off/, { timeout: 60_000 });
  }
  await sw.click();
  await expect(sw).toBeChecked({ timeout: 60_000 });
  const selftest = page.getByTestId('selftest');
  await expect(selftest).toContainText('Passed', { timeout: 60_000 });
  await expect(selftest).toContainText(/qemu-(x86_64|aarch64)/);
  await expect(page.getByTestId('selftest-output')).not.toHaveText('(no output)');
  await expect(page.getByTestId('emulation-state')).toHaveText(/^On/);
  await page.screenshot({ path: path.join(SHOTS, 'vm-emulation.png') });
});

test('console: the Shell tab runs `uname -a`; the Boot log tab shows the serial console', async ({ browser }) => {
  const con = await browser.newPage({ viewport: { width: 860, height: 540 } });
  await engine.bridge.authorize(con);
  try {
    await con.goto(`${engine.bridge.url}console.html`);
    await expect(con.getByTestId('shell-state')).toHaveText('Connected', { timeout: 60_000 });
    const term = con.getByTestId('shell-terminal');
    await term.click();
    // wait for a prompt, then type
    await expect(term.locator('.xterm-rows')).toContainText(/[#$] *$/m, { timeout: 60_000 });
    await con.keyboard.type('uname -a; echo berth-$((6*7))\n');
    await expect(term.locator('.xterm-rows')).toContainText('berth-42', { timeout: 30_000 });
    await expect(term.locator('.xterm-rows')).toContainText(/Linux \S+ \d+\.\d+.*GNU\/Linux/);
    await con.screenshot({ path: path.join(SHOTS, 'vm-console-shell.png') });

    await con.getByRole('tab', { name: 'Boot log' }).click();
    const boot = con.getByTestId('boot-terminal');
    await expect(boot.locator('.xterm-rows')).not.toBeEmpty();
    await con.screenshot({ path: path.join(SHOTS, 'vm-console-boot.png') });
  } finally {
    await con.close();
  }
});

test('Stop: the VM stops', async () => {
  test.setTimeout(3 * 60_000);
  await pane('Overview');
  await page.getByRole('button', { name: 'Stop', exact: true }).click();
  await expect(badge()).toHaveText(/Stopping|Stopped/);
  await expect(badge()).toHaveText('Stopped', { timeout: 120_000 });
  await expect(page.getByRole('button', { name: 'Start', exact: true })).toBeEnabled();
  await page.screenshot({ path: path.join(SHOTS, 'vm-stopped.png') });
});
