// Who runs the supervisor: this process (the app, `berth start --foreground`, the daemon) or
// another one reached over the control socket. One supervisor per instance, guarded by its lock
// (instance/lock.ts).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AgentForker } from './agent-host.js';
import type { Backend } from './backend.js';
import { ControlClient } from './control/client.js';
import { serveControl } from './control/server.js';
import { BerthFailure } from './errors.js';
import { checkSocketPaths, ensureInstanceDir } from './instance.js';
import type { InstancePaths } from './instance.js';
import { acquireLock, releaseLock } from './instance/lock.js';
import { Supervisor } from './supervisor.js';

export interface Hosted {
  supervisor: Supervisor;
  server: net.Server;
  close(): Promise<void>;
}

/** Run the supervisor in this process and serve it on control.sock. Returns null if another process holds the lock. */
export async function hostSupervisor(p: InstancePaths, opts: { forker?: AgentForker; resourcesPath?: string } = {}): Promise<Hosted | null> {
  checkSocketPaths(p);
  ensureInstanceDir(p);
  if (!acquireLock(p)) return null;
  const supervisor = new Supervisor({ paths: p, ...(opts.forker ? { forker: opts.forker } : {}), ...(opts.resourcesPath ? { resourcesPath: opts.resourcesPath } : {}) });
  let server: net.Server;
  try {
    server = await serveControl(p.control, supervisor);
  } catch (e) {
    releaseLock(p);
    throw e;
  }
  return {
    supervisor,
    server,
    close: async () => {
      server.close();
      fs.rmSync(p.control, { force: true });
      await supervisor.close();
      releaseLock(p);
    },
  };
}

export async function tryAttach(p: InstancePaths): Promise<ControlClient | null> {
  try {
    return await ControlClient.connect(p.control, 2000);
  } catch {
    return null;
  }
}

function daemonEntry(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const js = path.join(here, '..', 'cli', 'daemon.js');
  return fs.existsSync(js) ? js : path.join(here, '..', 'cli', 'daemon.ts');
}

/** Attach to the instance's supervisor, starting a detached headless one if none runs. */
export async function attachOrSpawn(p: InstancePaths): Promise<ControlClient> {
  checkSocketPaths(p);
  const existing = await tryAttach(p);
  if (existing) return existing;
  ensureInstanceDir(p);
  const entry = daemonEntry();
  const out = fs.openSync(p.supervisorLog, 'a', 0o600);
  const child = spawn(process.execPath, [...(entry.endsWith('.ts') ? ['--experimental-strip-types'] : []), entry, '--instance', p.name], {
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...process.env, BERTH_HOME: p.home },
  });
  fs.closeSync(out);
  child.unref();
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const c = await tryAttach(p);
    if (c) return c;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new BerthFailure('E_INTERNAL', 'the headless supervisor did not come up', `See ${p.supervisorLog}.`);
}

export type { Backend };

// What the CLI reaches through here, owned by the instance directory and the VM.
export { offlineStatus } from './instance/status.js';
export { stopOrphan } from './vm/orphan.js';
