// How the app gets its Backend: attach over the control socket to a supervisor that already runs
// for the instance (e.g. after `berth start`), else host one in this process (serving the control
// socket for the CLI), with the agent as an Electron utility process.
import { hostSupervisor, tryAttach } from '../engine/host.js';
import { checkSocketPaths, instancePaths } from '../engine/instance.js';
import type { AgentForker } from '../engine/agent-host.js';
import type { Backend } from '../engine/backend.js';

export interface EngineLink {
  backend: Backend;
  /** true when the supervisor lives in this process (quitting ends it) */
  hosted: boolean;
}

export async function openEngine(instance: string, forker?: AgentForker, home?: string, resourcesPath?: string): Promise<EngineLink> {
  const p = instancePaths(instance, home);
  checkSocketPaths(p);
  for (let attempt = 0; attempt < 3; attempt++) {
    const attached = await tryAttach(p);
    if (attached) return { backend: attached, hosted: false };
    const hosted = await hostSupervisor(p, { ...(forker ? { forker } : {}), ...(resourcesPath ? { resourcesPath } : {}) });
    if (hosted) {
      const s = hosted.supervisor;
      return {
        hosted: true,
        backend: {
          invoke: (method, params) => s.invoke(method, params),
          on: (event, listener) => s.on(event, listener),
          close: () => hosted.close(),
        },
      };
    }
    // another process holds the lock but its socket did not answer yet
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`another process supervises instance "${instance}" but does not answer on ${p.control}`);
}
