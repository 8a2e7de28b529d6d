// The console window's state: which tab shows, the shell session (console.open/write/resize/close
// and `console` events), and the boot log (logs.tail of the serial console, then live `log` events).
// Terminal output is not render state: the terminal components register sinks that get the bytes.
import { create } from 'zustand';
import type { BerthError, VmState } from '../../../electron/shared/status.js';
import type { ConsoleEvent, ConsoleTarget } from '../../../electron/shared/contract.js';
import { invoke, on } from '../api/berth.js';
import { isUpState as isUp } from '../shared/format.js';

export type Tab = 'shell' | 'boot';
export type Sink = (data: string) => void;
export type ShellState = 'idle' | 'connecting' | 'open' | 'exited' | 'failed';

export interface ConsoleState {
  tab: Tab;
  vmState: VmState | null;
  shell: { state: ShellState; id: string | null; exitCode?: number; error?: BerthError };
  bootLogPath: string | null;
  /** the shell runs in this container (docker exec), else in the VM */
  target: ConsoleTarget | null;
  setTab(tab: Tab): void;
  /** closes the shell and opens one in the container (or, with null, in the VM) */
  setTarget(target: ConsoleTarget | null): Promise<void>;
  init(): () => void;
  connectShell(): Promise<void>;
  input(data: string): void;
  resize(cols: number, rows: number): void;
  closeShell(): Promise<void>;
}

/** Output waiting for its terminal, and the terminals' writers. */
class Channel {
  private sink: Sink | null = null;
  private pending: string[] = [];
  write(data: string): void {
    if (this.sink) this.sink(data);
    else this.pending.push(data);
  }
  attach(sink: Sink | null): void {
    this.sink = sink;
    if (sink && this.pending.length) {
      const p = this.pending.join('');
      this.pending = [];
      sink(p);
    }
  }
  reset(): void {
    this.pending = [];
  }
}

const shellOut = new Channel();
const bootOut = new Channel();
let size = { cols: 80, rows: 24 };

/**
 * Keystrokes in order. Each `invoke` is its own request, and a transport may answer (or even
 * deliver) them out of order — the browser bridge's parallel HTTP requests did, turning "echo"
 * into "ech o". So one write is in flight at a time, and what is typed meanwhile goes in the next.
 */
const typed = { buffer: '', busy: false };
function sendTyped(id: string): void {
  if (typed.busy || !typed.buffer) return;
  const data = typed.buffer;
  typed.buffer = '';
  typed.busy = true;
  void invoke('console.write', { id, data }).finally(() => {
    typed.busy = false;
    sendTyped(id);
  });
}

export function attachShellSink(sink: Sink | null): void {
  shellOut.attach(sink);
}
export function attachBootSink(sink: Sink | null): void {
  bootOut.attach(sink);
}

/** session output that arrived while console.open was still on its way */
const earlyShell: ConsoleEvent[] = [];

function take(e: ConsoleEvent): void {
  if ('data' in e) shellOut.write(e.data);
  else if ('exit' in e) {
    useConsole.setState({ shell: { state: 'exited', id: null, exitCode: e.exit } });
    shellOut.write(`\r\n\x1b[2m[The shell exited with code ${e.exit}. Press Enter for a new one.]\x1b[0m\r\n`);
  }
}

const toTerm = (s: string): string => s.replace(/\r?\n/g, '\r\n');

export const initialConsoleState = {
  tab: 'shell' as Tab,
  vmState: null,
  shell: { state: 'idle' as ShellState, id: null },
  bootLogPath: null,
  target: null,
};

export const useConsole = create<ConsoleState>()((set, get) => ({
  ...initialConsoleState,

  setTab: (tab) => set({ tab }),

  init() {
    shellOut.reset();
    bootOut.reset();
    earlyShell.length = 0;
    let tailDone = false;
    const early: string[] = [];
    const offs = [
      on('console', (e) => {
        if ('show' in e) {
          // the dashboard asked for a shell in a container; take it (so a later window does not)
          void invoke('console.target', {});
          set({ tab: 'shell' });
          void get().setTarget(e.show);
          return;
        }
        const sh = get().shell;
        if (e.id !== sh.id) {
          // a session may speak before console.open has answered with its id (a container's
          // shell prints its prompt at once): keep that until the answer comes
          if (sh.state === 'connecting') earlyShell.push(e);
          return;
        }
        take(e);
      }),
      on('log', (l) => {
        if (l.source !== 'serial') return;
        if (tailDone) bootOut.write(toTerm(l.line) + '\r\n');
        else early.push(l.line);
      }),
      on('status', (s) => {
        const was = get().vmState;
        set({ vmState: s.state });
        if (!isUp(was) && isUp(s.state) && (get().shell.state === 'idle' || get().shell.state === 'failed')) void get().connectShell();
      }),
    ];
    void Promise.all([invoke('vm.status', {}), invoke('console.target', {})]).then(([r, t]) => {
      // opened for a container's shell (console.show): that one, not the VM's
      if (t.ok && t.value) set({ target: t.value });
      if (!r.ok) return;
      set({ vmState: r.value.state });
      if (isUp(r.value.state) && get().shell.state === 'idle') void get().connectShell();
    });
    void invoke('logs.tail', { source: 'serial', lines: 2000 }).then((r) => {
      if (r.ok) {
        set({ bootLogPath: r.value.path });
        if (r.value.lines.length) bootOut.write(toTerm(r.value.lines.join('\n')) + '\r\n');
      } else {
        bootOut.write(`\x1b[2m[${r.error.message}]\x1b[0m\r\n`);
      }
      tailDone = true;
      for (const line of early.splice(0)) bootOut.write(toTerm(line) + '\r\n');
    });
    return () => {
      offs.forEach((off) => off());
      void get().closeShell();
    };
  },

  async connectShell() {
    const st = get().shell.state;
    if (st === 'connecting' || st === 'open') return;
    set({ shell: { state: 'connecting', id: null } });
    const target = get().target;
    const r = await invoke('console.open', { cols: size.cols, rows: size.rows, ...(target ? { container: target.container } : {}) });
    if (get().target !== target) {
      // the target changed while this one was opening
      if (r.ok) void invoke('console.close', { id: r.value.id });
      return;
    }
    if (r.ok) {
      typed.buffer = ''; // nothing typed for an earlier session goes to this one
      set({ shell: { state: 'open', id: r.value.id } });
      const mine = earlyShell.filter((e) => e.id === r.value.id);
      earlyShell.length = 0;
      mine.forEach(take);
    } else {
      set({ shell: { state: 'failed', id: null, error: r.error } });
      shellOut.write(`\x1b[2m[${r.error.message}${r.error.hint ? ` — ${r.error.hint}` : ''}]\x1b[0m\r\n`);
    }
  },

  input(data) {
    const sh = get().shell;
    if (sh.state === 'open' && sh.id) {
      typed.buffer += data;
      sendTyped(sh.id);
    }
    else if ((sh.state === 'exited' || sh.state === 'failed') && data.includes('\r')) void get().connectShell();
  },

  resize(cols, rows) {
    if (cols === size.cols && rows === size.rows) return;
    size = { cols, rows };
    const sh = get().shell;
    if (sh.state === 'open' && sh.id) void invoke('console.resize', { id: sh.id, cols, rows });
  },

  async setTarget(target) {
    const cur = get().target;
    if (cur?.container === target?.container && (get().shell.state === 'open' || get().shell.state === 'connecting')) return;
    await get().closeShell();
    set({ target, shell: { state: 'idle', id: null } });
    shellOut.write(`\r\n\x1b[2m[${target ? `Shell in container ${target.name ?? target.container}` : 'Shell in the VM'}]\x1b[0m\r\n`);
    if (isUp(get().vmState)) await get().connectShell();
  },

  async closeShell() {
    const sh = get().shell;
    if (sh.state === 'open' && sh.id) {
      set({ shell: { state: 'idle', id: null } });
      await invoke('console.close', { id: sh.id });
    }
  },
}));

/** Test hook: forget terminal size between tests. */
export function resetConsoleSize(): void {
  size = { cols: 80, rows: 24 };
}
