// The Disk view: what the VM's disk file takes on this Mac against the most it may grow to, what
// Docker keeps in it (`system df`), and Reclaim: prune what the user picks. Freed blocks go back
// to the Mac on their own (the guest discards them and QEMU punches holes in the file).
import { useState } from 'react';
import type { DfCategory, ReclaimChoice } from '../../../electron/shared/docker.js';
import { useDocker } from '../store/docker.js';
import { formatBytes } from '../shared/format.js';
import { Confirm, DockerActionError, DockerError, useDockerUp, useEvery } from './DockerCommon.js';

const REFRESH_MS = 4000;

type Key = 'containers' | 'images' | 'volumes' | 'buildCache';

const ROWS: Array<{ key: Key; label: string; choice: string }> = [
  { key: 'images', label: 'Images', choice: 'Dangling images' },
  { key: 'containers', label: 'Containers', choice: 'Stopped containers' },
  { key: 'volumes', label: 'Volumes', choice: 'Unused volumes' },
  { key: 'buildCache', label: 'Build cache', choice: 'Build cache' },
];

function Bar({ used, total }: { used: number; total: number }): React.JSX.Element {
  return <progress value={Math.min(used, total)} max={Math.max(1, total)} aria-label="Disk file size of its maximum" />;
}

export function Disk(): React.JSX.Element {
  const { usage, error } = useDocker((s) => s.disk);
  const load = useDocker((s) => s.loadDisk);
  const reclaim = useDocker((s) => s.reclaim);
  const reclaiming = useDocker((s) => s.reclaiming);
  const last = useDocker((s) => s.lastReclaim);
  const up = useDockerUp();
  const [pick, setPick] = useState<Record<Key, boolean>>({ containers: true, images: true, volumes: false, buildCache: true });
  const [allImages, setAllImages] = useState(false);
  const [asking, setAsking] = useState(false);
  // the file shrinks a few seconds after a prune: keep the figures fresh while the view is open
  useEvery(REFRESH_MS, load, true);

  const df = usage?.docker ?? null;
  const chosen: ReclaimChoice = {
    ...(pick.containers ? { containers: true } : {}),
    ...(pick.images ? { images: allImages ? 'unused' : 'dangling' } : {}),
    ...(pick.volumes ? { volumes: true } : {}),
    ...(pick.buildCache ? { buildCache: true } : {}),
  };
  const anyChosen = Object.keys(chosen).length > 0;
  const estimate = df ? ROWS.filter((r) => pick[r.key]).reduce((n, r) => n + (df[r.key] as DfCategory).reclaimableBytes, 0) : 0;
  const vm = usage?.vmDisk ?? null;

  return (
    <section className="pane" aria-labelledby="pane-title">
      <h2 id="pane-title">Disk</h2>
      <p className="pane-intro">Docker’s data lives in the VM’s disk file on this Mac. The file grows as Docker stores more, and shrinks again within seconds when something is deleted.</p>
      <DockerActionError />
      <h3 className="group-title">VM disk on this Mac</h3>
      <div className="group" data-testid="vm-disk">
        {vm ? (
          <>
            <div className="row progress-row">
              <div className="progress-text">
                <span>
                  <strong data-testid="disk-allocated">{formatBytes(vm.allocatedBytes)}</strong> taken on this Mac
                </span>
                <span className="muted">of {formatBytes(vm.virtualBytes)} the disk may grow to</span>
              </div>
              <Bar used={vm.allocatedBytes} total={vm.virtualBytes} />
            </div>
            <div className="row">
              <span className="row-label">File</span>
              <code className="row-value selectable">{vm.path}</code>
            </div>
          </>
        ) : (
          <div className="row muted">{usage ? 'The VM has no disk yet: it is made at the first start.' : error ? '' : 'Loading…'}</div>
        )}
      </div>
      {error ? <DockerError error={error} retry={() => void load()} /> : null}

      <h3 className="group-title">What Docker stores</h3>
      {df ? (
        <div className="group table-wrap">
          <table className="table" data-testid="df-table">
            <thead>
              <tr>
                <th scope="col">Kind</th>
                <th scope="col">Count</th>
                <th scope="col">In use</th>
                <th scope="col">Size</th>
                <th scope="col">Reclaimable</th>
              </tr>
            </thead>
            <tbody>
              {ROWS.map((r) => {
                const c = df[r.key] as DfCategory;
                return (
                  <tr key={r.key} data-kind={r.key}>
                    <td>{r.label}</td>
                    <td className="num">{c.count}</td>
                    <td className="num">{c.active}</td>
                    <td className="num">{formatBytes(c.sizeBytes)}</td>
                    <td className="num">{formatBytes(c.reclaimableBytes)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : usage?.dockerError ? (
        <p className="muted empty" data-testid="df-missing">
          {usage.dockerError.code === 'E_NOT_RUNNING' ? 'Docker is not running: start it to see what it stores.' : `Docker did not say: ${usage.dockerError.message}`}
        </p>
      ) : (
        <p className="muted empty">Loading…</p>
      )}

      <h3 className="group-title">Reclaim space</h3>
      <div className="group" data-testid="reclaim">
        {ROWS.map((r) => (
          <label key={r.key} className="row check-row">
            <span className="check">
              <input type="checkbox" checked={pick[r.key]} onChange={(e) => setPick({ ...pick, [r.key]: e.target.checked })} disabled={!up || reclaiming} />
              {r.key === 'images' && allImages ? 'Every image no container uses' : r.choice}
            </span>
            <span className="row-value">{df ? formatBytes((df[r.key] as DfCategory).reclaimableBytes) : ''}</span>
          </label>
        ))}
        <label className="row check-row">
          <span className="check row-help">
            <input type="checkbox" checked={allImages} onChange={(e) => setAllImages(e.target.checked)} disabled={!up || reclaiming || !pick.images} />
            Also tagged images no container uses (they can be pulled again)
          </span>
        </label>
        <div className="row">
          <span className="row-help">{df ? `About ${formatBytes(estimate)} can be freed.` : ''}</span>
          <button type="button" className="btn btn-primary" disabled={!up || !anyChosen || reclaiming} onClick={() => setAsking(true)}>
            {reclaiming ? 'Reclaiming…' : 'Reclaim'}
          </button>
        </div>
      </div>
      {last ? (
        <p className="banner banner-info" role="status" data-testid="reclaim-result">
          Freed {formatBytes(last.reclaimedBytes)} ({last.steps.map((s) => `${s.deleted} ${s.what === 'buildCache' ? 'cache entries' : s.what}`).join(', ')}).
          {last.allocatedBefore !== undefined && vm ? ` The disk file went from ${formatBytes(last.allocatedBefore)} to ${formatBytes(vm.allocatedBytes)}.` : ''}
        </p>
      ) : null}
      {asking ? (
        <Confirm
          title="Reclaim space?"
          body={
            <ul className="dialog-list">
              {ROWS.filter((r) => pick[r.key]).map((r) => (
                <li key={r.key}>{r.key === 'images' && allImages ? 'Every image no container uses' : r.choice}</li>
              ))}
            </ul>
          }
          confirm="Reclaim"
          onCancel={() => setAsking(false)}
          onConfirm={() => {
            setAsking(false);
            void reclaim(chosen);
          }}
        />
      ) : null}
    </section>
  );
}
