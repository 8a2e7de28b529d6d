// The dashboard and console windows. Options are a pure function (unit-tested); the manager below
// creates at most one window of each kind, loads only our renderer's files and refuses navigation,
// new windows, webviews and permission requests.
import { BrowserWindow, nativeTheme, shell } from 'electron';
import type { BrowserWindowConstructorOptions, Session, WebContents } from 'electron';
import { pathToFileURL } from 'node:url';
import path from 'node:path';

export type WindowKind = 'dashboard' | 'console';

export const PAGES: Record<WindowKind, string> = { dashboard: 'index.html', console: 'console.html' };

/** Same policy as the <meta> tags in renderer/*.html (xterm's DOM renderer needs inline <style>). */
export const CSP: Record<WindowKind, string> = {
  dashboard: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'",
  console: "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'",
};

export interface WindowEnv {
  preload: string;
  contractArg: string;
  dark: boolean;
}

export function windowOptions(kind: WindowKind, env: WindowEnv): BrowserWindowConstructorOptions {
  const common: BrowserWindowConstructorOptions = {
    show: false,
    backgroundColor: env.dark ? '#1e1e1e' : '#ececec',
    titleBarStyle: 'default',
    autoHideMenuBar: true,
    webPreferences: {
      preload: env.preload,
      additionalArguments: [env.contractArg],
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webviewTag: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      navigateOnDragDrop: false,
      spellcheck: false,
      safeDialogs: true,
    },
  };
  if (kind === 'dashboard') {
    return { ...common, title: 'Berth', width: 920, height: 720, minWidth: 720, minHeight: 520 };
  }
  return { ...common, title: 'Berth Console', width: 860, height: 540, minWidth: 480, minHeight: 300, backgroundColor: '#1e1e1e' };
}

/** Links the renderer may open outside the app: only local published ports (http(s)://localhost:PORT/…). */
export function isAllowedExternal(url: string): boolean {
  try {
    const u = new URL(url);
    return (u.protocol === 'http:' || u.protocol === 'https:') && (u.hostname === 'localhost' || u.hostname === '127.0.0.1') && u.username === '' && u.password === '';
  } catch {
    return false;
  }
}

export function rendererRootUrl(rendererDir: string): string {
  const u = pathToFileURL(path.resolve(rendererDir)).href;
  return u.endsWith('/') ? u : `${u}/`;
}

/** Blocks navigation away from the loaded page, new windows (local port links go to the browser), webviews. */
export function hardenWebContents(wc: WebContents, openExternal: (url: string) => void): void {
  wc.setWindowOpenHandler(({ url }) => {
    if (isAllowedExternal(url)) openExternal(url);
    return { action: 'deny' };
  });
  wc.on('will-navigate', (e, url) => {
    if (url !== wc.getURL()) e.preventDefault();
  });
  wc.on('will-redirect', (e) => e.preventDefault());
  wc.on('will-attach-webview', (e) => e.preventDefault());
}

export function hardenSession(ses: Session): void {
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  // Nothing remote is ever loaded: refuse every request that is not a file of the app.
  ses.webRequest.onBeforeRequest((details, callback) => {
    const ok = details.url.startsWith('file://') || details.url.startsWith('devtools://') || details.url.startsWith('data:');
    callback({ cancel: !ok });
  });
}

export class WindowManager {
  private readonly windows = new Map<WindowKind, BrowserWindow>();

  constructor(
    private readonly rendererDir: string,
    private readonly preload: string,
    private readonly contractArg: string,
    /** called after a window of that kind closed (e.g. to end the console's shells) */
    private readonly onClosed: (kind: WindowKind) => void = () => undefined,
  ) {}

  show(kind: WindowKind): BrowserWindow {
    const existing = this.windows.get(kind);
    if (existing && !existing.isDestroyed()) {
      if (existing.isMinimized()) existing.restore();
      existing.show();
      existing.focus();
      return existing;
    }
    const win = new BrowserWindow(windowOptions(kind, { preload: this.preload, contractArg: this.contractArg, dark: nativeTheme.shouldUseDarkColors }));
    hardenWebContents(win.webContents, (url) => void shell.openExternal(url));
    win.once('ready-to-show', () => win.show());
    win.on('closed', () => {
      this.windows.delete(kind);
      this.onClosed(kind);
    });
    this.windows.set(kind, win);
    void win.loadFile(path.join(this.rendererDir, PAGES[kind]));
    return win;
  }

  contents(): WebContents[] {
    return [...this.windows.values()].filter((w) => !w.isDestroyed()).map((w) => w.webContents);
  }

  isOurs(wc: WebContents): boolean {
    return this.contents().some((c) => c.id === wc.id);
  }

  closeAll(): void {
    for (const w of this.windows.values()) if (!w.isDestroyed()) w.destroy();
    this.windows.clear();
  }
}
