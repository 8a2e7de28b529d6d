// The few Docker Engine API calls the suspend path needs, made on the host through the forwarded
// docker.sock with the engine's one Docker client (engine/docker/api.ts).
import { DockerApi, seg } from '../docker/api.js';

export interface RunningContainer {
  id: string;
  name: string;
  /** sources of bind mounts (paths inside the VM) */
  binds: string[];
}

export async function runningContainers(socketPath: string): Promise<RunningContainer[]> {
  const list = (await new DockerApi(socketPath).call<{ Id: string; Names?: string[]; Mounts?: { Type?: string; Source?: string }[] }[]>('GET', '/containers/json', { timeoutMs: 10_000 })) ?? [];
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
  // 304: already stopped
  await new DockerApi(socketPath).call('POST', `/containers/${seg(id)}/stop`, { query: { t: graceS }, timeoutMs: (graceS + 20) * 1000 }).catch((e: Error) => {
    throw new Error(`stop ${id.slice(0, 12)}: ${e.message}`);
  });
}

export async function startContainer(socketPath: string, id: string): Promise<void> {
  await new DockerApi(socketPath).call('POST', `/containers/${seg(id)}/start`, { timeoutMs: 60_000 }).catch((e: Error) => {
    throw new Error(`start ${id.slice(0, 12)}: ${e.message}`);
  });
}
