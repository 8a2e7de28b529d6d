// The Volumes view: name, size, the containers using each; remove one, or every unused one.
import { useState } from 'react';
import type { VolumeInfo } from '../../../electron/shared/docker.js';
import { useDocker } from '../store/docker.js';
import { formatBytes, formatWhen } from '../shared/format.js';
import { Confirm, DockerActionError, ListState, PruneBanner, useReloadOnDockerChange, useLoadWhileUp } from './DockerCommon.js';

export function Volumes(): React.JSX.Element {
  const { items, error, loading } = useDocker((s) => s.volumes);
  const load = useDocker((s) => s.loadVolumes);
  const remove = useDocker((s) => s.removeVolume);
  const prune = useDocker((s) => s.pruneVolumes);
  const busy = useDocker((s) => s.busy);
  const up = useLoadWhileUp(() => void load());
  useReloadOnDockerChange(load, up);
  const [asking, setAsking] = useState<VolumeInfo | 'prune' | null>(null);
  const unused = (items ?? []).filter((v) => v.usedBy.length === 0);
  const unusedBytes = unused.reduce((n, v) => n + Math.max(0, v.sizeBytes), 0);

  return (
    <section className="pane pane-wide" aria-labelledby="pane-title">
      <div className="pane-head">
        <h2 id="pane-title">Volumes</h2>
        <button type="button" className="btn btn-small" disabled={!up || !unused.length || !!busy['volumes:prune']} onClick={() => setAsking('prune')}>
          {busy['volumes:prune'] ? 'Removing…' : `Remove unused${unused.length ? ` (${unused.length})` : ''}`}
        </button>
      </div>
      <DockerActionError />
      <PruneBanner what="volumes" noun="volume" />
      <ListState
        what="volumes"
        up={up}
        error={error}
        items={items}
        loading={loading}
        retry={() => void load()}
        empty={
          <>
            No volumes. <code>docker volume create</code> or <code>-v name:/path</code> makes one.
          </>
        }
      >
        {(items) => (
        <div className="group table-wrap">
          <table className="table" data-testid="volumes-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Size</th>
                <th scope="col">Used by</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((v) => (
                <tr key={v.name} data-volume={v.name}>
                  <td>
                    <code className="selectable">{v.name}</code>
                    {v.project ? <div className="cell-sub muted">compose project {v.project}</div> : null}
                  </td>
                  <td className="num">{v.sizeBytes >= 0 ? formatBytes(v.sizeBytes) : <span className="muted">unknown</span>}</td>
                  <td>{v.usedBy.length ? v.usedBy.join(', ') : <span className="muted">unused</span>}</td>
                  <td>{formatWhen(v.createdAt)}</td>
                  <td className="actions">
                    <button type="button" className="btn btn-small btn-danger-text" disabled={!!busy[`volume:${v.name}`]} onClick={() => setAsking(v)} aria-label={`Remove ${v.name}`}>
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        )}
      </ListState>
      {asking === 'prune' ? (
        <Confirm
          title={`Remove ${unused.length} unused volume${unused.length === 1 ? '' : 's'}?`}
          body={<p>Volumes no container uses ({formatBytes(unusedBytes)}): their data is deleted for good. The space returns to this Mac.</p>}
          confirm="Remove"
          onCancel={() => setAsking(null)}
          onConfirm={() => {
            setAsking(null);
            void prune();
          }}
        />
      ) : asking ? (
        <Confirm
          title={`Remove volume ${asking.name}?`}
          body={<p>{asking.usedBy.length ? `It is used by ${asking.usedBy.join(', ')}: Docker refuses until they are removed. ` : ''}Its data is deleted for good.</p>}
          confirm="Remove"
          onCancel={() => setAsking(null)}
          onConfirm={() => {
            const v = asking;
            setAsking(null);
            void remove(v.name);
          }}
        />
      ) : null}
    </section>
  );
}
