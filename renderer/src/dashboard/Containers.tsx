// The Containers view: every container, running or not, grouped by compose project, kept current
// by the `containers` event; CPU and memory refreshed while the view is open; actions, logs, shell.
import { useEffect, useMemo, useRef, useState } from 'react';
import type { ContainerInfo, ContainerStats } from '../../../electron/shared/docker.js';
import type { PortForward } from '../../../electron/shared/status.js';
import { selectPorts, useBerth } from '../store/berth.js';
import { groupContainers, useDocker } from '../store/docker.js';
import type { ContainerAction } from '../store/docker.js';
import { formatBytes } from '../shared/format.js';
import { Confirm, DockerActionError, DockerError, formatPercent, formatUptime, ListState, useEvery, useLoadWhileUp } from './DockerCommon.js';

const STATS_EVERY_MS = 5000;

const STATE_TAG: Record<ContainerInfo['state'], string> = {
  running: 'tag-ok',
  restarting: 'tag-warn',
  paused: 'tag-warn',
  created: 'tag-pending',
  exited: 'tag-pending',
  removing: 'tag-pending',
  dead: 'tag-failed',
};

const STATE_LABEL: Record<ContainerInfo['state'], string> = {
  running: 'Running',
  restarting: 'Restarting',
  paused: 'Paused',
  created: 'Created',
  exited: 'Exited',
  removing: 'Removing',
  dead: 'Dead',
};

const BUSY_LABEL: Record<string, string> = { start: 'Starting…', stop: 'Stopping…', restart: 'Restarting…', remove: 'Removing…' };

/** The localhost port a container's published port answers on (Berth forwards it, maybe remapped). */
function hostPortOf(publicPort: number, forwards: PortForward[]): number {
  return forwards.find((f) => f.protocol === 'tcp' && f.guestPort === publicPort && f.state === 'forwarding')?.hostPort ?? publicPort;
}

function Ports({ c, forwards }: { c: ContainerInfo; forwards: PortForward[] }): React.JSX.Element {
  const published = c.ports.filter((p) => p.publicPort && p.type === 'tcp');
  if (!published.length) return <span className="muted">—</span>;
  return (
    <span className="port-list">
      {published.map((p) => {
        const host = hostPortOf(p.publicPort!, forwards);
        return c.state === 'running' ? (
          <a key={`${p.publicPort}`} href={`http://localhost:${host}/`} target="_blank" rel="noreferrer noopener" title={`Open http://localhost:${host}/ in the browser`}>
            {host}:{p.privatePort}
          </a>
        ) : (
          <span key={`${p.publicPort}`} className="muted">
            {host}:{p.privatePort}
          </span>
        );
      })}
    </span>
  );
}

function Row({ c, stats, forwards, onAsk, onLogs, onShell }: { c: ContainerInfo; stats: ContainerStats | undefined; forwards: PortForward[]; onAsk: (c: ContainerInfo, a: ContainerAction) => void; onLogs: (c: ContainerInfo) => void; onShell: (c: ContainerInfo) => void }): React.JSX.Element {
  const busy = useDocker((s) => s.busy[c.id]);
  const running = c.state === 'running';
  return (
    <tr data-container={c.name} data-state={c.state}>
      <td>
        <div className="cell-main">{c.service ?? c.name}</div>
        {c.service ? <div className="cell-sub muted">{c.name}</div> : null}
      </td>
      <td>
        <div className="cell-main">
          <code>{c.image}</code>
        </div>
        {c.emulated ? (
          <span className="tag tag-warn" title={`A ${c.arch} image: it runs under emulation, slower than a native one`}>
            {c.arch} · emulated
          </span>
        ) : null}
      </td>
      <td>
        <span className={`tag ${STATE_TAG[c.state]}`} data-testid="container-state">
          {busy ? (BUSY_LABEL[busy] ?? 'Working…') : STATE_LABEL[c.state]}
        </span>
        <div className="cell-sub muted">{running ? formatUptime(c.startedAt) || c.status : c.status}</div>
      </td>
      <td>
        <Ports c={c} forwards={forwards} />
      </td>
      <td className="num">{running && stats ? formatPercent(stats.cpuPercent) : ''}</td>
      <td className="num">{running && stats ? formatBytes(stats.memoryBytes) : ''}</td>
      <td className="actions">
        {running ? (
          <button type="button" className="btn btn-small" disabled={!!busy} onClick={() => onAsk(c, 'stop')} aria-label={`Stop ${c.name}`}>
            Stop
          </button>
        ) : (
          <button type="button" className="btn btn-small" disabled={!!busy} onClick={() => onAsk(c, 'start')} aria-label={`Start ${c.name}`}>
            Start
          </button>
        )}
        <button type="button" className="btn btn-small" disabled={!!busy || !running} onClick={() => onAsk(c, 'restart')} aria-label={`Restart ${c.name}`}>
          Restart
        </button>
        <button type="button" className="btn btn-small" onClick={() => onLogs(c)} aria-label={`Logs of ${c.name}`}>
          Logs
        </button>
        <button type="button" className="btn btn-small" disabled={!running} onClick={() => onShell(c)} aria-label={`Shell in ${c.name}`}>
          Shell
        </button>
        <button type="button" className="btn btn-small btn-danger-text" disabled={!!busy} onClick={() => onAsk(c, 'remove')} aria-label={`Remove ${c.name}`}>
          Remove
        </button>
      </td>
    </tr>
  );
}

export function ContainerLogs(): React.JSX.Element | null {
  const view = useDocker((s) => s.logs);
  const close = useDocker((s) => s.closeLogs);
  const [follow, setFollow] = useState(true);
  const [query, setQuery] = useState('');
  const box = useRef<HTMLPreElement>(null);
  const shown = useMemo(() => {
    if (!view) return [];
    const q = query.trim().toLowerCase();
    return q ? view.lines.filter((l) => l.toLowerCase().includes(q)) : view.lines;
  }, [view, query]);

  useEffect(() => {
    const el = box.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [shown, follow]);

  if (!view) return null;
  return (
    <section className="pane pane-fill" aria-labelledby="pane-title">
      <div className="pane-head">
        <h2 id="pane-title">Logs of {view.name}</h2>
        <button type="button" className="btn btn-small" onClick={() => void close()}>
          Back to containers
        </button>
      </div>
      <div className="log-tools">
        <input type="search" className="search" placeholder="Search" aria-label="Search the log" value={query} onChange={(e) => setQuery(e.target.value)} />
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
        <span className="muted log-state" data-testid="log-state">
          {view.error ? '' : view.ended ? 'The log ended (the container stopped).' : view.stream ? 'Streaming' : 'Loading…'}
          {query ? ` · ${shown.length} of ${view.lines.length} lines` : ''}
        </span>
      </div>
      {view.error ? <DockerError error={view.error} retry={() => void useDocker.getState().openLogs({ id: view.containerId, name: view.name })} /> : null}
      <pre
        ref={box}
        className="log"
        role="log"
        aria-label={`Log of ${view.name}`}
        tabIndex={0}
        data-testid="container-log"
        onScroll={(e) => {
          const el = e.currentTarget;
          const atEnd = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
          if (atEnd !== follow) setFollow(atEnd);
        }}
      >
        {shown.length ? shown.join('\n') : <span className="muted">{query ? 'No line matches.' : 'No lines yet.'}</span>}
      </pre>
    </section>
  );
}

const ASK: Record<ContainerAction, boolean> = { start: false, stop: false, restart: false, remove: true };

export function Containers(): React.JSX.Element {
  const { items, error, loading } = useDocker((s) => s.containers);
  const stats = useDocker((s) => s.stats);
  const load = useDocker((s) => s.loadContainers);
  const loadStats = useDocker((s) => s.loadStats);
  const act = useDocker((s) => s.containerAction);
  const openLogs = useDocker((s) => s.openLogs);
  const logs = useDocker((s) => s.logs);
  const forwards = useBerth(selectPorts);
  const up = useLoadWhileUp(() => void load());
  const [asking, setAsking] = useState<ContainerInfo | null>(null);
  const anyRunning = (items ?? []).some((c) => c.state === 'running');
  useEvery(STATS_EVERY_MS, loadStats, up && anyRunning && !logs);

  if (logs) return <ContainerLogs />;

  const groups = groupContainers(items ?? []);
  const running = (items ?? []).filter((c) => c.state === 'running').length;
  const shell = (c: ContainerInfo): void => void useDocker.getState().openShell(c);

  return (
    <section className="pane pane-wide" aria-labelledby="pane-title">
      <div className="pane-head">
        <h2 id="pane-title">Containers</h2>
        {items ? (
          <span className="muted" data-testid="containers-count">
            {running} running · {items.length} in all
          </span>
        ) : null}
      </div>
      <DockerActionError />
      <ListState
        what="containers"
        up={up}
        error={error}
        items={items}
        loading={loading}
        retry={() => void load()}
        empty={
          <>
            No containers yet. Try <code>docker run -d -p 8080:80 nginx</code>.
          </>
        }
      >
        {() =>
        groups.map((g) => (
          <div key={g.project ?? '(none)'} className="container-group" data-testid="container-group" data-project={g.project ?? ''}>
            <h3 className="group-title">
              {g.project ? (
                <>
                  <span className="compose-mark" aria-hidden="true">
                    ▦
                  </span>{' '}
                  {g.project}
                  <span className="muted"> · compose project · {g.containers.filter((c) => c.state === 'running').length}/{g.containers.length} running</span>
                </>
              ) : groups.length > 1 ? (
                'Other containers'
              ) : (
                'All containers'
              )}
            </h3>
            <div className="group table-wrap">
              <table className="table" aria-label={g.project ? `Compose project ${g.project}` : 'Containers'}>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Image</th>
                    <th scope="col">State</th>
                    <th scope="col">Ports</th>
                    <th scope="col">CPU</th>
                    <th scope="col">Memory</th>
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {g.containers.map((c) => (
                    <Row
                      key={c.id}
                      c={c}
                      stats={stats[c.id]}
                      forwards={forwards}
                      onAsk={(x, a) => (ASK[a] ? setAsking(x) : void act(x, a))}
                      onLogs={(x) => void openLogs(x)}
                      onShell={shell}
                    />
                  ))}
                </tbody>
              </table>
            </div>
          </div>
        ))
        }
      </ListState>
      {asking ? (
        <Confirm
          title={`Remove ${asking.name}?`}
          body={
            <p>
              {asking.state === 'running' ? 'It is running: it will be stopped first. ' : ''}
              What it wrote outside its volumes is lost; its volumes are kept.
            </p>
          }
          confirm="Remove"
          onCancel={() => setAsking(null)}
          onConfirm={() => {
            const c = asking;
            setAsking(null);
            void act(c, 'remove');
          }}
        />
      ) : null}
    </section>
  );
}
