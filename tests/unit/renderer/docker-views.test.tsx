// @vitest-environment happy-dom
// The Containers, Images, Volumes and Disk views with fixture data: grouped by compose project,
// live updates from the `containers` event, confirmation before removing, followed logs, the
// emulated badge, reclaim; and the empty, not-running and "Docker not answering" states.
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { App } from '../../../renderer/src/dashboard/App.js';
import { initialState, useBerth } from '../../../renderer/src/store/berth.js';
import { groupContainers, initialDockerState, useDocker } from '../../../renderer/src/store/docker.js';
import type { Status } from '../../../electron/shared/status.js';
import type { BerthError } from '../../../electron/shared/status.js';
import { makeStatus, SETTINGS } from '../../fixtures/status.js';
import { containersFixture, diskFixture, imagesFixture, statsFixture, volumesFixture } from '../../fixtures/docker.js';
import { installFakeApi, ok } from './fake-api.js';
import type { Answers, FakeApi } from './fake-api.js';

const flush = async (): Promise<void> => {
  await act(async () => {
    await new Promise((r) => setTimeout(r, 0));
  });
};

const NOT_ANSWERING: BerthError = { code: 'E_DOCKER', message: 'Docker is not answering (nothing listens on its socket)', hint: 'Check that Docker is running (berth status); the socket is /Users/ada/.berth/default/docker.sock.' };

let api: FakeApi;

async function show(status: Status, more: Answers = {}, pane?: string): Promise<void> {
  api = installFakeApi({
    'vm.status': () => ok(status),
    'settings.get': () => ok(SETTINGS),
    'logs.tail': () => ok({ lines: [], path: '/x' }),
    'ports.list': () => ok(status.ports),
    'mounts.list': () => ok(status.mounts),
    'containers.list': () => ok(containersFixture()),
    'containers.stats': () => ok(statsFixture()),
    'images.list': () => ok(imagesFixture()),
    'volumes.list': () => ok(volumesFixture()),
    'disk.usage': () => ok(diskFixture()),
    ...more,
  });
  render(<App />);
  await flush();
  if (pane) await goTo(pane);
}

const goTo = async (name: string): Promise<void> => {
  fireEvent.click(within(screen.getByRole('navigation', { name: 'Sections' })).getByRole('button', { name: new RegExp(`^${name}`) }));
  await flush();
  await flush();
};

const row = (attr: string, name: string): HTMLElement => document.querySelector(`tr[${attr}="${name}"]`) as HTMLElement;

beforeEach(() => {
  useBerth.setState({ ...initialState });
  useDocker.setState({ ...initialDockerState });
  location.hash = '';
});

afterEach(() => {
  cleanup();
  delete window.berth;
});

describe('Containers', () => {
  it('groups by compose project, the loose ones last, with ports as localhost links, CPU and memory', async () => {
    await show(makeStatus('running'), {}, 'Containers');
    const groups = screen.getAllByTestId('container-group');
    expect(groups.map((g) => g.dataset.project)).toEqual(['shop', '']);
    expect(within(groups[0]!).getByRole('heading').textContent).toContain('shop · compose project · 2/3 running');
    expect([...groups[0]!.querySelectorAll('tbody tr')].map((r) => (r as HTMLElement).dataset.container)).toEqual(['shop-db-1', 'shop-web-1', 'shop-worker-1']);
    const link = within(row('data-container', 'shop-web-1')).getByRole('link', { name: '8080:80' });
    expect(link.getAttribute('href')).toBe('http://localhost:8080/');
    expect(link.getAttribute('target')).toBe('_blank');
    expect(row('data-container', 'legacy-api').textContent).toContain('amd64 · emulated');
    expect(row('data-container', 'legacy-api').textContent).toContain('87 %');
    expect(row('data-container', 'legacy-api').textContent).toContain('230 MB');
    expect(row('data-container', 'shop-web-1').textContent).toMatch(/42 min/);
    // the sidebar counts the running ones
    expect(within(screen.getByRole('navigation', { name: 'Sections' })).getByRole('button', { name: /^Containers/ }).textContent).toBe('▦Containers3');
  });

  it('a port Berth forwards to another localhost port links to that one', async () => {
    const st = makeStatus('running', { ports: [{ protocol: 'tcp', guestPort: 8080, hostPort: 18080, guestAddress: '0.0.0.0', source: 'docker', state: 'forwarding' }] });
    await show(st, {}, 'Containers');
    expect(within(row('data-container', 'shop-web-1')).getByRole('link').getAttribute('href')).toBe('http://localhost:18080/');
  });

  it('updates from the pushed containers event, without asking again', async () => {
    await show(makeStatus('running'), {}, 'Containers');
    const lists = api.calls.filter((c) => c.method === 'containers.list').length;
    const next = containersFixture().map((c) => (c.name === 'shop-web-1' ? { ...c, state: 'exited' as const, status: 'Exited (0) 1 second ago' } : c));
    act(() => api.emit('containers', next));
    expect(row('data-container', 'shop-web-1').dataset.state).toBe('exited');
    expect(within(row('data-container', 'shop-web-1')).getByRole('button', { name: 'Start shop-web-1' })).toBeTruthy();
    expect(api.calls.filter((c) => c.method === 'containers.list').length).toBe(lists);
  });

  it('a containers list answered after a newer pushed event does not put back the old state', async () => {
    // the order CI met: Stop, then the re-list is slow, the `containers` event with "exited"
    // lands first, and the list (taken before the stop took effect) answers last
    let answerList: (() => void) | null = null;
    await show(makeStatus('running'), { 'containers.stop': () => ok(null) }, 'Containers');
    api.answers['containers.list'] = () => new Promise((resolve) => (answerList = () => resolve(ok(containersFixture()))));
    fireEvent.click(screen.getByRole('button', { name: 'Stop shop-web-1' }));
    await flush();
    expect(answerList).not.toBeNull();
    const next = containersFixture().map((c) => (c.name === 'shop-web-1' ? { ...c, state: 'exited' as const, status: 'Exited (0) 1 second ago' } : c));
    act(() => api.emit('containers', next));
    await act(async () => answerList!());
    await flush();
    expect(row('data-container', 'shop-web-1').dataset.state).toBe('exited');
  });

  it('stops at once, removes only after the confirmation', async () => {
    await show(makeStatus('running'), { 'containers.stop': () => ok(null), 'containers.remove': () => ok(null) }, 'Containers');
    fireEvent.click(screen.getByRole('button', { name: 'Stop shop-web-1' }));
    await flush();
    expect(api.calls.find((c) => c.method === 'containers.stop')?.params).toEqual({ id: containersFixture()[0]!.id });
    fireEvent.click(screen.getByRole('button', { name: 'Remove legacy-api' }));
    const dialog = screen.getByRole('alertdialog');
    expect(dialog.textContent).toContain('Remove legacy-api?');
    expect(dialog.textContent).toContain('It is running');
    // Cancel is the default: focused, and removing nothing
    expect(document.activeElement?.textContent).toBe('Cancel');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(api.calls.some((c) => c.method === 'containers.remove')).toBe(false);
    fireEvent.click(screen.getByRole('button', { name: 'Remove legacy-api' }));
    fireEvent.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Remove' }));
    await flush();
    expect(api.calls.find((c) => c.method === 'containers.remove')?.params).toEqual({ id: containersFixture()[3]!.id, force: true });
  });

  it('says what Docker refused', async () => {
    await show(makeStatus('running'), { 'containers.start': () => ({ ok: false, error: { code: 'E_DOCKER', message: 'driver failed programming external connectivity: port is already allocated' } }) }, 'Containers');
    fireEvent.click(screen.getByRole('button', { name: 'Start shop-worker-1' }));
    await flush();
    expect(screen.getByTestId('docker-action-error').textContent).toContain('Could not start: driver failed programming external connectivity');
  });

  it('logs: the tail, then lines pushed for its stream (even one that came before the answer), search, and closing', async () => {
    let answer!: (v: unknown) => void;
    await show(makeStatus('running'), { 'containers.logs': () => new Promise((r) => (answer = r)) as never, 'containers.logsClose': () => ok(null) }, 'Containers');
    fireEvent.click(screen.getByRole('button', { name: 'Logs of shop-web-1' }));
    await flush();
    expect(api.calls.find((c) => c.method === 'containers.logs')?.params).toEqual({ id: containersFixture()[0]!.id, tail: 500, follow: true });
    act(() => api.emit('containerLogs', { stream: 's1', lines: ['early line'] }));
    await act(async () => answer(ok({ lines: ['GET / 200', 'GET /favicon.ico 404'], stream: 's1' })));
    await flush();
    const log = screen.getByTestId('container-log');
    expect(log.textContent).toBe('GET / 200\nGET /favicon.ico 404\nearly line');
    act(() => api.emit('containerLogs', { stream: 's1', lines: ['printed after the view opened'] }));
    act(() => api.emit('containerLogs', { stream: 'other', lines: ['not ours'] }));
    expect(log.textContent).toContain('printed after the view opened');
    expect(log.textContent).not.toContain('not ours');
    fireEvent.change(screen.getByRole('searchbox', { name: 'Search the log' }), { target: { value: 'FAVICON' } });
    expect(log.textContent).toBe('GET /favicon.ico 404');
    expect(screen.getByTestId('log-state').textContent).toBe('Streaming · 1 of 4 lines');
    act(() => api.emit('containerLogs', { stream: 's1', end: true }));
    expect(screen.getByTestId('log-state').textContent).toContain('The log ended');
    fireEvent.click(screen.getByRole('button', { name: 'Back to containers' }));
    await flush();
    expect(screen.getAllByTestId('container-group')).toHaveLength(2);
  });

  it('Shell asks the app for a shell in that container', async () => {
    await show(makeStatus('running'), { 'console.show': () => ok(null) }, 'Containers');
    fireEvent.click(screen.getByRole('button', { name: 'Shell in shop-db-1' }));
    await flush();
    expect(api.calls.find((c) => c.method === 'console.show')?.params).toEqual({ container: containersFixture()[1]!.id, name: 'shop-db-1' });
    expect((screen.getByRole('button', { name: 'Shell in shop-worker-1' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('empty: how to start one', async () => {
    await show(makeStatus('running'), { 'containers.list': () => ok([]) }, 'Containers');
    expect(screen.getByTestId('containers-empty').textContent).toContain('No containers yet');
  });

  it('Docker not running: no request, says so', async () => {
    await show(makeStatus('stopped'), {}, 'Containers');
    expect(screen.getByTestId('docker-not-running').textContent).toBe('Docker is not running. Start it to see your containers.');
    expect(api.calls.some((c) => c.method === 'containers.list')).toBe(false);
  });

  it('Docker not answering: the error, its hint, and a retry that works', async () => {
    let fail = true;
    await show(makeStatus('running'), { 'containers.list': () => (fail ? { ok: false, error: NOT_ANSWERING } : ok(containersFixture())) }, 'Containers');
    const err = screen.getByTestId('docker-error');
    expect(within(err).getByRole('heading').textContent).toBe('Docker is not answering');
    expect(err.textContent).toContain('nothing listens on its socket');
    expect(err.textContent).toContain('berth status');
    fail = false;
    fireEvent.click(within(err).getByRole('button', { name: 'Try again' }));
    await flush();
    expect(screen.queryByTestId('docker-error')).toBeNull();
    expect(screen.getAllByTestId('container-group')).toHaveLength(2);
  });

  it('the VM stopping clears the list', async () => {
    await show(makeStatus('running'), {}, 'Containers');
    act(() => api.emit('status', makeStatus('stopped')));
    await flush();
    expect(screen.getByTestId('docker-not-running')).toBeTruthy();
    expect(useDocker.getState().containers.items).toBeNull();
  });
});

describe('Images, Volumes, Disk', () => {
  it('images: architecture and the emulated badge, the emulation state, prune of dangling after confirmation', async () => {
    await show(makeStatus('running'), { 'images.prune': () => ok({ deleted: 1, reclaimedBytes: 95_000_000 }) }, 'Images');
    expect(within(row('data-image', 'acme/legacy-api:2.3')).getByTestId('emulated-badge').textContent).toBe('Emulated');
    expect(within(row('data-image', 'nginx:1.27')).queryByTestId('emulated-badge')).toBeNull();
    expect(row('data-image', 'nginx:1.27').textContent).toContain('arm64/v8');
    expect(screen.getByTestId('emulation-line').textContent).toContain('Emulation of x86-64 is on');
    fireEvent.click(screen.getByRole('button', { name: 'Remove dangling (1)' }));
    fireEvent.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Remove' }));
    await flush();
    expect(api.calls.find((c) => c.method === 'images.prune')?.params).toEqual({});
    expect(document.body.textContent).toContain('Removed 1 image, 95 MB freed.');
  });

  it('images and volumes look again when Docker reports a change (the pushed containers event)', async () => {
    await show(makeStatus('running'), {}, 'Images');
    const n = api.calls.filter((c) => c.method === 'images.list').length;
    api.answers['images.list'] = () => ok(imagesFixture().filter((i) => !i.dangling));
    act(() => api.emit('containers', containersFixture()));
    await flush();
    expect(api.calls.filter((c) => c.method === 'images.list').length).toBe(n + 1);
    expect(screen.getByTestId('images-table').querySelectorAll('tbody tr')).toHaveLength(5);
    await goTo('Volumes');
    const v = api.calls.filter((c) => c.method === 'volumes.list').length;
    act(() => api.emit('containers', containersFixture().slice(1)));
    await flush();
    expect(api.calls.filter((c) => c.method === 'volumes.list').length).toBe(v + 1);
  });

  it('images: a foreign image with emulation off cannot run, and says so', async () => {
    const imgs = imagesFixture().map((i) => (i.emulated ? { ...i, runs: 'needs-emulation' as const } : i));
    await show(makeStatus('running', { emulation: { enabled: false, state: 'disabled', foreignArch: 'x86_64' } }), { 'images.list': () => ok(imgs) }, 'Images');
    expect(within(row('data-image', 'acme/legacy-api:2.3')).getByTestId('emulated-badge').textContent).toBe('Needs emulation (off)');
    expect(screen.getByTestId('emulation-line').textContent).toContain('do not run until it is turned on');
  });

  it('volumes: size, who uses them, and Docker’s refusal to remove one in use', async () => {
    await show(makeStatus('running'), { 'volumes.remove': () => ({ ok: false, error: { code: 'E_DOCKER', message: 'remove shop_pgdata: volume is in use - [a2]' } }) }, 'Volumes');
    expect(row('data-volume', 'shop_pgdata').textContent).toContain('shop-db-1');
    expect(row('data-volume', 'shop_pgdata').textContent).toContain('48 MB');
    expect(row('data-volume', 'old_cache').textContent).toContain('unused');
    fireEvent.click(screen.getByRole('button', { name: 'Remove shop_pgdata' }));
    fireEvent.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Remove' }));
    await flush();
    expect(screen.getByTestId('docker-action-error').textContent).toContain('volume is in use');
  });

  it('disk: the file on this Mac against its maximum, system df, and reclaim of what was ticked', async () => {
    await show(makeStatus('running'), { 'disk.reclaim': () => ok({ steps: [{ what: 'volumes', deleted: 1, reclaimedBytes: 1_073_741_824 }], reclaimedBytes: 1_073_741_824, allocatedBefore: 3_400_000_000, allocatedAfter: 2_330_000_000 }) }, 'Disk');
    expect(screen.getByTestId('disk-allocated').textContent).toBe('3.4 GB');
    expect(screen.getByTestId('vm-disk').textContent).toContain('of 69 GB the disk may grow to');
    expect(row('data-kind', 'volumes').textContent).toBe('Volumes321.1 GB1.1 GB');
    for (const name of ['Dangling images', 'Stopped containers', 'Build cache']) fireEvent.click(screen.getByRole('checkbox', { name: new RegExp(`^${name}`) }));
    fireEvent.click(screen.getByRole('checkbox', { name: /^Unused volumes/ }));
    fireEvent.click(screen.getByRole('button', { name: 'Reclaim' }));
    expect(screen.getByRole('alertdialog').textContent).toContain('Unused volumes');
    fireEvent.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Reclaim' }));
    await flush();
    expect(api.calls.find((c) => c.method === 'disk.reclaim')?.params).toEqual({ volumes: true });
    expect(screen.getByTestId('reclaim-result').textContent).toContain('Freed 1.1 GB (1 volumes).');
  });

  it('disk while stopped: the file, and why Docker’s part is missing; Reclaim is off', async () => {
    const d = diskFixture();
    await show(makeStatus('stopped'), { 'disk.usage': () => ok({ vmDisk: d.vmDisk, docker: null, dockerError: { code: 'E_NOT_RUNNING', message: 'Docker is not running' } }) }, 'Disk');
    expect(screen.getByTestId('disk-allocated').textContent).toBe('3.4 GB');
    expect(screen.getByTestId('df-missing').textContent).toContain('Docker is not running');
    expect((screen.getByRole('button', { name: 'Reclaim' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('images and volumes when Docker does not answer', async () => {
    await show(makeStatus('running'), { 'images.list': () => ({ ok: false, error: NOT_ANSWERING }), 'volumes.list': () => ({ ok: false, error: NOT_ANSWERING }) }, 'Images');
    expect(screen.getByTestId('docker-error').textContent).toContain('Docker is not answering');
    await goTo('Volumes');
    expect(screen.getByTestId('docker-error').textContent).toContain('Docker is not answering');
  });
});

describe('groupContainers', () => {
  it('projects by name, then the others, each sorted', () => {
    const g = groupContainers(containersFixture().reverse());
    expect(g.map((x) => [x.project, x.containers.map((c) => c.name)])).toEqual([
      ['shop', ['shop-db-1', 'shop-web-1', 'shop-worker-1']],
      [null, ['legacy-api', 'scratchpad']],
    ]);
    expect(groupContainers([])).toEqual([]);
  });
});
