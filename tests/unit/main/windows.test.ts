import { describe, expect, it, vi } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';

vi.mock('electron', () => ({ BrowserWindow: vi.fn(), nativeTheme: { shouldUseDarkColors: false }, shell: { openExternal: vi.fn() } }));

const { CSP, hardenWebContents, isAllowedExternal, rendererRootUrl, windowOptions } = await import('../../../electron/main/windows.js');
const { quitPlan, shutdown, onResume } = await import('../../../electron/main/lifecycle.js');
import { makeStatus, SETTINGS } from '../../fixtures/status.js';

const env = { preload: '/app/dist/electron/preload/index.cjs', contractArg: '--berth-contract=x', dark: false };

describe('window options', () => {
  for (const kind of ['dashboard', 'console'] as const) {
    it(`${kind}: isolated, sandboxed, no Node`, () => {
      const o = windowOptions(kind, env);
      expect(o.webPreferences).toMatchObject({
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        nodeIntegrationInWorker: false,
        nodeIntegrationInSubFrames: false,
        webviewTag: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
        preload: env.preload,
        additionalArguments: [env.contractArg],
      });
      expect(o.show).toBe(false);
      expect(o.width).toBeGreaterThanOrEqual(o.minWidth!);
    });
  }

  it('follows the system appearance for the first paint', () => {
    expect(windowOptions('dashboard', { ...env, dark: true }).backgroundColor).toBe('#1e1e1e');
    expect(windowOptions('dashboard', env).backgroundColor).toBe('#ececec');
  });

  it('opens only local http(s) ports outside the app', () => {
    expect(isAllowedExternal('http://localhost:8080/')).toBe(true);
    expect(isAllowedExternal('https://127.0.0.1:8443/x')).toBe(true);
    for (const bad of ['https://example.com/', 'file:///etc/passwd', 'http://localhost.evil.com/', 'javascript:alert(1)', 'http://user:pw@localhost:1/', 'not a url']) {
      expect(isAllowedExternal(bad), bad).toBe(false);
    }
  });

  it('denies new windows and navigation away from the page', () => {
    const handlers: Record<string, (e: { preventDefault: () => void }, url?: string) => void> = {};
    let openHandler: ((d: { url: string }) => { action: string }) | undefined;
    const wc = {
      setWindowOpenHandler: (h: typeof openHandler) => (openHandler = h),
      on: (name: string, h: (e: { preventDefault: () => void }, url?: string) => void) => (handlers[name] = h),
      getURL: () => 'file:///app/renderer/dist/index.html',
    };
    const open = vi.fn();
    hardenWebContents(wc as never, open);
    expect(openHandler!({ url: 'http://localhost:8080/' })).toEqual({ action: 'deny' });
    expect(open).toHaveBeenCalledWith('http://localhost:8080/');
    expect(openHandler!({ url: 'https://evil.example/' })).toEqual({ action: 'deny' });
    expect(open).toHaveBeenCalledTimes(1);
    const prevent = vi.fn();
    handlers['will-navigate']!({ preventDefault: prevent }, 'https://evil.example/');
    expect(prevent).toHaveBeenCalledTimes(1);
    handlers['will-attach-webview']!({ preventDefault: prevent });
    expect(prevent).toHaveBeenCalledTimes(2);
  });

  it('builds the renderer root URL with a trailing slash', () => {
    expect(rendererRootUrl('/Applications/Berth.app/Contents/Resources/app.asar/renderer/dist')).toBe(
      'file:///Applications/Berth.app/Contents/Resources/app.asar/renderer/dist/',
    );
  });

  it('keeps the CSP of the HTML pages and of windows.ts identical', () => {
    for (const [kind, file] of [['dashboard', 'index.html'], ['console', 'console.html']] as const) {
      const html = fs.readFileSync(path.resolve(import.meta.dirname, '../../../renderer', file), 'utf8');
      const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
      expect(meta, file).toBe(CSP[kind]);
      expect(CSP[kind]).toContain("script-src 'self'");
      expect(CSP[kind]).not.toContain("'unsafe-eval'");
    }
  });
});

describe('quit and resume', () => {
  it('stops the VM unless the user keeps it running', () => {
    expect(quitPlan('running', SETTINGS)).toBe('stop-vm');
    expect(quitPlan('starting', SETTINGS)).toBe('stop-vm');
    expect(quitPlan('running', { keepRunningOnQuit: true })).toBe('leave-running');
    expect(quitPlan('stopped', SETTINGS)).toBe('nothing');
    expect(quitPlan(null, null)).toBe('nothing');
  });

  it('shutdown stops gracefully, then closes the backend', async () => {
    const calls: string[] = [];
    const backend = {
      invoke: vi.fn(async (m: string) => {
        calls.push(m);
        if (m === 'vm.status') return { ok: true, value: makeStatus('running') };
        if (m === 'settings.get') return { ok: true, value: SETTINGS };
        return { ok: true, value: makeStatus('stopped') };
      }),
      on: vi.fn(),
      close: vi.fn(async () => void calls.push('close')),
    };
    await expect(shutdown(backend as never, () => undefined)).resolves.toBe('stop-vm');
    expect(calls.slice(2)).toEqual(['vm.stop', 'close']);
  });

  it('shutdown gives up after its timeout and still closes', async () => {
    const backend = { invoke: vi.fn(() => new Promise(() => undefined)), on: vi.fn(), close: vi.fn(async () => undefined) };
    await shutdown(backend as never, () => undefined, 20);
    expect(backend.close).toHaveBeenCalled();
  });

  it('onResume tells the engine the host woke (it corrects the guest clock)', async () => {
    const backend = { invoke: vi.fn(async () => ({ ok: true, value: makeStatus('running') })) };
    await onResume(backend as never);
    expect(backend.invoke).toHaveBeenCalledWith('vm.wake', {});
  });
});
