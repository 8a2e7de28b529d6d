// The app's wiring (electron/main/index.ts) with the whole `electron` module faked and the engine
// replaced by the dev-only fake backend: lock, Dock, IPC, tray, windows, resume, quit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

type Handler = (...a: unknown[]) => unknown;

const h = vi.hoisted(() => {
  const state = {
    lock: true,
    appEvents: new Map<string, Handler>(),
    powerEvents: new Map<string, Handler>(),
    handles: new Set<string>(),
    windows: [] as Array<{ options: Record<string, unknown>; file?: string }>,
    trays: 0,
    exitCode: null as number | null,
    quit: 0,
    dockHidden: 0,
    menus: [] as MenuItemConstructorOptions[][],
    trayDestroyed: 0,
    packaged: false,
    inApplications: false,
    moves: 0,
    messageBoxes: [] as Array<{ message: string; buttons: string[] }>,
    answer: 1,
    userData: '/nonexistent/berth-user-data',
  };
  return { state };
});

vi.mock('electron', () => {
  const s = h.state;
  class BrowserWindow {
    webContents = { id: s.windows.length + 1, setWindowOpenHandler: vi.fn(), on: vi.fn(), getURL: () => '', isDestroyed: () => false, send: vi.fn() };
    constructor(options: Record<string, unknown>) {
      s.windows.push({ options });
    }
    once = vi.fn();
    on = vi.fn();
    isDestroyed = () => false;
    isMinimized = () => false;
    show = vi.fn();
    focus = vi.fn();
    destroy = vi.fn();
    loadFile = vi.fn(async (f: string) => {
      s.windows.at(-1)!.file = f;
    });
  }
  return {
    app: {
      requestSingleInstanceLock: () => s.lock,
      quit: () => s.quit++,
      exit: (c: number) => (s.exitCode = c),
      dock: { hide: () => s.dockHidden++ },
      whenReady: async () => undefined,
      on: (e: string, fn: Handler) => s.appEvents.set(e, fn),
      getAppPath: () => '/Applications/Berth.app/Contents/Resources/app.asar',
      getLoginItemSettings: () => ({ wasOpenedAtLogin: false }),
      get isPackaged() {
        return s.packaged;
      },
      getPath: (name: string) => (name === 'exe' ? '/private/var/folders/x/AppTranslocation/ABC/d/Berth.app/Contents/MacOS/Berth' : s.userData),
      isInApplicationsFolder: () => s.inApplications,
      moveToApplicationsFolder: () => {
        s.moves++;
        return true;
      },
      focus: vi.fn(),
    },
    dialog: {
      showErrorBox: vi.fn(),
      showMessageBox: async (o: { message: string; buttons: string[] }) => {
        s.messageBoxes.push(o);
        return { response: s.answer };
      },
    },
    powerMonitor: { on: (e: string, fn: Handler) => s.powerEvents.set(e, fn) },
    session: { defaultSession: { setPermissionRequestHandler: vi.fn(), setPermissionCheckHandler: vi.fn(), webRequest: { onBeforeRequest: vi.fn() } } },
    shell: { openExternal: vi.fn() },
    ipcMain: { handle: (ch: string) => s.handles.add(ch), removeHandler: (ch: string) => s.handles.delete(ch) },
    BrowserWindow,
    nativeTheme: { shouldUseDarkColors: false },
    Tray: class {
      constructor() {
        s.trays++;
      }
      isDestroyed = () => false;
      setImage = vi.fn();
      setToolTip = vi.fn();
      setContextMenu = (m: MenuItemConstructorOptions[]) => s.menus.push(m);
      destroy = () => s.trayDestroyed++;
    },
    Menu: { buildFromTemplate: (t: unknown) => t },
    nativeImage: { createFromPath: () => ({ setTemplateImage: vi.fn() }) },
    utilityProcess: { fork: vi.fn() },
  };
});

const engine = vi.hoisted(() => ({ backend: null as unknown }));
vi.mock('../../../electron/main/engine-link.js', () => ({
  openEngine: vi.fn(async () => ({ backend: engine.backend, hosted: true })),
}));

import { METHODS } from '../../../electron/shared/contract.js';
import { FakeBackend } from '../../fixtures/fake-backend.js';
import { makeStatus, SETTINGS } from '../../fixtures/status.js';
import type { Settings } from '../../../electron/shared/settings.js';
import type { MenuItemConstructorOptions } from 'electron';

const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

async function boot(settings: Partial<Settings> = {}): Promise<FakeBackend> {
  const fake = new FakeBackend({ status: makeStatus('running'), settings: { ...SETTINGS, ...settings }, speed: 0 });
  engine.backend = fake;
  vi.resetModules();
  await import('../../../electron/main/index.js');
  await flush();
  await flush();
  return fake;
}

describe('app lifecycle', () => {
  beforeEach(() => {
    const s = h.state;
    Object.assign(s, { lock: true, trays: 0, exitCode: null, quit: 0, dockHidden: 0, windows: [], menus: [], trayDestroyed: 0, packaged: false, inApplications: false, moves: 0, messageBoxes: [], answer: 1 });
    s.userData = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-userdata-'));
    s.appEvents.clear();
    s.powerEvents.clear();
    s.handles.clear();
  });

  afterEach(() => {
    fs.rmSync(h.state.userData, { recursive: true, force: true });
  });

  it('quits at once when another instance holds the lock', async () => {
    h.state.lock = false;
    await boot();
    expect(h.state.quit).toBe(1);
    expect(h.state.trays).toBe(0);
    expect(h.state.handles.size).toBe(0);
  });

  it('hides the Dock icon, registers the IPC, builds the tray and opens the dashboard', async () => {
    await boot();
    expect(h.state.dockHidden).toBe(1);
    expect([...h.state.handles].sort()).toEqual(METHODS.map((m) => `berth:invoke:${m}`).sort());
    expect(h.state.trays).toBe(1);
    expect(h.state.windows).toHaveLength(1);
    const w = h.state.windows[0]!;
    expect(w.file).toBe('/Applications/Berth.app/Contents/Resources/app.asar/renderer/dist/index.html');
    expect(w.options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false });
    expect((w.options.webPreferences as { preload: string }).preload).toMatch(/dist\/electron\/preload\/index\.cjs$|electron\/preload\/index\.cjs$/);
    // a second launch shows the dashboard instead of starting another app
    expect(h.state.appEvents.has('second-instance')).toBe(true);
  });

  it('tells the engine when the Mac wakes up (the guest clock is corrected)', async () => {
    const fake = await boot();
    const before = fake.calls.length;
    await h.state.powerEvents.get('resume')!();
    await flush();
    expect(fake.calls.slice(before).map((c) => c.method)).toContain('vm.wake');
  });

  it('suspends the VM before the Mac sleeps when asked to, and resumes it on wake', async () => {
    const fake = await boot({ suspendOnSleep: true });
    const before = fake.calls.length;
    const changes = (): string[] => fake.calls.slice(before).map((c) => c.method).filter((m) => m !== 'vm.status' && m !== 'settings.get' && m !== 'containers.list');
    await h.state.powerEvents.get('suspend')!();
    for (let i = 0; i < 5; i++) await flush();
    expect(changes()).toEqual(['vm.stop']);
    expect(fake.calls.find((c) => c.method === 'vm.stop')?.params).toEqual({});
    expect(fake.status.saved).toBeDefined();
    // the tray says so
    const menu = h.state.menus.at(-1)!;
    expect(menu.find((i) => i.id === 'status')?.label).toBe('Docker is stopped — saved, starts in about a second');
    await h.state.powerEvents.get('resume')!();
    for (let i = 0; i < 5; i++) await flush();
    expect(changes()).toEqual(['vm.stop', 'vm.start']);
    expect(fake.status).toMatchObject({ state: 'running', resume: { resumed: true } });
  });

  it('leaves the VM alone before sleep by default', async () => {
    const fake = await boot();
    await h.state.powerEvents.get('suspend')!();
    await flush();
    expect(fake.calls.map((c) => c.method)).not.toContain('vm.stop');
    expect(fake.status.state).toBe('running');
  });

  it('wires the tray’s Shut down to vm.stop {shutdown: true}', async () => {
    const fake = await boot();
    const shut = h.state.menus.at(-1)!.find((i) => i.id === 'shutdown')!;
    expect(shut.enabled).toBe(true);
    (shut.click as () => void)();
    await flush();
    expect(fake.calls.filter((c) => c.method === 'vm.stop').map((c) => c.params)).toEqual([{ shutdown: true }]);
  });

  it('stops the VM gracefully on quit, then exits', async () => {
    const fake = await boot();
    const prevent = vi.fn();
    h.state.appEvents.get('before-quit')!({ preventDefault: prevent });
    expect(prevent).toHaveBeenCalled();
    for (let i = 0; i < 10 && h.state.exitCode === null; i++) await flush();
    expect(fake.calls.map((c) => c.method)).toContain('vm.stop');
    expect(h.state.exitCode).toBe(0);
    expect(h.state.handles.size).toBe(0);
  });

  it('on a logout, restart or shutdown of the Mac: a quick stop, the quit is never held back, the app exits', async () => {
    const fake = await boot({ stopMode: 'suspend' });
    const shutdownEvent = { preventDefault: vi.fn() };
    void h.state.powerEvents.get('shutdown')!(shutdownEvent);
    // macOS then asks the app to quit: holding that back would cancel the logout
    const prevent = vi.fn();
    h.state.appEvents.get('before-quit')!({ preventDefault: prevent });
    expect(prevent).not.toHaveBeenCalled();
    for (let i = 0; i < 10 && h.state.exitCode === null; i++) await flush();
    expect(fake.calls.filter((c) => c.method === 'vm.stop').map((c) => c.params)).toEqual([{ force: true }]);
    expect(fake.status.saved).toBeUndefined(); // no suspend: it would not finish in time
    expect(h.state.exitCode).toBe(0);
    expect(h.state.handles.size).toBe(0);
    expect(h.state.trayDestroyed).toBe(1);
  });

  it('a normal quit still suspends when Stop is set to suspend', async () => {
    const fake = await boot({ stopMode: 'suspend' });
    const prevent = vi.fn();
    h.state.appEvents.get('before-quit')!({ preventDefault: prevent });
    expect(prevent).toHaveBeenCalledTimes(1);
    for (let i = 0; i < 10 && h.state.exitCode === null; i++) await flush();
    // vm.stop {} is the stop that suspends when stopMode is suspend (no force, no shutdown)
    expect(fake.calls.filter((c) => c.method === 'vm.stop').map((c) => c.params)).toEqual([{}]);
    expect(h.state.exitCode).toBe(0);
  });

  it('keeps the VM running on quit when the setting says so', async () => {
    const fake = await boot();
    fake.settings.keepRunningOnQuit = true;
    h.state.appEvents.get('before-quit')!({ preventDefault: vi.fn() });
    for (let i = 0; i < 10 && h.state.exitCode === null; i++) await flush();
    expect(fake.calls.map((c) => c.method)).not.toContain('vm.stop');
    expect(h.state.exitCode).toBe(0);
  });
});

describe('first launch outside Applications (macOS)', () => {
  const realPlatform = process.platform;
  beforeEach(() => {
    const s = h.state;
    Object.assign(s, { lock: true, trays: 0, exitCode: null, quit: 0, dockHidden: 0, windows: [], menus: [], trayDestroyed: 0, packaged: true, inApplications: false, moves: 0, messageBoxes: [], answer: 1 });
    s.userData = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-userdata-'));
    s.appEvents.clear();
    s.powerEvents.clear();
    s.handles.clear();
    Object.defineProperty(process, 'platform', { value: 'darwin', configurable: true });
  });
  afterEach(() => {
    Object.defineProperty(process, 'platform', { value: realPlatform, configurable: true });
    fs.rmSync(h.state.userData, { recursive: true, force: true });
  });

  it('offers to move to Applications and, on Move, moves and starts nothing', async () => {
    h.state.answer = 0;
    await boot();
    expect(h.state.messageBoxes).toHaveLength(1);
    expect(h.state.messageBoxes[0]).toMatchObject({ message: 'Move Berth to the Applications folder?', buttons: ['Move to Applications', 'Not Now'] });
    expect(h.state.moves).toBe(1);
    // the app relaunches from /Applications: this copy starts no engine, tray or IPC
    expect(h.state.trays).toBe(0);
    expect(h.state.handles.size).toBe(0);
  });

  it('on Not Now, starts as usual and does not ask again at the next launch', async () => {
    await boot();
    expect(h.state.messageBoxes).toHaveLength(1);
    expect(h.state.moves).toBe(0);
    expect(h.state.trays).toBe(1);
    h.state.trays = 0;
    await boot();
    expect(h.state.messageBoxes).toHaveLength(1);
    expect(h.state.trays).toBe(1);
  });

  it('asks nothing when the app already runs from Applications', async () => {
    h.state.inApplications = true;
    await boot();
    expect(h.state.messageBoxes).toHaveLength(0);
    expect(h.state.trays).toBe(1);
  });
});
