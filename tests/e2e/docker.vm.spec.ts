// The Containers, Images, Volumes and Disk views in Chromium against a REAL supervisor and VM
// (through the bridge): two containers, one with a published port and one compose-labelled, shown
// grouped; a stop seen without a reload; a log line printed after the view opened; a Shell that runs
// `uname -m` in the container (docker exec through the Engine API); remove with confirmation; the
// images view marking a foreign-architecture image; screenshots of each view, light and dark.
// One VM for the whole file, so the tests run in order.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from '@playwright/test';
import type { Page } from '@playwright/test';
import { importBusybox } from './busybox-image.js';
import { startRealEngine } from './real-engine.js';
import type { RealEngine } from './real-engine.js';
import { foreignImageArchive } from '../integration/foreign-image.js';
import type { Arch } from '../../electron/shared/status.js';

const run = promisify(execFile);
const DOCS = path.resolve(import.meta.dirname, '../../docs/screenshots');
const PORT = Number(process.env.BERTH_E2E_PORT ?? 18081);
const IMAGE = 'berth-e2e/busybox:latest';
const FOREIGN = 'berth-e2e/foreign:latest';
const PROJECT = 'berth-e2e-app';
const WEB = 'berth-e2e-web';
const WORKER = `${PROJECT}-worker-1`;
const BOOT_TIMEOUT = 10 * 60_000;

test.describe.configure({ mode: 'serial' });

let engine: RealEngine;
let page: Page;
let vmArch: Arch;

async function docker(args: string[], timeout = 180_000): Promise<string> {
  const { stdout } = await run('docker', args, { env: { ...process.env, DOCKER_HOST: `unix://${engine.paths.docker}` }, timeout, maxBuffer: 64 << 20 });
  return stdout.trim();
}

/** The VM's busybox of the other architecture (its emulation self-test) as a foreign image. */
async function loadForeignImage(foreign: Arch): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-foreign-'));
  try {
    const bb = path.join(dir, `busybox-${foreign}`);
    const { stdout } = await run('docker', ['run', '--rm', '-v', '/usr/share/berth/selftest:/s:ro', IMAGE, 'cat', `/s/busybox-${foreign}`], {
      env: { ...process.env, DOCKER_HOST: `unix://${engine.paths.docker}` },
      encoding: 'buffer',
      maxBuffer: 64 << 20,
      timeout: 180_000,
    });
    fs.writeFileSync(bb, stdout);
    await docker(['load', '-i', foreignImageArchive(bb, foreign, FOREIGN)]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function pane(p: Page, name: string): Promise<void> {
  await p.getByRole('navigation', { name: 'Sections' }).getByRole('button', { name: new RegExp(`^${name}`) }).click();
  await expect(p.getByRole('heading', { level: 2, name })).toBeVisible();
}

async function shots(name: string): Promise<void> {
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: path.join(DOCS, `vm-${name}-${scheme}.png`) });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

const row = (name: string) => page.locator(`tr[data-container="${name}"]`);

test.beforeAll(async ({ browser }) => {
  test.setTimeout(BOOT_TIMEOUT + 5 * 60_000);
  fs.mkdirSync(DOCS, { recursive: true });
  engine = await startRealEngine();
  const set = await engine.backend.invoke('settings.set', { patch: { cpus: 2, memoryGiB: 2, mounts: [], docker: { context: false, defaultSocket: false } } });
  if (!set.ok) throw new Error(`settings.set: ${set.error.message}`);
  const st = await engine.backend.invoke('vm.start', {});
  if (!st.ok) throw new Error(`vm.start: ${st.error.message}`);
  if (st.value.state !== 'running' && st.value.state !== 'degraded') throw new Error(`the VM is ${st.value.state}: ${st.value.error?.message ?? ''}`);
  vmArch = st.value.arch;
  await importBusybox((args) => docker(args), IMAGE);
  page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
  await engine.bridge.authorize(page);
  await page.goto(engine.bridge.url);
  await expect(page.getByTestId('state-badge')).toHaveText(/^Running/);
});

test.afterAll(async () => {
  if (!engine) return;
  const st = await engine.backend.invoke('vm.status', {});
  if (st.ok && st.value.state !== 'stopped') await engine.backend.invoke('vm.stop', { force: true, shutdown: true });
  await page?.close();
  await engine.close();
});

test('two containers appear grouped: the compose project apart, the published port a localhost link', async () => {
  test.setTimeout(6 * 60_000);
  await pane(page, 'Containers');
  await expect(page.getByTestId('containers-empty')).toBeVisible({ timeout: 60_000 });
  await docker(['run', '-d', '--name', WEB, '-p', `${PORT}:8080`, IMAGE, 'httpd', '-f', '-p', '8080', '-h', '/www']);
  // prints what is written to /tmp/say: a line the test makes it print once the Logs view is open
  await docker([
    'run', '-d', '--name', WORKER,
    '--label', `com.docker.compose.project=${PROJECT}`, '--label', 'com.docker.compose.service=worker',
    IMAGE, 'sh', '-c', 'echo worker up; while true; do if [ -f /tmp/say ]; then cat /tmp/say; rm /tmp/say; fi; sleep 0.3; done',
  ]);
  // no reload: the list comes from the containers event (Docker's /events stream)
  const groups = page.getByTestId('container-group');
  await expect(groups).toHaveCount(2, { timeout: 60_000 });
  await expect(groups.first()).toHaveAttribute('data-project', PROJECT);
  await expect(groups.first().locator(`tr[data-container="${WORKER}"]`)).toHaveAttribute('data-state', 'running');
  await expect(groups.nth(1).locator(`tr[data-container="${WEB}"]`)).toHaveAttribute('data-state', 'running');
  const link = row(WEB).getByRole('link', { name: `${PORT}:8080` });
  await expect(link).toHaveAttribute('href', `http://localhost:${PORT}/`);
  await expect.poll(async () => (await fetch(`http://127.0.0.1:${PORT}/`).then((r) => r.text()).catch(() => '')), { timeout: 60_000 }).toBe('hello from berth\n');
  // CPU and memory from the stats endpoint, refreshed while the view is open
  await expect(row(WEB).locator('td.num').nth(1)).toHaveText(/\d+(\.\d)? (B|KB|MB)/, { timeout: 60_000 });
  await shots('containers');
});

test('stop one: its state changes without a reload', async () => {
  test.setTimeout(3 * 60_000);
  await page.getByRole('button', { name: `Stop ${WEB}` }).click();
  await expect(row(WEB)).toHaveAttribute('data-state', 'exited', { timeout: 90_000 });
  await expect(row(WEB).getByTestId('container-state')).toHaveText('Exited');
  expect(await docker(['inspect', '-f', '{{.State.Status}}', WEB])).toBe('exited');
});

test('logs stream a line the container prints after the view opened', async () => {
  test.setTimeout(3 * 60_000);
  await page.getByRole('button', { name: `Logs of ${WORKER}` }).click();
  const log = page.getByTestId('container-log');
  await expect(log).toContainText('worker up', { timeout: 60_000 });
  await expect(page.getByTestId('log-state')).toHaveText('Streaming');
  const marker = `printed-after-open-${Date.now()}`;
  await docker(['exec', WORKER, 'sh', '-c', `echo ${marker} > /tmp/say`]);
  await expect(log).toContainText(marker, { timeout: 60_000 });
  await page.getByRole('searchbox', { name: 'Search the log' }).fill(marker);
  await expect(page.getByTestId('log-state')).toContainText('1 of');
  await shots('container-logs');
  await page.getByRole('button', { name: 'Back to containers' }).click();
});

test('Shell runs `uname -m` in the container, through the Engine API', async ({ browser }) => {
  test.setTimeout(3 * 60_000);
  await page.getByRole('button', { name: `Shell in ${WORKER}` }).click();
  // the app would show its console window here; in the browser we open the console page
  const con = await browser.newPage({ viewport: { width: 860, height: 540 } });
  await engine.bridge.authorize(con);
  try {
    await con.goto(`${engine.bridge.url}console.html`);
    await expect(con.getByTestId('shell-target')).toHaveText(`in container ${WORKER}`);
    await expect(con.getByTestId('shell-state')).toHaveText('Connected', { timeout: 60_000 });
    const term = con.getByTestId('shell-terminal');
    await term.click();
    await expect(term.locator('.xterm-rows')).toContainText(/[#$] *$/m, { timeout: 60_000 });
    await con.keyboard.type('uname -m; echo in-$((6*7))\n');
    await expect(term.locator('.xterm-rows')).toContainText('in-42', { timeout: 30_000 });
    await expect(term.locator('.xterm-rows')).toContainText(vmArch);
    await con.screenshot({ path: path.join(DOCS, 'vm-container-shell.png') });
  } finally {
    await con.close();
  }
});

test('remove asks first, then the container is gone', async () => {
  test.setTimeout(3 * 60_000);
  await page.getByRole('button', { name: `Remove ${WEB}` }).click();
  const dialog = page.getByRole('alertdialog', { name: `Remove ${WEB}?` });
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(row(WEB)).toHaveCount(1);
  await page.getByRole('button', { name: `Remove ${WEB}` }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Remove' }).click();
  await expect(row(WEB)).toHaveCount(0, { timeout: 60_000 });
  await expect(docker(['inspect', WEB])).rejects.toThrow(/No such object/);
});

test('the images view marks a foreign-architecture image', async () => {
  test.setTimeout(5 * 60_000);
  const foreign: Arch = vmArch === 'x86_64' ? 'aarch64' : 'x86_64';
  await loadForeignImage(foreign);
  await pane(page, 'Images');
  const img = page.locator(`tr[data-image="${FOREIGN}"]`);
  await expect(img).toBeVisible({ timeout: 60_000 });
  await expect(img).toContainText(foreign === 'aarch64' ? 'arm64' : 'amd64');
  await expect(img.getByTestId('emulated-badge')).toHaveText(/^(Emulated|Needs emulation \(off\))$/);
  await expect(page.locator(`tr[data-image="${IMAGE}"]`).getByTestId('emulated-badge')).toHaveCount(0);
  await shots('images');
});

test('volumes and disk: a volume with its user, the disk file and system df', async () => {
  test.setTimeout(5 * 60_000);
  await docker(['volume', 'create', 'berth-e2e-data']);
  await docker(['run', '-d', '--name', 'berth-e2e-vol', '-v', 'berth-e2e-data:/data', IMAGE, 'sh', '-c', 'echo hi > /data/hi; sleep 3600']);
  await pane(page, 'Volumes');
  await expect(page.locator('tr[data-volume="berth-e2e-data"]')).toContainText('berth-e2e-vol', { timeout: 60_000 });
  await shots('volumes');
  await pane(page, 'Disk');
  await expect(page.getByTestId('disk-allocated')).toHaveText(/\d+(\.\d)? (MB|GB)/, { timeout: 60_000 });
  await expect(page.getByTestId('df-table').locator('tr[data-kind="volumes"]')).toContainText(/^Volumes\s*1\s*1/, { timeout: 60_000 });
  await shots('disk');
});
