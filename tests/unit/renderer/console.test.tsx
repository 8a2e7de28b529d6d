// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeStatus } from '../../fixtures/status.js';
import { installFakeApi, ok } from './fake-api.js';
import type { FakeApi } from './fake-api.js';

// xterm needs a real layout engine; the console's logic is what is tested here.
const terms = vi.hoisted(() => [] as Array<{ written: string[]; input: (d: string) => void; label: string | null; resized: Array<[number, number]> }>);
vi.mock('@xterm/xterm', () => ({
  Terminal: class {
    cols = 80;
    rows = 24;
    options: Record<string, unknown>;
    private rec: (typeof terms)[number];
    constructor(options: Record<string, unknown>) {
      this.options = options;
      this.rec = { written: [], input: () => undefined, label: null, resized: [] };
      terms.push(this.rec);
    }
    open(el: HTMLElement): void {
      const ta = document.createElement('textarea');
      el.appendChild(ta);
      queueMicrotask(() => (this.rec.label = ta.getAttribute('aria-label')));
    }
    write(d: string): void {
      this.rec.written.push(d);
    }
    onData(cb: (d: string) => void): { dispose(): void } {
      this.rec.input = cb;
      return { dispose: () => undefined };
    }
    resize(c: number, r: number): void {
      this.cols = c;
      this.rows = r;
      this.rec.resized.push([c, r]);
    }
    focus(): void {}
    dispose(): void {}
  },
}));

const { ConsoleApp } = await import('../../../renderer/src/console/ConsoleApp.js');
const { initialConsoleState, resetConsoleSize, useConsole } = await import('../../../renderer/src/store/console.js');

const flush = async (): Promise<void> => {
  await act(async () => {
    await new Promise((r) => setTimeout(r, 0));
  });
};

describe('console window', () => {
  let api: FakeApi;
  beforeEach(() => {
    terms.length = 0;
    resetConsoleSize();
    useConsole.setState({ ...initialConsoleState, shell: { state: 'idle', id: null } });
    api = installFakeApi({
      'vm.status': () => ok(makeStatus('running')),
      'logs.tail': () => ok({ lines: ['[    0.000000] Linux version 6.1.0', 'Debian GNU/Linux 12 berth ttyS0'], path: '/Users/ada/.berth/default/serial.log' }),
      'console.open': () => ok({ id: 'c1' }),
      'console.write': () => ok(null),
      'console.resize': () => ok(null),
      'console.close': () => ok(null),
    });
  });
  afterEach(() => {
    cleanup();
    delete window.berth;
  });

  const shell = () => terms[0]!;
  const boot = () => terms[1]!;

  it('has a Shell and a Boot log tab, keyboard switchable', async () => {
    render(<ConsoleApp />);
    await flush();
    const tabs = screen.getAllByRole('tab');
    expect(tabs.map((t) => t.textContent)).toEqual(['Shell', 'Boot log']);
    expect(tabs[0]!.getAttribute('aria-selected')).toBe('true');
    fireEvent.keyDown(tabs[0]!, { key: 'ArrowRight' });
    expect(screen.getAllByRole('tab')[1]!.getAttribute('aria-selected')).toBe('true');
    expect(document.getElementById('panel-shell')!.hidden).toBe(true);
    expect(document.getElementById('panel-boot')!.hidden).toBe(false);
    expect(shell().label).toBe('Shell in the VM');
  });

  it('keystrokes reach the shell in the order typed, one write in flight at a time', async () => {
    const answered: Array<() => void> = [];
    api.answers['console.write'] = () => new Promise((res) => answered.push(() => res(ok(null))));
    render(<ConsoleApp />);
    await flush();
    act(() => shell().input('e'));
    act(() => shell().input('c'));
    act(() => shell().input('h'));
    act(() => shell().input('o'));
    await flush();
    const writes = () => api.calls.filter((c) => c.method === 'console.write').map((c) => (c.params as { data: string }).data);
    expect(writes()).toEqual(['e']); // the rest waits for the first answer, then goes in one
    answered.shift()!();
    await flush();
    expect(writes()).toEqual(['e', 'cho']);
    answered.shift()!();
    await flush();
    expect(writes()).toEqual(['e', 'cho']);
  });

  it('opens a shell when the VM runs, sends keystrokes and shows its output', async () => {
    render(<ConsoleApp />);
    await flush();
    expect(api.calls.find((c) => c.method === 'console.open')?.params).toEqual({ cols: 80, rows: 24 });
    expect(screen.getByTestId('shell-state').textContent).toBe('Connected');
    act(() => shell().input('uname -a\r'));
    await flush();
    expect(api.calls.find((c) => c.method === 'console.write')?.params).toEqual({ id: 'c1', data: 'uname -a\r' });
    act(() => api.emit('console', { id: 'c1', data: 'Linux berth 6.1.0 x86_64 GNU/Linux\r\n' }));
    act(() => api.emit('console', { id: 'other', data: 'not mine' }));
    expect(shell().written.join('')).toContain('Linux berth 6.1.0 x86_64');
    expect(shell().written.join('')).not.toContain('not mine');
  });

  it('resizes the remote pty with the terminal', async () => {
    render(<ConsoleApp />);
    await flush();
    act(() => useConsole.getState().resize(120, 40));
    await flush();
    expect(api.calls.find((c) => c.method === 'console.resize')?.params).toEqual({ id: 'c1', cols: 120, rows: 40 });
  });

  it('says when the shell exits and reconnects on Enter', async () => {
    render(<ConsoleApp />);
    await flush();
    act(() => api.emit('console', { id: 'c1', exit: 0 }));
    expect(screen.getByTestId('shell-state').textContent).toBe('Exited');
    expect(shell().written.join('')).toContain('The shell exited with code 0');
    act(() => shell().input('\r'));
    await flush();
    expect(api.calls.filter((c) => c.method === 'console.open')).toHaveLength(2);
    expect(screen.getByTestId('shell-state').textContent).toBe('Connected');
  });

  it('waits for the VM before opening a shell', async () => {
    api.answers['vm.status'] = () => ok(makeStatus('stopped'));
    render(<ConsoleApp />);
    await flush();
    expect(api.calls.some((c) => c.method === 'console.open')).toBe(false);
    expect((screen.getByRole('button', { name: 'Connect' }) as HTMLButtonElement).disabled).toBe(true);
    act(() => api.emit('status', makeStatus('running')));
    await flush();
    expect(api.calls.some((c) => c.method === 'console.open')).toBe(true);
  });

  it('shows why a shell could not open', async () => {
    api.answers['console.open'] = () => ({ ok: false, error: { code: 'E_NOT_RUNNING', message: 'no SSH config yet', hint: 'Start Docker first.' } });
    render(<ConsoleApp />);
    await flush();
    expect(shell().written.join('')).toContain('no SSH config yet — Start Docker first.');
    expect(screen.getByRole('button', { name: 'Reconnect' })).toBeTruthy();
  });

  it('shows the serial log tail, then live serial lines only', async () => {
    render(<ConsoleApp />);
    await flush();
    act(() => api.emit('log', { source: 'serial', line: 'berth login:' }));
    act(() => api.emit('log', { source: 'agent', line: 'agent stuff' }));
    const text = boot().written.join('');
    expect(text).toBe('[    0.000000] Linux version 6.1.0\r\nDebian GNU/Linux 12 berth ttyS0\r\nberth login:\r\n');
    expect(api.calls.find((c) => c.method === 'logs.tail')?.params).toEqual({ source: 'serial', lines: 2000 });
  });

  it('closes its shell when the window goes away', async () => {
    const { unmount } = render(<ConsoleApp />);
    await flush();
    unmount();
    await flush();
    expect(api.calls.find((c) => c.method === 'console.close')?.params).toEqual({ id: 'c1' });
  });
});
