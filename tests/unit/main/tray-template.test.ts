import { describe, expect, it, vi } from 'vitest';
import type { MenuItemConstructorOptions } from 'electron';
import { trayIconFile, trayIconState, trayTemplate, trayTooltip } from '../../../electron/main/tray-template.js';
import type { TrayActions } from '../../../electron/main/tray-template.js';
import { VM_STATES } from '../../../electron/shared/status.js';
import type { VmState } from '../../../electron/shared/status.js';
import { makeStatus, PORTS } from '../../fixtures/status.js';
import { containersFixture } from '../../fixtures/docker.js';

function actions(): TrayActions & Record<string, ReturnType<typeof vi.fn>> {
  return {
    start: vi.fn(),
    stop: vi.fn(),
    shutdown: vi.fn(),
    restart: vi.fn(),
    setEmulation: vi.fn(),
    openPort: vi.fn(),
    openDashboard: vi.fn(),
    openConsole: vi.fn(),
    quit: vi.fn(),
  };
}

const byId = (items: MenuItemConstructorOptions[], id: string): MenuItemConstructorOptions => {
  const item = items.find((i) => i.id === id);
  if (!item) throw new Error(`no item ${id} in ${items.map((i) => i.id ?? i.type).join(', ')}`);
  return item;
};

const click = (item: MenuItemConstructorOptions, checked?: boolean): void =>
  (item.click as (m: { checked: boolean }) => void)({ checked: checked ?? false });

const EXPECT: Record<VmState, { start: boolean; stop: boolean; shutdown: boolean; restart: boolean; emulation: boolean; ports: boolean; status: RegExp }> = {
  stopped: { start: true, stop: false, shutdown: false, restart: false, emulation: true, ports: false, status: /^Docker is stopped$/ },
  starting: { start: false, stop: true, shutdown: false, restart: false, emulation: false, ports: false, status: /^Starting: Kernel booted… \(4\/9\)$/ },
  running: { start: false, stop: true, shutdown: true, restart: true, emulation: true, ports: true, status: /^Docker is running · ready in 21\.3 s$/ },
  stopping: { start: false, stop: false, shutdown: false, restart: false, emulation: false, ports: false, status: /^Docker is stopping…$/ },
  error: { start: true, stop: true, shutdown: false, restart: true, emulation: true, ports: false, status: /^Error: SSH did not come up within 120 s$/ },
  degraded: { start: false, stop: true, shutdown: true, restart: true, emulation: true, ports: true, status: /^Docker is running, with problems: 2 port or mount problems$/ },
};

describe('trayTemplate', () => {
  for (const state of VM_STATES) {
    it(`builds the menu for "${state}"`, () => {
      const a = actions();
      const items = trayTemplate(makeStatus(state), { actions: a });
      const e = EXPECT[state];
      expect(byId(items, 'status').label).toMatch(e.status);
      expect(byId(items, 'status').enabled).toBe(false);
      expect(byId(items, 'start')).toMatchObject({ label: 'Start Docker', enabled: e.start });
      expect(byId(items, 'stop')).toMatchObject({ label: 'Stop', enabled: e.stop });
      expect(byId(items, 'shutdown')).toMatchObject({ label: 'Shut down (discard saved state)', enabled: e.shutdown });
      expect(byId(items, 'restart')).toMatchObject({ label: 'Restart', enabled: e.restart });
      expect(byId(items, 'emulation')).toMatchObject({ type: 'checkbox', label: 'x86 emulation', enabled: e.emulation, checked: true });
      expect(byId(items, 'ports').enabled).toBe(e.ports);
      expect(byId(items, 'dashboard')).toMatchObject({ label: 'Open Dashboard…' });
      expect(byId(items, 'console')).toMatchObject({ label: 'Open Console…' });
      expect(byId(items, 'quit')).toMatchObject({ label: 'Quit Berth' });
      expect(items.at(-1)?.id).toBe('quit');
      // the item order a user sees
      expect(items.filter((i) => i.id && !i.id.startsWith('status')).map((i) => i.id)).toEqual([
        'start', 'stop', 'shutdown', 'restart', 'emulation', 'containers', 'ports', 'dashboard', 'console', 'quit',
      ]);
    });
  }

  it('shows the error hint on its own line', () => {
    const items = trayTemplate(makeStatus('error'), { actions: actions() });
    expect(byId(items, 'status-1')).toMatchObject({ label: 'See serial.log (sshd and berth-boot lines) and agent.log.', enabled: false });
  });

  it('shows boot progress of the current step while starting', () => {
    const items = trayTemplate(makeStatus('starting'), {
      actions: actions(),
      progress: { task: 'boot', label: 'booting', step: 'kernel', fraction: 0.42 },
    });
    expect(byId(items, 'status').label).toBe('Starting: Kernel booted… (4/9) 42%');
  });

  it('says it is connecting before the first status', () => {
    const items = trayTemplate(null, { actions: actions() });
    expect(byId(items, 'status').label).toBe('Connecting to the Berth engine…');
    for (const id of ['start', 'stop', 'shutdown', 'restart', 'emulation', 'ports']) expect(byId(items, id).enabled).toBe(false);
    expect(byId(items, 'quit').enabled).not.toBe(false);
  });

  it('disables the actions while a request is in flight, but Stop may cancel a start', () => {
    const stopping = trayTemplate(makeStatus('running'), { actions: actions(), pending: 'stop' });
    for (const id of ['start', 'stop', 'shutdown', 'restart', 'emulation']) expect(byId(stopping, id).enabled).toBe(false);
    const shuttingDown = trayTemplate(makeStatus('running'), { actions: actions(), pending: 'shutdown' });
    for (const id of ['start', 'stop', 'shutdown', 'restart', 'emulation']) expect(byId(shuttingDown, id).enabled).toBe(false);
    const starting = trayTemplate(makeStatus('starting'), { actions: actions(), pending: 'start' });
    expect(['start', 'stop', 'restart', 'emulation'].map((id) => byId(starting, id).enabled)).toEqual([false, true, false, false]);
  });

  it('says a stopped VM with a saved state starts in about a second, and lets the user discard it', () => {
    const a = actions();
    const s = makeStatus('stopped', {
      saved: { at: '2026-11-29T11:00:00.000Z', bytes: 1_300_000_000, containersToRestart: [] },
      lastStop: { how: 'suspend', at: '2026-11-29T11:00:00.000Z', ms: 1200, bytes: 1_300_000_000 },
    });
    const items = trayTemplate(s, { actions: a });
    expect(byId(items, 'status')).toMatchObject({ label: 'Docker is stopped — saved, starts in about a second', enabled: false });
    expect(trayTooltip(s)).toBe('Berth — Docker is stopped — saved, starts in about a second');
    expect(byId(items, 'start').enabled).toBe(true);
    expect(byId(items, 'stop').enabled).toBe(false);
    const shut = byId(items, 'shutdown');
    expect(shut.enabled).toBe(true);
    click(shut);
    expect(a.shutdown).toHaveBeenCalledTimes(1);
    expect(a.stop).not.toHaveBeenCalled();
    // a suspend without a note adds no line
    expect(items.find((i) => i.id === 'stop-note')).toBeUndefined();
    // nothing to discard while another request runs
    expect(byId(trayTemplate(s, { actions: a, pending: 'start' }), 'shutdown').enabled).toBe(false);
  });

  it('explains, on a disabled line, why the last stop shut down instead of suspending', () => {
    const note = 'Shut down instead of suspending: a container holds a device';
    const s = makeStatus('stopped', { lastStop: { how: 'shutdown', at: '2026-11-29T11:00:00.000Z', ms: 3100, note } });
    const items = trayTemplate(s, { actions: actions() });
    expect(byId(items, 'status').label).toBe('Docker is stopped');
    expect(byId(items, 'stop-note')).toMatchObject({ label: note, enabled: false });
    // it sits with the status lines, above the actions
    expect(items.findIndex((i) => i.id === 'stop-note')).toBeLessThan(items.findIndex((i) => i.id === 'start'));
    // nothing to discard: no saved state
    expect(byId(items, 'shutdown').enabled).toBe(false);
    // once Docker runs again, the last start is what matters, not the last stop
    const running = trayTemplate(makeStatus('running', { lastStop: s.lastStop! }), { actions: actions() });
    expect(running.find((i) => i.id === 'stop-note')).toBeUndefined();
  });

  it('says how fast a resumed VM came back', () => {
    const s = makeStatus('running', { resume: { resumed: true, loadMs: 940 } });
    expect(byId(trayTemplate(s, { actions: actions() }), 'status').label).toBe('Docker is running · resumed in 0.9 s');
    const cold = makeStatus('running', { resume: { resumed: false, reason: 'memoryGiB changed since the save' } });
    expect(byId(trayTemplate(cold, { actions: actions() }), 'status').label).toBe('Docker is running · ready in 21.3 s');
  });

  it('reflects the emulation setting in the checkbox and passes the new value on click', () => {
    const a = actions();
    const off = makeStatus('running');
    off.emulation.enabled = false;
    const item = byId(trayTemplate(off, { actions: a }), 'emulation');
    expect(item.checked).toBe(false);
    click(item, true);
    expect(a.setEmulation).toHaveBeenCalledWith(true);
  });

  it('names the emulated architecture of an x86_64 host', () => {
    const s = makeStatus('running', { arch: 'x86_64' });
    s.emulation.foreignArch = 'aarch64';
    expect(byId(trayTemplate(s, { actions: actions() }), 'emulation').label).toBe('ARM64 emulation');
  });

  it('lists ports sorted, opens the clicked one, and disables failed forwards', () => {
    const a = actions();
    const items = trayTemplate(makeStatus('degraded'), { actions: a });
    const ports = byId(items, 'ports');
    expect(ports.label).toBe('Ports (3)');
    const sub = ports.submenu as MenuItemConstructorOptions[];
    expect(sub.map((i) => i.label)).toEqual([
      'localhost:80 — proxy (failed: port 80 is in use on the Mac)',
      'localhost:5432 — db',
      'localhost:8080 — web',
    ]);
    expect(sub.map((i) => i.enabled)).toEqual([false, true, true]);
    click(sub[2]!);
    expect(a.openPort).toHaveBeenCalledWith(8080);
  });

  it('names UDP forwards as such and does not offer to open them in a browser', () => {
    const a = actions();
    const udp = [
      { protocol: 'udp', guestPort: 5353, hostPort: 5353, guestAddress: '0.0.0.0', source: 'guest', state: 'forwarding' },
      { protocol: 'udp', guestPort: 53, hostPort: 1053, guestAddress: '::', source: 'guest', state: 'failed', reason: 'port 1053 is already used by another program on this Mac (binding 127.0.0.1:1053/udp failed: address in use)' },
    ] as const;
    const items = trayTemplate(makeStatus('running'), { actions: a, ports: [PORTS[0]!, ...udp.map((p) => ({ ...p }))] });
    const sub = byId(items, 'ports').submenu as MenuItemConstructorOptions[];
    expect(sub.map((i) => i.label)).toEqual([
      'localhost:1053/udp → 53/udp — guest process (failed: port 1053 is already used by another program on this Mac (binding 127.0.0.1:1053/udp failed: address in use))',
      'localhost:5353/udp — guest process',
      'localhost:8080 — web',
    ]);
    expect(sub.map((i) => i.id)).toEqual(['port-1053-udp', 'port-5353-udp', 'port-8080']);
    expect(sub.map((i) => i.enabled)).toEqual([false, true, true]);
    expect(sub[1]!.click).toBeUndefined();
  });

  it('prefers the ports of a newer ports event, and says when there are none', () => {
    const items = trayTemplate(makeStatus('running'), { actions: actions(), ports: [PORTS[0]!] });
    expect((byId(items, 'ports').submenu as MenuItemConstructorOptions[]).map((i) => i.label)).toEqual(['localhost:8080 — web']);
    const none = trayTemplate(makeStatus('running', { ports: [] }), { actions: actions() });
    expect(byId(none, 'ports').submenu).toEqual([{ id: 'ports-none', label: 'No published ports', enabled: false }]);
  });

  it('wires each action', () => {
    const a = actions();
    const items = trayTemplate(makeStatus('running'), { actions: a });
    for (const [id, fn] of [['start', 'start'], ['stop', 'stop'], ['shutdown', 'shutdown'], ['restart', 'restart'], ['dashboard', 'openDashboard'], ['console', 'openConsole'], ['quit', 'quit']] as const) {
      click(byId(items, id));
      expect(a[fn]).toHaveBeenCalledTimes(1);
    }
  });

  it('picks a template icon per state', () => {
    expect(VM_STATES.map((s) => trayIconFile(trayIconState(makeStatus(s))))).toEqual([
      'trayStoppedTemplate.png',
      'trayStartingTemplate.png',
      'trayRunningTemplate.png',
      'trayStoppingTemplate.png',
      'trayErrorTemplate.png',
      'trayErrorTemplate.png',
    ]);
    expect(trayIconFile(trayIconState(null))).toBe('trayStoppedTemplate.png');
    expect(trayTooltip(makeStatus('stopped'))).toBe('Berth — Docker is stopped');
  });
});

describe('tray: the Containers submenu', () => {
  it('lists the running containers (compose ones as project › service), each with its ports to open and a Stop', () => {
    const a = { ...actions(), stopContainer: vi.fn() };
    const status = makeStatus('running', { ports: [{ protocol: 'tcp', guestPort: 8080, hostPort: 18080, guestAddress: '0.0.0.0', source: 'docker', state: 'forwarding' }] });
    const items = trayTemplate(status, { actions: a, containers: containersFixture() });
    const menu = byId(items, 'containers');
    expect(menu).toMatchObject({ label: 'Containers (3)', enabled: true });
    const sub = menu.submenu as MenuItemConstructorOptions[];
    expect(sub.map((i) => i.label)).toEqual(['legacy-api (emulated)', 'shop › db', 'shop › web']);
    const web = byId(sub, 'container-shop-web-1').submenu as MenuItemConstructorOptions[];
    // the published port 8080 is forwarded to 18080 on this Mac: that is the one to open
    expect(web.map((i) => i.label ?? i.type)).toEqual(['Open localhost:18080', 'separator', 'Stop']);
    click(byId(web, 'container-shop-web-1-open-18080'));
    expect(a.openPort).toHaveBeenCalledWith(18080);
    click(byId(web, 'container-shop-web-1-stop'));
    expect(a.stopContainer).toHaveBeenCalledWith(containersFixture()[0]!.id);
  });

  it('says when none runs, and is off while Docker is down (even with a stale list)', () => {
    const none = byId(trayTemplate(makeStatus('running'), { actions: actions(), containers: [] }), 'containers');
    expect(none.label).toBe('Containers');
    expect((none.submenu as MenuItemConstructorOptions[]).map((i) => i.label)).toEqual(['No running containers']);
    const down = byId(trayTemplate(makeStatus('stopped'), { actions: actions(), containers: containersFixture() }), 'containers');
    expect(down).toMatchObject({ label: 'Containers', enabled: false });
    expect((down.submenu as MenuItemConstructorOptions[]).map((i) => i.label)).toEqual(['Docker is not running']);
  });
});
