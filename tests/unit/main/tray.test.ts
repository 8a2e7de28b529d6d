import { describe, expect, it, vi } from 'vitest';
import type { MenuItemConstructorOptions } from 'electron';

const fake = vi.hoisted(() => ({
  menus: [] as MenuItemConstructorOptions[][],
  images: [] as string[],
  tooltips: [] as string[],
  destroyed: false,
}));

vi.mock('electron', () => ({
  Menu: { buildFromTemplate: (t: MenuItemConstructorOptions[]) => (fake.menus.push(t), { template: t }) },
  nativeImage: { createFromPath: (p: string) => ({ path: p, setTemplateImage: vi.fn() }) },
  Tray: class {
    constructor(img: { path: string }) {
      fake.images.push(img.path);
    }
    isDestroyed = () => fake.destroyed;
    setImage = (img: { path: string }) => fake.images.push(img.path);
    setToolTip = (t: string) => fake.tooltips.push(t);
    setContextMenu = vi.fn();
    destroy = () => (fake.destroyed = true);
  },
}));

const { TrayController } = await import('../../../electron/main/tray.js');
import { FakeBackend } from '../../fixtures/fake-backend.js';
import { makeStatus, PORTS } from '../../fixtures/status.js';

const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 0));
const last = (): MenuItemConstructorOptions[] => fake.menus.at(-1)!;
const item = (id: string): MenuItemConstructorOptions => last().find((i) => i.id === id)!;
const actions = { start: vi.fn(), stop: vi.fn(), shutdown: vi.fn(), restart: vi.fn(), setEmulation: vi.fn(), openPort: vi.fn(), openDashboard: vi.fn(), openConsole: vi.fn(), quit: vi.fn() };

describe('tray adapter', () => {
  it('rebuilds the menu and icon from status, progress and ports events', async () => {
    const backend = new FakeBackend({ status: makeStatus('stopped') });
    const tray = new TrayController(backend, actions, '/app/resources/tray');
    expect(item('status').label).toBe('Connecting to the Berth engine…');
    await flush();
    expect(item('status').label).toBe('Docker is stopped');
    expect(fake.images.at(-1)).toBe('/app/resources/tray/trayStoppedTemplate.png');

    backend.emit('status', makeStatus('starting'));
    backend.emit('progress', { task: 'boot', label: 'booting', step: 'kernel', fraction: 0.5 });
    expect(item('status').label).toBe('Starting: Kernel booted… (4/9) 50%');
    expect(fake.images.at(-1)).toBe('/app/resources/tray/trayStartingTemplate.png');

    backend.emit('status', makeStatus('running', { ports: [] }));
    backend.emit('ports', [PORTS[0]!]);
    expect(item('ports').label).toBe('Ports (1)');
    // a later snapshot without ports does not wipe the newer ports event
    backend.emit('status', makeStatus('running', { ports: [] }));
    expect(item('ports').label).toBe('Ports (1)');
    expect(fake.tooltips.at(-1)).toMatch(/^Berth — Docker is running/);

    backend.emit('status', makeStatus('error'));
    expect(item('status').label).toBe('Error: SSH did not come up within 120 s');
    expect(item('ports').label).toBe('Ports');
    expect(fake.images.at(-1)).toBe('/app/resources/tray/trayErrorTemplate.png');

    tray.destroy();
    const n = fake.menus.length;
    backend.emit('status', makeStatus('stopped'));
    expect(fake.menus.length).toBe(n);
  });

  it('disables the actions while one runs', async () => {
    fake.destroyed = false;
    const backend = new FakeBackend({ status: makeStatus('stopped') });
    const tray = new TrayController(backend, actions, '/r');
    await flush();
    let release!: () => void;
    const running = tray.run('start', () => new Promise<void>((r) => (release = r)));
    expect(item('start').enabled).toBe(false);
    backend.emit('status', makeStatus('starting'));
    expect(item('stop').enabled).toBe(true);
    backend.emit('status', makeStatus('stopped'));
    release();
    await running;
    expect(item('start').enabled).toBe(true);
    tray.destroy();
  });

  it('follows a suspend: the saved state appears in the menu, Shut down discards it', async () => {
    fake.destroyed = false;
    const backend = new FakeBackend({ status: makeStatus('running'), speed: 0 });
    const tray = new TrayController(backend, actions, '/r');
    await flush();
    expect(item('shutdown').enabled).toBe(true);
    await tray.run('stop', () => backend.invoke('vm.stop', {}));
    await flush();
    expect(item('status').label).toBe('Docker is stopped — saved, starts in about a second');
    expect(item('shutdown').enabled).toBe(true);
    await tray.run('shutdown', () => backend.invoke('vm.stop', { shutdown: true }));
    expect(item('status').label).toBe('Docker is stopped');
    expect(item('shutdown').enabled).toBe(false);
    expect(item('stop-note').label).toBe('the saved state was discarded; the next start boots cold');
    tray.destroy();
  });
});
