// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { App } from '../../../renderer/src/dashboard/App.js';
import { initialState, useBerth } from '../../../renderer/src/store/berth.js';
import { VM_STATES } from '../../../electron/shared/status.js';
import type { Status, VmState } from '../../../electron/shared/status.js';
import { makeStatus, MOUNTS, PORTS, SETTINGS } from '../../fixtures/status.js';
import { installFakeApi, ok } from './fake-api.js';
import type { FakeApi } from './fake-api.js';

const flush = async (): Promise<void> => {
  await act(async () => {
    await new Promise((r) => setTimeout(r, 0));
  });
};

let api: FakeApi;

async function show(status: Status): Promise<void> {
  api = installFakeApi({
    'vm.status': () => ok(status),
    'settings.get': () => ok(SETTINGS),
    'logs.tail': ({ source }) => ok({ lines: [`${source}: line one`], path: `/Users/ada/.berth/default/${source}.log` }),
    'vm.start': () => ok(makeStatus('starting')),
    'vm.stop': () => ok(makeStatus('stopping')),
    'emulation.set': ({ enabled }) =>
      ok({ enabled, state: enabled ? 'enabled' : 'disabled', foreignArch: 'x86_64', ...(enabled ? { selfTest: { ok: true, output: 'Linux x86_64', interpreter: '/usr/bin/qemu-x86_64-static', at: '2026-11-29T10:00:00Z' } } : {}) }),
    'settings.set': ({ patch }) => ok({ settings: { ...SETTINGS, ...patch }, restartNeeded: true }),
  });
  render(<App />);
  await flush();
}

const badge = (): HTMLElement => screen.getByTestId('state-badge');
const button = (name: string): HTMLButtonElement => screen.getByRole('button', { name, exact: true } as never) as HTMLButtonElement;
const goTo = async (name: string): Promise<void> => {
  fireEvent.click(within(screen.getByRole('navigation', { name: 'Sections' })).getByRole('button', { name: new RegExp(`^${name}`) }));
  await flush();
};

const LABEL: Record<VmState, string> = {
  stopped: 'Stopped',
  starting: 'Starting',
  running: 'Running',
  stopping: 'Stopping',
  error: 'Error',
  degraded: 'Running with problems',
};
const ENABLED: Record<VmState, [boolean, boolean, boolean]> = {
  stopped: [true, false, false],
  starting: [false, true, false],
  running: [false, true, true],
  stopping: [false, false, false],
  error: [true, true, true],
  degraded: [false, true, true],
};

describe('dashboard', () => {
  beforeEach(() => {
    useBerth.setState(initialState);
  });
  afterEach(() => {
    cleanup();
    delete window.berth;
  });

  for (const state of VM_STATES) {
    it(`shows the "${state}" state and enables the right buttons`, async () => {
      await show(makeStatus(state));
      expect(badge().textContent).toBe(LABEL[state]);
      expect([button('Start'), button('Stop'), button('Restart')].map((b) => !b.disabled)).toEqual(ENABLED[state]);
    });
  }

  it('lists the readiness steps with their timings and marks the running one', async () => {
    await show(makeStatus('starting'));
    const steps = within(screen.getByTestId('steps')).getAllByRole('listitem');
    expect(steps).toHaveLength(9);
    expect(steps[0]!.textContent).toContain('Guest image ready');
    expect(steps[0]!.textContent).toContain('40 ms');
    expect(steps[2]!.textContent).toContain('310 ms');
    expect(steps[3]!.getAttribute('data-state')).toBe('running');
    expect(steps[3]!.textContent).toContain('Kernel booted: in progress');
    expect(steps[4]!.textContent).toContain('SSH up: waiting');
  });

  it('shows progress bars from progress events', async () => {
    await show(makeStatus('starting'));
    act(() => api.emit('progress', { task: 'image', label: 'Downloading the guest image', done: 50_000_000, total: 200_000_000, rateBps: 10_000_000, etaS: 15 }));
    const bar = screen.getByRole('progressbar', { name: 'Downloading the guest image' }) as HTMLProgressElement;
    expect(bar.value).toBeCloseTo(0.25);
    expect(screen.getByTestId('progress').textContent).toContain('25% · 50 MB of 200 MB · 10 MB/s · 15.0 s left');
  });

  it('follows status events: click Start → starting → running', async () => {
    await show(makeStatus('stopped'));
    expect(screen.getByText('Docker is stopped. Press Start to boot the VM.')).toBeTruthy();
    fireEvent.click(button('Start'));
    await flush();
    expect(api.calls.some((c) => c.method === 'vm.start')).toBe(true);
    expect(badge().textContent).toBe('Starting');
    act(() => api.emit('status', makeStatus('running')));
    expect(badge().textContent).toBe('Running');
    expect(screen.getByText('Ready in')).toBeTruthy();
    expect(screen.getByTestId('docker-host').textContent).toBe('unix:///Users/ada/.berth/default/docker.sock');
  });

  it('shows the error with its hint, the failing step and the serial log path', async () => {
    await show(makeStatus('error'));
    const panel = screen.getByTestId('error-panel');
    expect(panel.getAttribute('role')).toBe('alert');
    expect(panel.textContent).toContain('Failed at “SSH up”');
    expect(panel.textContent).toContain('SSH did not come up within 120 s');
    expect(panel.textContent).toContain('See serial.log (sshd and berth-boot lines) and agent.log.');
    expect(panel.textContent).toContain('E_SSH');
    expect(panel.textContent).toContain('/Users/ada/.berth/default/serial.log');
  });

  it('shows a failed action and lets the user dismiss it', async () => {
    await show(makeStatus('stopped'));
    api.answers['vm.start'] = () => ({ ok: false, error: { code: 'E_IMAGE', message: 'no guest image', hint: 'Run npm run image.' } });
    fireEvent.click(button('Start'));
    await flush();
    expect(screen.getByRole('alert').textContent).toContain('Could not start Docker: no guest image');
    expect(screen.getByRole('alert').textContent).toContain('Run npm run image.');
    fireEvent.click(button('Dismiss'));
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('explains a degraded VM', async () => {
    await show(makeStatus('degraded'));
    expect(screen.getByTestId('degraded').textContent).toContain('1 port forward and 1 mount failed');
  });

  it('lists ports with state, reason and a link, and updates on ports events', async () => {
    await show(makeStatus('running'));
    await goTo('Ports');
    const rows = () => within(screen.getByTestId('ports-table')).getAllByRole('row').slice(1);
    expect(rows().map((r) => r.getAttribute('data-port'))).toEqual(['5432', '8080']);
    const link = screen.getByRole('link', { name: 'localhost:8080' });
    expect(link.getAttribute('href')).toBe('http://localhost:8080/');
    expect(link.getAttribute('target')).toBe('_blank');
    act(() => api.emit('ports', PORTS));
    expect(rows()).toHaveLength(3);
    const failed = rows()[0]!;
    expect(failed.textContent).toContain('Failed');
    expect(failed.textContent).toContain('port 80 is in use on the Mac');
    expect(within(failed).queryByRole('link')).toBeNull();
    act(() => api.emit('ports', []));
    expect(screen.getByText(/No published ports/)).toBeTruthy();
  });

  it('shows each port’s protocol; a UDP forward is no browser link', async () => {
    await show(makeStatus('running'));
    await goTo('Ports');
    act(() =>
      api.emit('ports', [
        PORTS[0]!,
        { protocol: 'udp', guestPort: 8080, hostPort: 8080, guestAddress: '0.0.0.0', source: 'guest', state: 'forwarding' },
        { protocol: 'udp', guestPort: 5353, hostPort: 5353, guestAddress: '::', source: 'guest', state: 'forwarding' },
      ]),
    );
    const rows = within(screen.getByTestId('ports-table')).getAllByRole('row').slice(1);
    expect(rows.map((r) => `${r.getAttribute('data-port')}/${r.getAttribute('data-protocol')}`)).toEqual(['5353/udp', '8080/tcp', '8080/udp']);
    expect(rows.map((r) => within(r).getAllByRole('cell')[1]!.textContent)).toEqual(['UDP', 'TCP', 'UDP']);
    expect(within(rows[0]!).queryByRole('link')).toBeNull();
    expect(rows[0]!.textContent).toContain('localhost:5353');
    expect(within(rows[1]!).getByRole('link', { name: 'localhost:8080' })).toBeTruthy();
    expect(within(rows[2]!).queryByRole('link')).toBeNull();
  });

  it('lists mounts with access and state', async () => {
    await show(makeStatus('degraded'));
    await goTo('Mounts');
    const rows = within(screen.getByTestId('mounts-table')).getAllByRole('row').slice(1);
    expect(rows.map((r) => r.textContent)).toEqual([
      '/Users/ada/Users/adaRead & writeMounted',
      '/private/tmp/private/tmpRead & writeMounted',
      '/Volumes/Archive/Volumes/ArchiveRead onlyFailedpath does not exist',
    ]);
    expect(MOUNTS).toHaveLength(3);
  });

  it('toggles emulation and shows the self-test result', async () => {
    const s = makeStatus('running');
    s.emulation = { enabled: false, state: 'disabled', foreignArch: 'x86_64' };
    await show(s);
    await goTo('Emulation');
    const sw = screen.getByRole('switch', { name: /Run x86-64 \(amd64\) images/ }) as HTMLInputElement;
    expect(sw.checked).toBe(false);
    expect(screen.getByText('No self-test has run yet.')).toBeTruthy();
    fireEvent.click(sw);
    await flush();
    expect(api.calls.find((c) => c.method === 'emulation.set')?.params).toEqual({ enabled: true });
    expect(sw.checked).toBe(true);
    const test = screen.getByTestId('selftest');
    expect(test.textContent).toContain('Passed');
    expect(test.textContent).toContain('/usr/bin/qemu-x86_64-static');
    expect(screen.getByTestId('selftest-output').textContent).toBe('Linux x86_64');
    expect(screen.getByTestId('emulation-state').textContent).toBe('On');
  });

  it('edits resources, validates them and says a restart is needed', async () => {
    await show(makeStatus('running'));
    await goTo('Resources');
    const cpus = screen.getByLabelText(/^CPUs/) as HTMLInputElement;
    expect(cpus.value).toBe('4');
    expect(button('Save').disabled).toBe(true);
    fireEvent.change(cpus, { target: { value: '0' } });
    expect(screen.getByText('From 1 to 64.')).toBeTruthy();
    expect(button('Save').disabled).toBe(true);
    fireEvent.change(cpus, { target: { value: '6' } });
    fireEvent.change(screen.getByLabelText(/^Memory/), { target: { value: '8' } });
    fireEvent.click(button('Save'));
    await flush();
    expect(api.calls.find((c) => c.method === 'settings.set')?.params).toEqual({ patch: { cpus: 6, memoryGiB: 8 } });
    expect(screen.getByTestId('restart-needed').textContent).toContain('Restart needed');
    expect(button('Restart now')).toBeTruthy();
  });

  it('tails a log source and appends live lines', async () => {
    await show(makeStatus('running'));
    await goTo('Logs');
    expect(screen.getByTestId('log').textContent).toBe('events: line one');
    fireEvent.click(button('Boot console'));
    await flush();
    expect(button('Boot console').getAttribute('aria-pressed')).toBe('true');
    expect(screen.getByTestId('log').textContent).toBe('serial: line one');
    act(() => api.emit('log', { source: 'serial', line: 'login: ' }));
    expect(screen.getByTestId('log').textContent).toBe('serial: line one\nlogin: ');
    expect(screen.getByText('/Users/ada/.berth/default/serial.log')).toBeTruthy();
  });

  it('moves between sections with the arrow keys', async () => {
    await show(makeStatus('running'));
    const nav = screen.getByRole('navigation', { name: 'Sections' });
    const overview = within(nav).getByRole('button', { name: /^Overview/ });
    expect(overview.getAttribute('aria-current')).toBe('page');
    overview.focus();
    fireEvent.keyDown(overview, { key: 'ArrowDown' });
    await flush();
    // Containers comes right after the Overview, as in Docker Desktop
    const containers = within(nav).getByRole('button', { name: /^Containers/ });
    expect(containers.getAttribute('aria-current')).toBe('page');
    expect(document.activeElement).toBe(containers);
    expect(screen.getByRole('heading', { level: 2 }).textContent).toBe('Containers');
    fireEvent.keyDown(containers, { key: 'ArrowUp' });
    await flush();
    expect(screen.getByRole('heading', { level: 2 }).textContent).toBe('Overview');
  });

  it('shows a saved state, what the next start does, and discards it on request', async () => {
    const at = new Date(Date.now() - 60_000).toISOString();
    await show(makeStatus('stopped', { saved: { at, bytes: 1_300_000_000, containersToRestart: ['web', 'db'] }, lastStop: { how: 'suspend', at, ms: 1200, bytes: 1_300_000_000 } }));
    expect(screen.getByText('Docker is suspended. Press Start to resume it in about a second.')).toBeTruthy();
    const saved = screen.getByTestId('saved-state');
    expect(saved.textContent).toMatch(/^Saved stateStart resumes Docker where it left off, in about a second\.1\.3 GB, today at \d/);
    expect(saved.textContent).toContain('Started again on resume: web, db');
    expect(screen.getByTestId('last-stop').textContent).toBe('Last stopSuspended in 1.2 s (1.3 GB)');
    api.answers['vm.stop'] = () => ok(makeStatus('stopped', { lastStop: { how: 'shutdown', at, ms: 0 } }));
    fireEvent.click(button('Shut down (discard saved state)'));
    await flush();
    expect(api.calls.filter((c) => c.method === 'vm.stop').map((c) => c.params)).toEqual([{ shutdown: true }]);
    expect(screen.queryByTestId('saved-state')).toBeNull();
    expect(screen.queryByRole('button', { name: 'Shut down (discard saved state)' })).toBeNull();
    expect(screen.getByText('Docker is stopped. Press Start to boot the VM.')).toBeTruthy();
  });

  it('says why the last stop shut down instead of suspending', async () => {
    const note = 'Shut down instead of suspending: a container holds a device';
    await show(makeStatus('stopped', { lastStop: { how: 'shutdown', at: '2026-11-29T11:00:00.000Z', ms: 3100, note } }));
    expect(screen.getByTestId('last-stop').textContent).toBe(`Last stopShut down in 3.1 s${note}`);
    expect(screen.getByTestId('stop-note').textContent).toBe(note);
    expect(screen.queryByTestId('saved-state')).toBeNull();
    expect(screen.queryByRole('button', { name: 'Shut down (discard saved state)' })).toBeNull();
    // once Docker runs again, the last stop is no longer shown
    act(() => api.emit('status', makeStatus('running', { lastStop: { how: 'shutdown', at: '2026-11-29T11:00:00.000Z', ms: 3100, note } })));
    expect(screen.queryByTestId('stop-state')).toBeNull();
  });

  it('says how the last start went: resumed, or booted cold and why', async () => {
    await show(makeStatus('running', { resume: { resumed: true, loadMs: 860 } }));
    expect(screen.getByTestId('resume').textContent).toBe('Last startResumed in 860 ms');
    act(() => api.emit('status', makeStatus('running', { resume: { resumed: false, reason: 'memoryGiB changed since the save' } })));
    expect(screen.getByTestId('resume').textContent).toBe('Last startBooted cold: memoryGiB changed since the save');
    act(() => api.emit('status', makeStatus('stopped', { resume: { resumed: true, loadMs: 860 } })));
    expect(screen.queryByTestId('resume')).toBeNull();
  });

  it('chooses what Stop does and whether to suspend before sleep, saving at once', async () => {
    await show(makeStatus('running'));
    api.answers['settings.set'] = ({ patch }) => ok({ settings: { ...(useBerth.getState().settings ?? SETTINGS), ...patch }, restartNeeded: false });
    await goTo('Resources');
    const group = screen.getByRole('radiogroup', { name: 'When Docker stops' });
    const suspend = within(group).getByRole('radio', { name: /^Suspend/ }) as HTMLInputElement;
    const shutdown = within(group).getByRole('radio', { name: /^Shut down/ }) as HTMLInputElement;
    expect(suspend.checked).toBe(true);
    expect(shutdown.checked).toBe(false);
    expect(suspend.getAttribute('aria-describedby')).toBeTruthy();
    expect(document.getElementById(suspend.getAttribute('aria-describedby')!)!.textContent).toBe('Keeps containers running; Docker starts again in about a second.');
    const sleep = screen.getByRole('switch', { name: /^Suspend before the Mac sleeps/ }) as HTMLInputElement;
    expect(sleep.checked).toBe(false);
    expect(sleep.disabled).toBe(false);
    fireEvent.click(sleep);
    await flush();
    expect(api.calls.filter((c) => c.method === 'settings.set').map((c) => c.params)).toEqual([{ patch: { suspendOnSleep: true } }]);
    expect(sleep.checked).toBe(true);

    fireEvent.click(shutdown);
    await flush();
    expect(api.calls.filter((c) => c.method === 'settings.set').map((c) => c.params).at(-1)).toEqual({ patch: { stopMode: 'shutdown' } });
    expect(shutdown.checked).toBe(true);
    expect(suspend.checked).toBe(false);
    // suspending before sleep needs Stop to suspend
    expect(sleep.disabled).toBe(true);
    expect(screen.getByText('Needs “Suspend” above.')).toBeTruthy();
    expect(screen.queryByTestId('restart-needed')).toBeNull();
  });

  it('names a failed shut down', async () => {
    await show(makeStatus('stopped', { saved: { at: '2026-11-29T11:00:00.000Z', bytes: 1_300_000_000, containersToRestart: [] } }));
    api.answers['vm.stop'] = () => ({ ok: false, error: { code: 'E_QEMU', message: 'QEMU did not answer' } });
    fireEvent.click(button('Shut down (discard saved state)'));
    await flush();
    expect(screen.getByRole('alert').textContent).toContain('Could not shut down Docker: QEMU did not answer');
  });
});
