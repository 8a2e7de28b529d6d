import { selectMounts, selectPorts, useBerth } from '../store/berth.js';
import { isUp } from '../shared/format.js';

function StateTag({ ok, label }: { ok: boolean | null; label: string }): React.JSX.Element {
  return <span className={`tag ${ok === null ? 'tag-pending' : ok ? 'tag-ok' : 'tag-failed'}`}>{label}</span>;
}

export function Ports(): React.JSX.Element {
  const ports = useBerth(selectPorts);
  const up = useBerth((s) => isUp(s.status));
  const sorted = [...ports].sort((a, b) => a.hostPort - b.hostPort || a.protocol.localeCompare(b.protocol));
  return (
    <section className="pane" aria-labelledby="pane-title">
      <h2 id="pane-title">Ports</h2>
      <p className="pane-intro">TCP and UDP ports published by containers (or opened by any process in the VM) are forwarded to the same port on this Mac’s localhost.</p>
      {sorted.length === 0 ? (
        <p className="muted empty">{up ? 'No published ports. Try docker run -p 8080:80 nginx.' : 'Docker is not running.'}</p>
      ) : (
        <div className="group table-wrap">
          <table className="table" data-testid="ports-table">
            <thead>
              <tr>
                <th scope="col">Host port</th>
                <th scope="col">Protocol</th>
                <th scope="col">Guest port</th>
                <th scope="col">Source</th>
                <th scope="col">State</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {sorted.map((p) => (
                <tr key={`${p.protocol}-${p.hostPort}-${p.guestPort}`} data-port={p.hostPort} data-protocol={p.protocol} data-state={p.state}>
                  <td>
                    {p.state === 'forwarding' && p.protocol === 'tcp' ? (
                      <a href={`http://localhost:${p.hostPort}/`} target="_blank" rel="noreferrer noopener" title={`Open http://localhost:${p.hostPort}/ in the browser`}>
                        localhost:{p.hostPort}
                      </a>
                    ) : (
                      <span>localhost:{p.hostPort}</span>
                    )}
                  </td>
                  <td>{p.protocol.toUpperCase()}</td>
                  <td className="num">
                    {p.guestPort}
                    <span className="muted"> on {p.guestAddress}</span>
                  </td>
                  <td>{p.container ? `Container ${p.container}` : p.source === 'docker' ? 'Container' : 'VM process'}</td>
                  <td>
                    <StateTag ok={p.state === 'forwarding'} label={p.state === 'forwarding' ? 'Forwarding' : 'Failed'} />
                  </td>
                  <td className="reason">{p.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export function Mounts(): React.JSX.Element {
  const mounts = useBerth(selectMounts);
  const settings = useBerth((s) => s.settings);
  const up = useBerth((s) => isUp(s.status));
  // while stopped, show what will be mounted from the settings
  const rows =
    mounts.length > 0 || up
      ? mounts
      : (settings?.mounts ?? []).map((m) => ({ location: m.location, guestPath: m.guestPath ?? m.location, writable: m.writable, state: 'pending' as const, reason: undefined }));
  return (
    <section className="pane" aria-labelledby="pane-title">
      <h2 id="pane-title">Mounts</h2>
      <p className="pane-intro">Folders of this Mac shared with the VM at the same path, so <code>docker run -v "$PWD":/src</code> just works.</p>
      {rows.length === 0 ? (
        <p className="muted empty">No folders are shared.</p>
      ) : (
        <div className="group table-wrap">
          <table className="table" data-testid="mounts-table">
            <thead>
              <tr>
                <th scope="col">Folder</th>
                <th scope="col">Path in the VM</th>
                <th scope="col">Access</th>
                <th scope="col">State</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((m) => (
                <tr key={m.location} data-state={m.state}>
                  <td>
                    <code className="selectable">{m.location}</code>
                  </td>
                  <td>
                    <code className="selectable">{m.guestPath}</code>
                  </td>
                  <td>{m.writable ? 'Read & write' : 'Read only'}</td>
                  <td>
                    <StateTag ok={m.state === 'pending' ? null : m.state === 'mounted'} label={m.state === 'mounted' ? 'Mounted' : m.state === 'failed' ? 'Failed' : up ? 'Pending' : 'When running'} />
                  </td>
                  <td className="reason">{m.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
