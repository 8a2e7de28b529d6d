// The Images view: tag, size, created, architecture — an image of another architecture than the
// VM runs under emulation (the usual reason a container is slow), or not at all with it off.
import { useState } from 'react';
import type { ImageInfo } from '../../../electron/shared/docker.js';
import { useBerth } from '../store/berth.js';
import { useDocker } from '../store/docker.js';
import { formatBytes, formatWhen } from '../shared/format.js';
import { Confirm, DockerActionError, ListState, PruneBanner, useReloadOnDockerChange, shortId, useLoadWhileUp } from './DockerCommon.js';

function ArchCell({ img }: { img: ImageInfo }): React.JSX.Element {
  return (
    <>
      <code>
        {img.arch || '?'}
        {img.variant ? `/${img.variant}` : ''}
      </code>{' '}
      {img.runs === 'emulated' ? (
        <span className="tag tag-warn" data-testid="emulated-badge" title="Another architecture than the VM: it runs under qemu-user emulation, several times slower">
          Emulated
        </span>
      ) : img.runs === 'needs-emulation' ? (
        <span className="tag tag-failed" data-testid="emulated-badge" title="Another architecture than the VM, and emulation is off: its containers cannot start">
          Needs emulation (off)
        </span>
      ) : null}
    </>
  );
}

export function Images(): React.JSX.Element {
  const { items, error, loading } = useDocker((s) => s.images);
  const load = useDocker((s) => s.loadImages);
  const remove = useDocker((s) => s.removeImage);
  const prune = useDocker((s) => s.pruneImages);
  const busy = useDocker((s) => s.busy);
  const emulation = useBerth((s) => s.status?.emulation ?? null);
  const up = useLoadWhileUp(() => void load());
  useReloadOnDockerChange(load, up);
  const [asking, setAsking] = useState<ImageInfo | 'prune' | null>(null);
  const dangling = (items ?? []).filter((i) => i.dangling);
  const foreign = (items ?? []).filter((i) => i.emulated).length;

  return (
    <section className="pane pane-wide" aria-labelledby="pane-title">
      <div className="pane-head">
        <h2 id="pane-title">Images</h2>
        <button type="button" className="btn btn-small" disabled={!up || !dangling.length || !!busy['images:prune']} onClick={() => setAsking('prune')}>
          {busy['images:prune'] ? 'Removing…' : `Remove dangling${dangling.length ? ` (${dangling.length})` : ''}`}
        </button>
      </div>
      {up && emulation ? (
        <p className="pane-intro" data-testid="emulation-line">
          {foreign ? `${foreign} image${foreign > 1 ? 's are' : ' is'} of another architecture. ` : ''}
          Emulation of {emulation.foreignArch === 'x86_64' ? 'x86-64' : 'ARM64'} is <strong>{emulation.state === 'enabled' ? 'on' : emulation.state === 'failed' ? 'failing' : 'off'}</strong>
          {emulation.state === 'enabled' ? ': such images run, slower than native ones.' : ': such images do not run until it is turned on (Emulation).'}
        </p>
      ) : null}
      <DockerActionError />
      <PruneBanner what="images" noun="image" />
      <ListState
        what="images"
        up={up}
        error={error}
        items={items}
        loading={loading}
        retry={() => void load()}
        empty={
          <>
            No images. <code>docker pull</code> or <code>docker build</code> one.
          </>
        }
      >
        {(items) => (
        <div className="group table-wrap">
          <table className="table" data-testid="images-table">
            <thead>
              <tr>
                <th scope="col">Image</th>
                <th scope="col">ID</th>
                <th scope="col">Architecture</th>
                <th scope="col">Size</th>
                <th scope="col">Created</th>
                <th scope="col">Used by</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((img) => (
                <tr key={img.id} data-image={img.tags[0] ?? shortId(img.id)} data-runs={img.runs}>
                  <td>{img.tags.length ? img.tags.map((t) => <div key={t}><code>{t}</code></div>) : <span className="muted">&lt;none&gt; (dangling)</span>}</td>
                  <td>
                    <code className="muted selectable">{shortId(img.id)}</code>
                  </td>
                  <td>
                    <ArchCell img={img} />
                  </td>
                  <td className="num">{formatBytes(img.sizeBytes)}</td>
                  <td>{formatWhen(img.createdAt)}</td>
                  <td className="num">{img.containers ? `${img.containers} container${img.containers > 1 ? 's' : ''}` : <span className="muted">—</span>}</td>
                  <td className="actions">
                    <button type="button" className="btn btn-small btn-danger-text" disabled={!!busy[img.id]} onClick={() => setAsking(img)} aria-label={`Remove ${img.tags[0] ?? shortId(img.id)}`}>
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
          title={`Remove ${dangling.length} dangling image${dangling.length === 1 ? '' : 's'}?`}
          body={<p>Images without a tag that no container uses ({formatBytes(dangling.reduce((n, i) => n + i.sizeBytes, 0))}). Their space returns to this Mac.</p>}
          confirm="Remove"
          onCancel={() => setAsking(null)}
          onConfirm={() => {
            setAsking(null);
            void prune();
          }}
        />
      ) : asking ? (
        <Confirm
          title={`Remove ${asking.tags[0] ?? shortId(asking.id)}?`}
          body={<p>{asking.containers ? `${asking.containers} container(s) use it: they are kept, but cannot be recreated without it. ` : ''}It can be pulled or built again.</p>}
          confirm="Remove"
          onCancel={() => setAsking(null)}
          onConfirm={() => {
            const img = asking;
            setAsking(null);
            void remove(img, img.containers > 0);
          }}
        />
      ) : null}
    </section>
  );
}
