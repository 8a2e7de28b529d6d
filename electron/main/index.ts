// Electron main: the menu-bar app. One instance per user (single-instance lock), no Dock icon,
// the engine's supervisor in this process (or attached over the control socket), a tray menu and
// two windows talking to it through the typed IPC in ipc.ts.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, dialog, powerMonitor, session, shell } from 'electron';
import { DEFAULT_INSTANCE } from '../shared/files.js';
import { instancePaths } from '../engine/instance.js';
import type { Backend } from '../engine/backend.js';
import type { ConsoleSessions } from './console.js';
import { withConsoles } from './app-backend.js';
import { electronForker } from './agent-forker.js';
import { openEngine } from './engine-link.js';
import { contractArgument, forwardEvents, registerIpc } from './ipc.js';
import { QuitController, SleepHandler } from './lifecycle.js';
import { offerMoveToApplications } from './move-to-applications.js';
import { TrayController } from './tray.js';
import { hardenSession, isAllowedExternal, rendererRootUrl, WindowManager } from './windows.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** dist/electron/main → app root (the folder with package.json, or app.asar when packaged). */
function appRoot(): string {
  return app.getAppPath();
}

function log(msg: string): void {
  console.log(`[berth] ${msg}`);
}

async function main(): Promise<void> {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  app.dock?.hide();
  await app.whenReady();

  // Opened from Downloads or the dmg: offer (once) to move to Applications before anything starts.
  const moved = await offerMoveToApplications({
    platform: process.platform,
    isPackaged: app.isPackaged,
    exePath: app.getPath('exe'),
    isInApplicationsFolder: () => app.isInApplicationsFolder(),
    moveToApplicationsFolder: () => app.moveToApplicationsFolder(),
    showMessageBox: (options) => {
      // a menu-bar app is never frontmost on its own: without this the question opens behind other windows
      app.focus({ steal: true });
      return dialog.showMessageBox(options);
    },
    stateFile: path.join(app.getPath('userData'), 'move-to-applications.json'),
    log,
    showError: (title, message) => dialog.showErrorBox(title, message),
  });
  if (moved === 'moved') return;

  hardenSession(session.defaultSession);
  app.on('web-contents-created', (_e, wc) => {
    wc.on('will-attach-webview', (ev) => ev.preventDefault());
    wc.setWindowOpenHandler(() => ({ action: 'deny' }));
  });

  const instance = process.env.BERTH_INSTANCE || DEFAULT_INSTANCE;
  const paths = instancePaths(instance);
  const rendererDir = path.join(appRoot(), 'renderer', 'dist');
  let backend: Backend & { consoles: ConsoleSessions };
  // the console window's shells end with it
  const windows = new WindowManager(rendererDir, path.join(here, '..', 'preload', 'index.cjs'), contractArgument(), (kind) => {
    if (kind === 'console') backend?.consoles.closeAll();
  });

  try {
    // Packaged: the bundled QEMU and the image manifests live in the app's Resources.
    const link = await openEngine(instance, electronForker, undefined, app.isPackaged ? process.resourcesPath : undefined);
    log(link.hosted ? `supervising instance ${instance} in this process` : `attached to the supervisor of instance ${instance}`);
    backend = withConsoles(link.backend, { sshConfig: paths.sshConfig, dockerSocket: paths.docker, showConsole: () => windows.show('console') });
  } catch (e) {
    dialog.showErrorBox('Berth could not start its engine', e instanceof Error ? e.message : String(e));
    app.exit(1);
    return;
  }

  const unregister = registerIpc(backend, { isOurWebContents: (wc) => windows.isOurs(wc), rendererRoot: rendererRootUrl(rendererDir) }, log);
  const unforward = forwardEvents(backend, () => windows.contents());

  const tray: TrayController = new TrayController(
    backend,
    {
      start: () => void tray.run('start', () => backend.invoke('vm.start', {})),
      stop: () => void tray.run('stop', () => backend.invoke('vm.stop', {})),
      shutdown: () => void tray.run('shutdown', () => backend.invoke('vm.stop', { shutdown: true })),
      restart: () => void tray.run('restart', () => backend.invoke('vm.restart', {})),
      setEmulation: (enabled) => void tray.run('emulation', () => backend.invoke('emulation.set', { enabled })),
      openPort: (port) => {
        const url = `http://localhost:${port}/`;
        if (isAllowedExternal(url)) void shell.openExternal(url);
      },
      stopContainer: (id) => void backend.invoke('containers.stop', { id }),
      openDashboard: () => windows.show('dashboard'),
      openConsole: () => windows.show('console'),
      quit: () => app.quit(),
    },
    path.join(appRoot(), 'resources', 'tray'),
  );

  app.on('second-instance', () => windows.show('dashboard'));
  // A menu-bar app keeps running with no window open.
  app.on('window-all-closed', () => undefined);
  // the Mac sleeps: suspend the VM to disk if the user asked for it; wakes: resume it, or fix the clock
  const sleep = new SleepHandler(backend, log, (action, fn) => tray.run(action, fn));
  powerMonitor.on('suspend', () => void sleep.onSuspend());
  powerMonitor.on('resume', () => void sleep.onResume());

  // Quit: stop or suspend the VM first. Logout, restart, shutdown: a quick stop, and never hold
  // the quit back (that would make macOS cancel the whole logout).
  const quit = new QuitController(backend, {
    teardown: () => {
      unforward();
      unregister();
      tray.destroy();
      windows.closeAll();
    },
    exit: (code) => app.exit(code),
    log,
  });
  app.on('before-quit', (e) => quit.onBeforeQuit(e));
  powerMonitor.on('shutdown', (e?: { preventDefault: () => void }) => void quit.onSystemShutdown(e));

  if (process.argv.includes('--show-dashboard') || !app.getLoginItemSettings().wasOpenedAtLogin) windows.show('dashboard');
}

main().catch((e: unknown) => {
  console.error(e);
  app.exit(1);
});
