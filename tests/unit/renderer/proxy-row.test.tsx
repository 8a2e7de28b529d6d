// @vitest-environment happy-dom
// The Overview's Proxy row: the proxies the VM booted with (masked) and its extra CAs.
import { act, cleanup, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { App } from '../../../renderer/src/dashboard/App.js';
import { initialState, useBerth } from '../../../renderer/src/store/berth.js';
import { makeStatus, SETTINGS } from '../../fixtures/status.js';
import { installFakeApi, ok } from './fake-api.js';
import type { Status } from '../../../electron/shared/status.js';

async function show(status: Status): Promise<void> {
  installFakeApi({ 'vm.status': () => ok(status), 'settings.get': () => ok(SETTINGS), 'logs.tail': () => ok({ lines: [], path: '/x' }) });
  render(<App />);
  await act(async () => {
    await new Promise((r) => setTimeout(r, 0));
  });
}

describe('Overview: proxy', () => {
  beforeEach(() => useBerth.setState(initialState));
  afterEach(() => {
    cleanup();
    delete window.berth;
  });

  it('shows the proxy as the VM uses it, where it came from, the loopback note and the CA count', async () => {
    await show(makeStatus('running', { proxy: { https: 'http://***@10.0.2.2:3128', noProxy: '.corp', source: 'berth.yaml', note: "the host's loopback is 10.0.2.2 from the VM", caCertificates: 2 } }));
    const row = screen.getByTestId('proxy');
    expect(row.textContent).toContain('HTTPS http://***@10.0.2.2:3128, not for .corp (berth.yaml) · 2 extra CAs');
    expect(row.textContent).toContain("the host's loopback is 10.0.2.2 from the VM");
  });

  it('says None when the VM booted without a proxy, and has no row while stopped', async () => {
    await show(makeStatus('running', { proxy: { source: 'none', caCertificates: 0 } }));
    expect(screen.getByTestId('proxy').textContent).toContain('None');
    cleanup();
    await show(makeStatus('stopped'));
    expect(screen.queryByTestId('proxy')).toBeNull();
  });
});
