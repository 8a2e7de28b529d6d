// The tray menu as a pure function of the status snapshot: no Electron runtime import,
// so every state is unit-tested. The adapter in tray.ts rebuilds the menu from it on each event.
import type { MenuItemConstructorOptions } from 'electron';
import { isUpState } from '../shared/status.js';
import type { PortForward, Progress, Status, VmState } from '../shared/status.js';
import type { ContainerInfo } from '../shared/docker.js';

export interface TrayActions {
  start(): void;
  stop(): void;
  /** vm.stop {shutdown: true}: power off, discarding a saved state */
  shutdown(): void;
  restart(): void;
  setEmulation(enabled: boolean): void;
  openPort(hostPort: number): void;
  /** containers.stop of a running container (the Containers submenu) */
  stopContainer?(id: string): void;
  openDashboard(): void;
  openConsole(): void;
  quit(): void;
}

export interface TrayOptions {
  actions: TrayActions;
  /** the latest progress event while starting (boot/image), shown next to the step */
  progress?: Progress | null;
  /**
   * the request in flight, if any: other actions wait for its answer — except Stop, which may
   * cancel a start (vm.start answers only once Docker is up, which can take minutes)
   */
  pending?: TrayAction | null;
  /** ports from the latest `ports` event (newer than status.ports) */
  ports?: PortForward[];
  /** from the latest `containers` event (or containers.list) */
  containers?: ContainerInfo[];
}

export type TrayAction = 'start' | 'stop' | 'shutdown' | 'restart' | 'emulation';

export type TrayIconState = 'stopped' | 'starting' | 'running' | 'stopping' | 'error';

const ICON_STATE: Record<VmState, TrayIconState> = {
  stopped: 'stopped',
  starting: 'starting',
  running: 'running',
  stopping: 'stopping',
  error: 'error',
  degraded: 'error',
};

export function trayIconState(status: Status | null): TrayIconState {
  return status ? ICON_STATE[status.state] : 'stopped';
}

/** File name of the template image for a state, e.g. trayRunningTemplate.png (macOS picks @2x itself). */
export function trayIconFile(state: TrayIconState): string {
  return `tray${state[0]!.toUpperCase()}${state.slice(1)}Template.png`;
}

export function emulationLabel(status: Status | null): string {
  return status?.emulation.foreignArch === 'aarch64' ? 'ARM64 emulation' : 'x86 emulation';
}

/** The readiness step running now, with its position on the ladder, or null. */
export function currentStep(status: Status): { label: string; index: number; total: number } | null {
  const i = status.steps.findIndex((s) => s.state === 'running');
  const j = i >= 0 ? i : status.steps.findIndex((s) => s.state === 'pending');
  if (j < 0) return null;
  return { label: status.steps[j]!.label, index: j + 1, total: status.steps.length };
}

function pct(p: Progress | null | undefined): string {
  if (!p) return '';
  const f = p.fraction ?? (p.total ? (p.done ?? 0) / p.total : undefined);
  return f === undefined ? '' : ` ${Math.round(Math.max(0, Math.min(1, f)) * 100)}%`;
}

/** The first lines of the menu: what is going on, in words. */
export function statusLines(status: Status | null, progress?: Progress | null): string[] {
  if (!status) return ['Connecting to the Berth engine…'];
  switch (status.state) {
    case 'stopped':
      return [status.saved ? 'Docker is stopped — saved, starts in about a second' : 'Docker is stopped'];
    case 'starting': {
      const step = currentStep(status);
      if (!step) return ['Docker is starting…'];
      return [`Starting: ${step.label}… (${step.index}/${step.total})${progress && (!progress.step || progress.step === status.steps[step.index - 1]?.name) ? pct(progress) : ''}`];
    }
    case 'running': {
      const secs =
        status.resume?.resumed && status.resume.loadMs !== undefined
          ? ` · resumed in ${(status.resume.loadMs / 1000).toFixed(1)} s`
          : status.readyMs !== undefined
            ? ` · ready in ${(status.readyMs / 1000).toFixed(1)} s`
            : '';
      return [`Docker is running${secs}`];
    }
    case 'stopping':
      return ['Docker is stopping…'];
    case 'degraded': {
      const failing = status.ports.filter((p) => p.state === 'failed').length + status.mounts.filter((m) => m.state === 'failed').length;
      const why = status.error?.message ?? (failing ? `${failing} port or mount problem${failing > 1 ? 's' : ''}` : 'something needs attention');
      return [`Docker is running, with problems: ${why}`];
    }
    case 'error': {
      const e = status.error;
      const lines = [`Error: ${e?.message ?? 'the VM failed'}`];
      if (e?.hint) lines.push(e.hint);
      return lines;
    }
  }
}

/**
 * A disabled line under the status: why the last stop shut down instead of suspending (or what the
 * suspend did). Only while the VM is down: once it runs again, the last start is what matters.
 */
export function stopNote(status: Status | null): string | null {
  const note = status?.lastStop?.note;
  return note && (status.state === 'stopped' || status.state === 'error') ? note : null;
}

function portLabel(p: PortForward): string {
  const who = p.container ? ` — ${p.container}` : p.source === 'guest' ? ' — guest process' : '';
  const failed = p.state === 'failed' ? ` (failed${p.reason ? `: ${p.reason}` : ''})` : '';
  // UDP says so; TCP is what a port means unless told otherwise (and what a browser opens).
  const proto = p.protocol === 'udp' ? '/udp' : '';
  return `localhost:${p.hostPort}${proto}${p.hostPort !== p.guestPort ? ` → ${p.guestPort}${proto}` : ''}${who}${failed}`;
}

function portsMenu(ports: PortForward[], up: boolean, openPort: (port: number) => void): MenuItemConstructorOptions {
  const sorted = [...ports].sort((a, b) => a.hostPort - b.hostPort || a.protocol.localeCompare(b.protocol));
  const submenu: MenuItemConstructorOptions[] = sorted.length
    ? sorted.map((p) =>
        p.protocol === 'udp'
          ? // nothing to open in a browser: shown, not clickable
            { id: `port-${p.hostPort}-udp`, label: portLabel(p), enabled: p.state === 'forwarding' }
          : {
              id: `port-${p.hostPort}`,
              label: portLabel(p),
              enabled: p.state === 'forwarding',
              click: () => openPort(p.hostPort),
            },
      )
    : [{ id: 'ports-none', label: up ? 'No published ports' : 'Docker is not running', enabled: false }];
  return { id: 'ports', label: sorted.length ? `Ports (${sorted.length})` : 'Ports', enabled: up, submenu };
}

const MAX_CONTAINERS = 20;

/** The running containers, each with its published ports to open and a Stop. */
function containersMenu(containers: ContainerInfo[], forwards: PortForward[], up: boolean, a: TrayActions): MenuItemConstructorOptions {
  const running = containers.filter((c) => c.state === 'running').sort((x, y) => (x.project ?? '').localeCompare(y.project ?? '') || x.name.localeCompare(y.name));
  const hostPort = (p: number): number => forwards.find((f) => f.protocol === 'tcp' && f.guestPort === p && f.state === 'forwarding')?.hostPort ?? p;
  const submenu: MenuItemConstructorOptions[] = running.length
    ? running.slice(0, MAX_CONTAINERS).map((c) => {
        const ports = [...new Set(c.ports.filter((p) => p.publicPort && p.type === 'tcp').map((p) => hostPort(p.publicPort!)))].sort((x, y) => x - y);
        const items: MenuItemConstructorOptions[] = [
          ...ports.map((port) => ({ id: `container-${c.name}-open-${port}`, label: `Open localhost:${port}`, click: () => a.openPort(port) })),
          ...(ports.length ? [{ type: 'separator' as const }] : []),
          { id: `container-${c.name}-stop`, label: 'Stop', enabled: a.stopContainer !== undefined, click: () => a.stopContainer?.(c.id) },
        ];
        return { id: `container-${c.name}`, label: `${c.project ? `${c.project} › ${c.service ?? c.name}` : c.name}${c.emulated ? ' (emulated)' : ''}`, submenu: items };
      })
    : [{ id: 'containers-none', label: up ? 'No running containers' : 'Docker is not running', enabled: false }];
  if (running.length > MAX_CONTAINERS) submenu.push({ id: 'containers-more', label: `${running.length - MAX_CONTAINERS} more in the Dashboard`, enabled: false });
  return { id: 'containers', label: running.length ? `Containers (${running.length})` : 'Containers', enabled: up, submenu };
}

export function trayTemplate(status: Status | null, opts: TrayOptions): MenuItemConstructorOptions[] {
  const a = opts.actions;
  const state: VmState | null = status?.state ?? null;
  const pending = opts.pending ?? null;
  const busy = pending !== null;
  const up = isUpState(state);
  const canStart = !busy && (state === 'stopped' || state === 'error');
  const stopWaits = pending === 'stop' || pending === 'shutdown' || pending === 'emulation';
  const canStop = !stopWaits && (state === 'starting' || state === 'running' || state === 'degraded' || state === 'error');
  const canRestart = !busy && (state === 'running' || state === 'degraded' || state === 'error');
  // power off from running, or throw away the saved state of a suspended VM
  const canShutdown = !busy && (up || (state === 'stopped' && status?.saved !== undefined));
  const canEmulate = !busy && state !== null && state !== 'starting' && state !== 'stopping';

  const lines = statusLines(status, opts.progress);
  const items: MenuItemConstructorOptions[] = lines.map((label, i) => ({ id: i === 0 ? 'status' : `status-${i}`, label, enabled: false }));
  const note = stopNote(status);
  if (note) items.push({ id: 'stop-note', label: note, enabled: false });
  items.push(
    { type: 'separator' },
    { id: 'start', label: 'Start Docker', enabled: canStart, click: () => a.start() },
    { id: 'stop', label: 'Stop', enabled: canStop, click: () => a.stop() },
    { id: 'shutdown', label: 'Shut down (discard saved state)', enabled: canShutdown, click: () => a.shutdown() },
    { id: 'restart', label: 'Restart', enabled: canRestart, click: () => a.restart() },
    { type: 'separator' },
    {
      id: 'emulation',
      label: emulationLabel(status),
      type: 'checkbox',
      checked: status?.emulation.enabled === true,
      enabled: canEmulate,
      click: (item) => a.setEmulation(item.checked),
    },
    containersMenu(up ? (opts.containers ?? []) : [], opts.ports ?? status?.ports ?? [], up, a),
    portsMenu(opts.ports ?? status?.ports ?? [], up, a.openPort),
    { type: 'separator' },
    { id: 'dashboard', label: 'Open Dashboard…', click: () => a.openDashboard() },
    { id: 'console', label: 'Open Console…', click: () => a.openConsole() },
    { type: 'separator' },
    { id: 'quit', label: 'Quit Berth', accelerator: 'CommandOrControl+Q', click: () => a.quit() },
  );
  return items;
}

export function trayTooltip(status: Status | null): string {
  return `Berth — ${statusLines(status)[0]}`;
}
