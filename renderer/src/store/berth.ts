// The dashboard's state: the latest status snapshot and what the events add to it (progress,
// ports, mounts, log lines), the settings, and the user's actions. Components read this store;
// only this store talks to the api module.
import { create } from 'zustand';
import type { BerthError, EmulationStatus, LogLine, MountInfo, PortForward, Progress, Status } from '../../../electron/shared/status.js';
import type { Settings } from '../../../electron/shared/settings.js';
import type { Envelope } from '../../../electron/shared/contract.js';
import { invoke, on } from '../api/berth.js';
import { isUp } from '../shared/format.js';

export type Action = 'start' | 'stop' | 'shutdown' | 'restart' | 'emulation' | 'settings';
export type LogSource = LogLine['source'];

export const MAX_LOG_LINES = 1000;

export interface BerthState {
  /** false until the first vm.status answered; then whether the engine answers at all */
  connected: boolean | null;
  status: Status | null;
  /** latest progress per task; cleared when the task ends */
  progress: Partial<Record<Progress['task'], Progress>>;
  /** from `ports`/`mounts` events, newer than status.ports/mounts; null = use the status */
  ports: PortForward[] | null;
  mounts: MountInfo[] | null;
  settings: Settings | null;
  /** settings.set said a restart is needed (status.restartNeeded says it too, after the next status) */
  restartNeeded: boolean;
  logSource: LogSource;
  logPath: string | null;
  logs: string[];
  pending: Action | null;
  /** the last failed action, shown until dismissed or the next action */
  actionError: (BerthError & { action: Action }) | null;

  init(): () => void;
  refresh(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** power off instead of suspending, and discard a saved state (vm.stop {shutdown: true}) */
  shutdown(): Promise<void>;
  restart(): Promise<void>;
  setEmulation(enabled: boolean): Promise<void>;
  checkEmulation(): Promise<void>;
  saveSettings(patch: Partial<Settings>): Promise<boolean>;
  showLogs(source: LogSource): Promise<void>;
  dismissError(): void;
}

export const initialState = {
  connected: null,
  status: null,
  progress: {},
  ports: null,
  mounts: null,
  settings: null,
  restartNeeded: false,
  logSource: 'events' as LogSource,
  logPath: null,
  logs: [],
  pending: null,
  actionError: null,
} satisfies Partial<BerthState>;


function trimLogs(lines: string[]): string[] {
  return lines.length > MAX_LOG_LINES ? lines.slice(lines.length - MAX_LOG_LINES) : lines;
}

export const useBerth = create<BerthState>()((set, get) => {
  /**
   * One action at a time — except Stop (or Shut down), which may cancel a start or restart
   * (vm.start answers only once Docker is up). An action replaced that way has its answer ignored.
   */
  async function act<T>(action: Action, call: () => Promise<Envelope<T>>, apply: (value: T) => void): Promise<boolean> {
    const now = get().pending;
    const stops = action === 'stop' || action === 'shutdown';
    if (now && !(stops && (now === 'start' || now === 'restart'))) return false;
    set({ pending: action, actionError: null });
    const r = await call();
    if (get().pending !== action) return r.ok;
    if (r.ok) apply(r.value);
    set({ pending: null, ...(r.ok ? {} : { actionError: { ...r.error, action } }) });
    return r.ok;
  }

  function applyStatus(s: Status): void {
    const progress = { ...get().progress };
    if (s.state !== 'starting') {
      delete progress.boot;
      delete progress.image;
      delete progress.download;
    }
    if (s.state !== 'stopping') delete progress.stop;
    const wasUp = isUp(get().status);
    const up = isUp(s);
    // ports/mounts events are newer than a snapshot that has none; a stopped VM has none at all
    const keep = up && wasUp;
    set({
      status: s,
      ports: keep && s.ports.length === 0 ? get().ports : null,
      mounts: keep && s.mounts.length === 0 ? get().mounts : null,
      progress,
      connected: true,
      restartNeeded: s.restartNeeded,
    });
    if (up && !wasUp) {
      void invoke('ports.list', {}).then((r) => r.ok && isUp(get().status) && get().ports === null && r.value.length > 0 && set({ ports: r.value }));
      void invoke('mounts.list', {}).then((r) => r.ok && isUp(get().status) && get().mounts === null && r.value.length > 0 && set({ mounts: r.value }));
    }
  }

  /**
   * Status events are the live truth; an answer to vm.start/stop/restart is a snapshot taken when
   * the engine answered. If an event arrived while the call was in flight, that answer is older
   * than what we show (measured: a slow bridge delivered "stopping" after the "stopped" event).
   */
  let statusEvents = 0;
  function applyAnswer(): (s: Status) => void {
    const seen = statusEvents;
    return (s) => {
      if (statusEvents === seen) applyStatus(s);
    };
  }

  /** settings.set calls not answered yet, oldest first, and the chain that runs them in order */
  const queuedPatches: Array<Partial<Settings>> = [];
  let settingsChain: Promise<unknown> = Promise.resolve();

  function applyEmulation(e: EmulationStatus): void {
    const s = get().status;
    if (s) set({ status: { ...s, emulation: e } });
    const st = get().settings;
    if (st) set({ settings: { ...st, emulation: { ...st.emulation, enabled: e.enabled } } });
  }

  return {
    ...initialState,

    init() {
      const offs = [
        on('status', (st) => {
          statusEvents++;
          applyStatus(st);
        }),
        on('progress', (p) => set({ progress: { ...get().progress, [p.task]: p } })),
        on('ports', (ports) => set({ ports })),
        on('mounts', (mounts) => set({ mounts })),
        on('log', (l) => {
          if (l.source === get().logSource) set({ logs: trimLogs([...get().logs, l.line]) });
        }),
      ];
      void get().refresh();
      void invoke('settings.get', {}).then((r) => r.ok && set({ settings: r.value }));
      void get().showLogs(get().logSource);
      return () => offs.forEach((off) => off());
    },

    async refresh() {
      const r = await invoke('vm.status', {});
      if (r.ok) applyStatus(r.value);
      else set({ connected: false });
    },

    start: async () => {
      await act('start', () => invoke('vm.start', {}), applyAnswer());
    },
    stop: async () => {
      await act('stop', () => invoke('vm.stop', {}), applyAnswer());
    },
    shutdown: async () => {
      await act('shutdown', () => invoke('vm.stop', { shutdown: true }), applyAnswer());
    },
    restart: async () => {
      await act('restart', () => invoke('vm.restart', {}), applyAnswer());
    },

    setEmulation: async (enabled) => {
      await act('emulation', () => invoke('emulation.set', { enabled }), applyEmulation);
    },
    checkEmulation: async () => {
      await act('emulation', () => invoke('emulation.status', {}), applyEmulation);
    },

    saveSettings: (patch) => {
      // shown at once (a switch or radio must not snap back while its save is on its way); saves
      // run one after another, each answer shown with the changes still queued on top of it
      queuedPatches.push(patch);
      const shown = get().settings;
      if (shown) set({ settings: { ...shown, ...patch } });
      const run = settingsChain.then(async () => {
        const answer: { settings: Settings | null } = { settings: null };
        const ok = await act('settings', () => invoke('settings.set', { patch }), (v) => {
          answer.settings = v.settings;
          set({ restartNeeded: v.restartNeeded || get().restartNeeded });
        });
        queuedPatches.splice(queuedPatches.indexOf(patch), 1);
        if (!answer.settings) {
          // refused or failed: show what the engine has
          const r = await invoke('settings.get', {});
          if (r.ok) answer.settings = r.value;
        }
        if (answer.settings) set({ settings: Object.assign({}, answer.settings, ...queuedPatches) as Settings });
        return ok;
      });
      settingsChain = run.catch(() => false);
      return run;
    },

    async showLogs(source) {
      set({ logSource: source, logs: [], logPath: null });
      const r = await invoke('logs.tail', { source, lines: 300 });
      if (get().logSource !== source) return;
      // lines that arrived as events while the tail was on its way are kept after the tail
      if (r.ok) set({ logs: trimLogs([...r.value.lines, ...get().logs]), logPath: r.value.path });
    },

    dismissError: () => set({ actionError: null }),
  };
});

/** Ports/mounts as the user should see them: the newest event, else the status snapshot. */
const NO_PORTS: PortForward[] = [];
const NO_MOUNTS: MountInfo[] = [];
export const selectPorts = (s: BerthState): PortForward[] => s.ports ?? s.status?.ports ?? NO_PORTS;
export const selectMounts = (s: BerthState): MountInfo[] => s.mounts ?? s.status?.mounts ?? NO_MOUNTS;
