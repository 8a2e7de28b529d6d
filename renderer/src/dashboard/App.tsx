import { useEffect, useRef, useState } from 'react';
import { selectMounts, selectPorts, useBerth } from '../store/berth.js';
import { ActionError, Toolbar } from './Toolbar.js';
import { Overview } from './Overview.js';
import { Resources } from './Resources.js';
import { Mounts, Ports } from './Tables.js';
import { Emulation } from './Emulation.js';
import { Logs } from './Logs.js';
import { Containers } from './Containers.js';
import { Images } from './Images.js';
import { Volumes } from './Volumes.js';
import { Disk } from './Disk.js';
import { useDocker } from '../store/docker.js';

export type PaneId = 'overview' | 'containers' | 'images' | 'volumes' | 'disk' | 'resources' | 'ports' | 'mounts' | 'emulation' | 'logs';

const PANES: Array<{ id: PaneId; label: string; icon: string }> = [
  { id: 'overview', label: 'Overview', icon: '◉' },
  { id: 'containers', label: 'Containers', icon: '▦' },
  { id: 'images', label: 'Images', icon: '◫' },
  { id: 'volumes', label: 'Volumes', icon: '▥' },
  { id: 'disk', label: 'Disk', icon: '◔' },
  { id: 'resources', label: 'Resources', icon: '▤' },
  { id: 'ports', label: 'Ports', icon: '⇄' },
  { id: 'mounts', label: 'Mounts', icon: '▣' },
  { id: 'emulation', label: 'Emulation', icon: '⎔' },
  { id: 'logs', label: 'Logs', icon: '≡' },
];

function Count({ n, failed }: { n: number; failed: number }): React.JSX.Element | null {
  if (!n) return null;
  return (
    <span className={`count${failed ? ' count-failed' : ''}`} aria-label={failed ? `${n}, ${failed} failed` : String(n)}>
      {n}
    </span>
  );
}

export function Sidebar({ pane, onSelect }: { pane: PaneId; onSelect: (p: PaneId) => void }): React.JSX.Element {
  const instance = useBerth((s) => s.status?.instance ?? null);
  const ports = useBerth(selectPorts);
  const mounts = useBerth(selectMounts);
  const running = useDocker((s) => (s.containers.items ?? []).filter((c) => c.state === 'running').length);
  const refs = useRef<Partial<Record<PaneId, HTMLButtonElement | null>>>({});

  const move = (delta: number): void => {
    const i = PANES.findIndex((p) => p.id === pane);
    const next = PANES[(i + delta + PANES.length) % PANES.length]!.id;
    onSelect(next);
    refs.current[next]?.focus();
  };

  return (
    <nav className="sidebar" aria-label="Sections">
      <div className="sidebar-head">
        <span className="app-name">Berth</span>
        {instance ? <span className="instance muted">Instance “{instance}”</span> : null}
      </div>
      <ul
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown') {
            e.preventDefault();
            move(1);
          } else if (e.key === 'ArrowUp') {
            e.preventDefault();
            move(-1);
          }
        }}
      >
        {PANES.map((p) => (
          <li key={p.id}>
            <button
              type="button"
              ref={(el) => {
                refs.current[p.id] = el;
              }}
              className="sidebar-item"
              aria-current={pane === p.id ? 'page' : undefined}
              onClick={() => onSelect(p.id)}
            >
              <span className="sidebar-icon" aria-hidden="true">
                {p.icon}
              </span>
              <span className="sidebar-label">{p.label}</span>
              {p.id === 'containers' ? <Count n={running} failed={0} /> : null}
              {p.id === 'ports' ? <Count n={ports.length} failed={ports.filter((x) => x.state === 'failed').length} /> : null}
              {p.id === 'mounts' ? <Count n={mounts.length} failed={mounts.filter((x) => x.state === 'failed').length} /> : null}
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}

const initialPane = (): PaneId => {
  const h = typeof location !== 'undefined' ? location.hash.slice(1) : '';
  return PANES.some((p) => p.id === h) ? (h as PaneId) : 'overview';
};

export function App(): React.JSX.Element {
  const init = useBerth((s) => s.init);
  const initDocker = useDocker((s) => s.init);
  const up = useBerth((s) => s.status?.state === 'running' || s.status?.state === 'degraded');
  const [pane, setPane] = useState<PaneId>(initialPane);

  useEffect(() => init(), [init]);
  useEffect(() => initDocker(), [initDocker]);
  // the sidebar counts running containers from the start; the views load the rest when opened
  useEffect(() => {
    if (up) void useDocker.getState().loadContainers();
    else useDocker.getState().clear();
  }, [up]);
  const select = (p: PaneId): void => {
    // leaving the Containers view ends a followed log
    if (p !== 'containers' && useDocker.getState().logs) void useDocker.getState().closeLogs();
    setPane(p);
  };

  return (
    <div className="window">
      <Sidebar pane={pane} onSelect={select} />
      <main className="content">
        <Toolbar />
        <ActionError />
        <div className="scroll">
          {pane === 'overview' ? <Overview /> : null}
          {pane === 'containers' ? <Containers /> : null}
          {pane === 'images' ? <Images /> : null}
          {pane === 'volumes' ? <Volumes /> : null}
          {pane === 'disk' ? <Disk /> : null}
          {pane === 'resources' ? <Resources /> : null}
          {pane === 'ports' ? <Ports /> : null}
          {pane === 'mounts' ? <Mounts /> : null}
          {pane === 'emulation' ? <Emulation /> : null}
          {pane === 'logs' ? <Logs /> : null}
        </div>
      </main>
    </div>
  );
}
