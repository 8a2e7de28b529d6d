// The first Start on a real Mac, driven through the packed app with Playwright's _electron.
// Runs only in the macOS workflow (.github/workflows/macos.yml), which installs the packed app in
// /Applications and sets BERTH_E2E_MAC_APP to its executable; everywhere else it reports itself as
// SKIPPED, never as passed. The file name ends in electron.smoke.spec.ts so that the `electron`
// Playwright project runs it.
//
// The app gets a Finder-like environment: only what launchd gives an app opened from Finder
// (HOME, USER, LOGNAME, SHELL, TMPDIR and PATH=/usr/bin:/bin:/usr/sbin:/sbin), so no Homebrew
// QEMU and no developer variables: the bundled QEMU, the image download named by the shipped
// manifest (served by the workflow from 127.0.0.1), the docker context and the default shared
// folders must work on their own. HOME is a fresh folder (BERTH_E2E_HOME), so ~ is empty and
// the context is Berth's to create.
//
// The workflow also needs: a `docker` CLI on the test's own PATH (brew install docker), network
// for `docker pull` from inside the VM. Optional: BERTH_E2E_EXPECT_ACCEL=hvf|tcg.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { _electron as electron, expect, test } from '@playwright/test';
import type { ElectronApplication, Page } from '@playwright/test';
import type { BerthApi } from '../../electron/shared/contract.js';
import type { Status } from '../../electron/shared/status.js';

const run = promisify(execFile);
const APP = process.env.BERTH_E2E_MAC_APP;
const SHOTS = path.resolve(import.meta.dirname, '../artifacts/screenshots');
const BOOT_TIMEOUT = 15 * 60_000;
const IMAGE = process.env.BERTH_E2E_DOCKER_IMAGE ?? 'busybox:1.36';

test.skip(
  !APP || process.platform !== 'darwin',
  'the first-Start flow on a Mac runs only in the macOS workflow (BERTH_E2E_MAC_APP=<Berth.app>/Contents/MacOS/Berth on macOS)',
);
test.describe.configure({ mode: 'serial' });

/** What an app opened from Finder gets from launchd, with HOME replaced. */
function finderEnv(home: string): Record<string, string> {
  const user = process.env.USER ?? os.userInfo().username;
  return {
    HOME: home,
    USER: user,
    LOGNAME: user,
    SHELL: '/bin/zsh',
    TMPDIR: os.tmpdir() + path.sep,
    PATH: '/usr/bin:/bin:/usr/sbin:/sbin',
  };
}

let home: string;
let app: ElectronApplication;
let win: Page;
let tmpShare: string;

const badge = () => win.getByTestId('state-badge');
const status = async (): Promise<Status> => {
  const r = await win.evaluate(() => (globalThis as { berth?: BerthApi }).berth!.invoke('vm.status', {}));
  if (!r.ok) throw new Error(`vm.status: ${r.error.message}`);
  return r.value;
};
const instanceDir = (): string => path.join(home, '.berth', 'default');

async function docker(args: string[], timeout = 5 * 60_000): Promise<string> {
  const { stdout } = await run('docker', args, {
    env: { ...process.env, DOCKER_HOST: `unix://${path.join(instanceDir(), 'docker.sock')}` },
    timeout,
    maxBuffer: 16 << 20,
  });
  return stdout.trim();
}

async function waitRunning(what: string): Promise<void> {
  await expect(badge()).toHaveText(/^(Running|Error|Running with problems)$/, { timeout: BOOT_TIMEOUT });
  if ((await badge().textContent()) !== 'Running') {
    await win.screenshot({ path: path.join(SHOTS, `mac-${what}-failed.png`) });
    const panel = win.getByTestId('error-panel');
    throw new Error(`${what}: the dashboard says ${await badge().textContent()}${(await panel.count()) ? `: ${await panel.innerText()}` : ''}`);
  }
}

test.beforeAll(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  const base = process.env.BERTH_E2E_HOME;
  home = base ? (fs.mkdirSync(base, { recursive: true }), base) : fs.mkdtempSync(path.join(os.homedir(), 'berth-e2e-home-'));
  // realpath: the folder the user would type, and the one Berth shares as ~
  home = fs.realpathSync(home);
  tmpShare = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-e2e-')); // what `mktemp -d` gives: /var/folders/…
  app = await electron.launch({ executablePath: APP!, args: [], env: finderEnv(home), timeout: 120_000 });
  app.process().stdout?.on('data', (d: Buffer) => process.stdout.write(`[app] ${d.toString()}`));
  app.process().stderr?.on('data', (d: Buffer) => process.stderr.write(`[app] ${d.toString()}`));
  win = await app.firstWindow({ timeout: 120_000 });
});

test.afterAll(async () => {
  if (app) {
    await app.evaluate(({ app: a }) => a.exit(0)).catch(() => undefined);
  }
  if (tmpShare) fs.rmSync(tmpShare, { recursive: true, force: true });
});

test('the dashboard opens from /Applications, sandboxed, with Docker stopped', async () => {
  await expect(win.getByRole('heading', { name: 'Docker Engine' })).toBeVisible();
  await expect(badge()).toHaveText('Stopped', { timeout: 60_000 });
  expect(await app.evaluate(({ app: a }) => a.isInApplicationsFolder())).toBe(true);
  expect(await win.evaluate(() => typeof (globalThis as { process?: unknown }).process)).toBe('undefined');
});

test('Start downloads the image named by the shipped manifest and runs Docker with the bundled QEMU', async () => {
  test.setTimeout(BOOT_TIMEOUT + 60_000);
  await win.getByRole('button', { name: 'Start', exact: true }).click();
  await expect(badge()).toHaveText(/Starting|Running/);
  await waitRunning('first-start');
  await win.screenshot({ path: path.join(SHOTS, 'mac-running.png') });
  const st = await status();
  expect(st.dockerHost).toBe(`unix://${path.join(instanceDir(), 'docker.sock')}`);
  if (process.env.BERTH_E2E_EXPECT_ACCEL) expect(st.accel).toBe(process.env.BERTH_E2E_EXPECT_ACCEL);
  console.log(`accelerator: ${st.accel}${st.accelNote ? ` (${st.accelNote})` : ''}`);
  // the QEMU that runs is the one inside the app, not Homebrew's (which is not on the app's PATH)
  expect(st.pids.qemu).toBeGreaterThan(0);
  const { stdout: cmd } = await run('ps', ['-o', 'command=', '-p', String(st.pids.qemu)]);
  expect(cmd.trim()).toMatch(/^\/Applications\/Berth\.app\/Contents\/Resources\/qemu\/bin\/qemu-system-aarch64 /);
  // downloaded, verified and cached under ~/.berth/_cache/images
  const cache = path.join(home, '.berth', '_cache', 'images');
  expect(fs.readdirSync(cache).length).toBeGreaterThan(0);
});

test('the berth docker context exists and, in a fresh home, is the current one', async () => {
  const cfg = path.join(home, '.docker');
  const { stdout: host } = await run('docker', ['--config', cfg, 'context', 'inspect', 'berth', '--format', '{{.Endpoints.docker.Host}}']);
  expect(host.trim()).toBe(`unix://${path.join(instanceDir(), 'docker.sock')}`);
  const { stdout: current } = await run('docker', ['--config', cfg, 'context', 'show']);
  expect(current.trim()).toBe('berth');
  expect(await docker(['version', '--format', '{{.Server.Os}}/{{.Server.Arch}}'])).toBe('linux/arm64');
});

test('bind mounts of a folder in ~ and of a `mktemp -d` folder work both ways', async () => {
  test.setTimeout(10 * 60_000);
  await docker(['pull', IMAGE], 5 * 60_000);
  const inHome = path.join(home, 'berth-e2e-share');
  fs.mkdirSync(inHome, { recursive: true });
  for (const [label, dir] of [
    ['home', inHome],
    ['mktemp', tmpShare],
  ] as const) {
    fs.writeFileSync(path.join(dir, 'from-mac.txt'), `hello from the Mac (${label})\n`);
    const out = await docker(['run', '--rm', '-v', `${dir}:/w`, IMAGE, 'sh', '-c', `cat /w/from-mac.txt && echo "hello from a container (${label})" > /w/from-container.txt`]);
    expect(out, label).toBe(`hello from the Mac (${label})`);
    expect(fs.readFileSync(path.join(dir, 'from-container.txt'), 'utf8'), label).toBe(`hello from a container (${label})\n`);
  }
});

test('the console window opens a shell in the VM', async () => {
  test.setTimeout(3 * 60_000);
  const opened = app.waitForEvent('window', { timeout: 60_000 });
  await win.evaluate(() => (globalThis as { berth?: BerthApi }).berth!.invoke('console.show', {}));
  const con = await opened;
  await expect(con.getByTestId('shell-state')).toHaveText('Connected', { timeout: 60_000 });
  const term = con.getByTestId('shell-terminal');
  await term.click();
  await expect(term.locator('.xterm-rows')).toContainText(/[#$] *$/m, { timeout: 60_000 });
  await con.keyboard.type('uname -m; echo berth-$((6*7))\n');
  await expect(term.locator('.xterm-rows')).toContainText('berth-42', { timeout: 30_000 });
  await expect(term.locator('.xterm-rows')).toContainText('aarch64');
  await con.screenshot({ path: path.join(SHOTS, 'mac-console.png') });
  await con.close();
});

test('Stop, then Start resumes the saved VM', async () => {
  test.setTimeout(BOOT_TIMEOUT);
  await win.getByRole('button', { name: 'Stop', exact: true }).click();
  await expect(badge()).toHaveText('Stopped', { timeout: 5 * 60_000 });
  const stopped = await status();
  expect(stopped.lastStop?.how, stopped.lastStop?.note).toBe('suspend');
  expect(stopped.saved).toBeDefined();
  await win.getByRole('button', { name: 'Start', exact: true }).click();
  await waitRunning('resume');
  const resumed = await status();
  expect(resumed.resume?.resumed, resumed.resume?.reason).toBe(true);
  expect(await docker(['version', '--format', '{{.Server.Os}}'])).toBe('linux');
});

test('Quit stops the VM and the app exits within 60 s', async () => {
  test.setTimeout(2 * 60_000);
  const qemu = (await status()).pids.qemu;
  const t0 = Date.now();
  const closed = app.waitForEvent('close', { timeout: 60_000 });
  await app.evaluate(({ app: a }) => setTimeout(() => a.quit(), 0)).catch(() => undefined);
  await closed;
  console.log(`quit took ${Date.now() - t0} ms`);
  expect(Date.now() - t0).toBeLessThan(60_000);
  // QEMU is gone with it (suspended or shut down), not left running detached
  if (qemu) expect(() => process.kill(qemu, 0)).toThrow();
  expect(fs.existsSync(path.join(instanceDir(), 'qemu.pid'))).toBe(false);
  app = undefined as unknown as ElectronApplication;
});
