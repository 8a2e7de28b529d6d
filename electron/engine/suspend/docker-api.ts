// The few Docker Engine API calls the suspend path needs, made on the host through the forwarded
// docker.sock: milliseconds per call, where the guest's own `docker` CLI takes ~0.6 s under TCG.
import http from 'node:http';

export interface RunningContainer {
  id: string;
  name: string;
  /** sources of bind mounts (paths inside the VM) */
  binds: string[];
}

function call(socketPath: string, method: string, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path, headers: { host: 'docker' }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export async function runningContainers(socketPath: string): Promise<RunningContainer[]> {
  const r = await call(socketPath, 'GET', '/containers/json', 10_000);
  if (r.status !== 200) throw new Error(`GET /containers/json: HTTP ${r.status} ${r.body.trim()}`);
  const list = JSON.parse(r.body) as { Id: string; Names?: string[]; Mounts?: { Type?: string; Source?: string }[] }[];
  return list.map((c) => ({
    id: c.Id,
    name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, ''),
    binds: (c.Mounts ?? []).filter((m) => m.Type === 'bind' && m.Source).map((m) => m.Source!),
  }));
}

/**
 * The containers whose bind mounts reach into a shared folder (guest paths): a bind of a path in
 * the share, or of a parent of it (Docker binds recursively, so `-v /:/host` holds every share).
 */
export function holdingShares(containers: RunningContainer[], shares: string[]): RunningContainer[] {
  const under = (p: string, root: string) => p === root || root === '/' || p.startsWith(root.endsWith('/') ? root : `${root}/`);
  return containers.filter((c) => c.binds.some((b) => shares.some((s) => under(b, s) || under(s, b))));
}

export async function stopContainer(socketPath: string, id: string, graceS = 10): Promise<void> {
  const r = await call(socketPath, 'POST', `/containers/${encodeURIComponent(id)}/stop?t=${graceS}`, (graceS + 20) * 1000);
  if (r.status !== 204 && r.status !== 304) throw new Error(`stop ${id.slice(0, 12)}: HTTP ${r.status} ${r.body.trim()}`);
}

export async function startContainer(socketPath: string, id: string): Promise<void> {
  const r = await call(socketPath, 'POST', `/containers/${encodeURIComponent(id)}/start`, 60_000);
  if (r.status !== 204 && r.status !== 304) throw new Error(`start ${id.slice(0, 12)}: HTTP ${r.status} ${r.body.trim()}`);
}
