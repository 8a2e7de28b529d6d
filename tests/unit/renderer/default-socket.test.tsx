// @vitest-environment happy-dom
// The dashboard's "Allow the default Docker socket to be used" switch: saved at once as
// docker.defaultSocket (the context setting kept), and what the engine did with
// /var/run/docker.sock and ~/.testcontainers.properties shown beside it while Docker runs.
import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { App } from '../../../renderer/src/dashboard/App.js';
import { initialState, useBerth } from '../../../renderer/src/store/berth.js';
import type { Status } from '../../../electron/shared/status.js';
import { makeStatus, SETTINGS } from '../../fixtures/status.js';
import { installFakeApi, ok } from './fake-api.js';
import type { FakeApi } from './fake-api.js';

const flush = async (): Promise<void> => {
  await act(async () => {
    await new Promise((r) => setTimeout(r, 0));
  });
};

let api: FakeApi;

async function showResources(status: Status): Promise<void> {
  api = installFakeApi({
    'vm.status': () => ok(status),
    'settings.get': () => ok(SETTINGS),
    'logs.tail': ({ source }) => ok({ lines: [], path: `/Users/ada/.berth/default/${source}.log` }),
    'settings.set': ({ patch }) => ok({ settings: { ...(useBerth.getState().settings ?? SETTINGS), ...patch }, restartNeeded: false }),
  });
  render(<App />);
  await flush();
  fireEvent.click(within(screen.getByRole('navigation', { name: 'Sections' })).getByRole('button', { name: /^Resources/ }));
  await flush();
}

const SOCKETS: Status['sockets'] = {
  defaultSocket: { state: 'taken', note: "/var/run/docker.sock links to /Users/ada/.docker/run/docker.sock (another Docker's): left alone; use the berth context or DOCKER_HOST" },
  testcontainers: { state: 'written', file: '/Users/ada/.testcontainers.properties', note: 'docker.host → this instance' },
};

describe('the default Docker socket switch', () => {
  beforeEach(() => {
    useBerth.setState(initialState);
  });
  afterEach(() => {
    cleanup();
    delete window.berth;
  });

  it('is off by default; turning it on saves docker.defaultSocket with the context setting kept', async () => {
    await showResources(makeStatus('running'));
    const sw = screen.getByRole('switch', { name: /^Allow the default Docker socket to be used/ }) as HTMLInputElement;
    expect(sw.checked).toBe(false);
    expect(document.getElementById(sw.getAttribute('aria-describedby')!)!.textContent).toMatch(/administrator password once per boot/);
    fireEvent.click(sw);
    await flush();
    expect(api.calls.filter((c) => c.method === 'settings.set').map((c) => c.params)).toEqual([{ patch: { docker: { context: true, defaultSocket: true } } }]);
    expect(sw.checked).toBe(true);
  });

  it('while running, shows what became of /var/run/docker.sock and the Testcontainers line', async () => {
    await showResources(makeStatus('running', { sockets: SOCKETS }));
    expect(screen.getByTestId('default-socket-note').textContent).toBe(SOCKETS.defaultSocket!.note);
    expect(screen.getByTestId('testcontainers-note').textContent).toBe('Testcontainers (/Users/ada/.testcontainers.properties): docker.host → this instance');
  });

  it('while stopped, shows no stale notes', async () => {
    await showResources(makeStatus('stopped', { sockets: SOCKETS }));
    expect(screen.queryByTestId('default-socket-note')).toBeNull();
    expect(screen.queryByTestId('testcontainers-note')).toBeNull();
  });
});
