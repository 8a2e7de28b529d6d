// The real engine for the e2e specs: the compiled supervisor (dist/, `npm run build`) started as
// the headless daemon `berth start` uses, reached over its control socket (ControlClient) — the
// same way the app attaches to a supervisor started from the CLI. The instance comes from
// BERTH_HOME / BERTH_INSTANCE (defaults: a fresh temp home, instance "e2e").
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Backend } from '../../electron/engine/backend.js';
import type { InstancePaths } from '../../electron/engine/instance.js';
import { withConsoles } from '../../electron/main/app-backend.js';
import { startBridge } from './bridge/server.js';
import type { Bridge } from './bridge/server.js';
import type * as HostTypes from '../../electron/engine/host.js';
import type * as InstanceTypes from '../../electron/engine/instance.js';

type HostModule = typeof HostTypes;
type InstanceModule = typeof InstanceTypes;

export const REPO = path.resolve(import.meta.dirname, '../..');
export const RENDERER = path.join(REPO, 'renderer', 'dist');
const DIST = path.join(REPO, 'dist', 'electron');

export interface RealEngine {
  paths: InstancePaths;
  backend: Backend;
  bridge: Bridge;
  /** removes the temp home it created (unless BERTH_KEEP is set) */
  close(): Promise<void>;
}

function need(file: string, fix: string): void {
  if (!fs.existsSync(file)) throw new Error(`${path.relative(REPO, file)} is missing: run \`${fix}\` first`);
}

export async function startRealEngine(): Promise<RealEngine> {
  need(path.join(RENDERER, 'index.html'), 'npm run build:renderer');
  need(path.join(DIST, 'engine', 'host.js'), 'npm run build');
  need(path.join(DIST, 'cli', 'daemon.js'), 'npm run build');

  const ownHome = !process.env.BERTH_HOME;
  const home = process.env.BERTH_HOME ?? fs.mkdtempSync(path.join(os.tmpdir(), 'berth-e2e-'));
  const instance = process.env.BERTH_INSTANCE ?? 'e2e';
  // the compiled engine: its agent and daemon entries are the .js files next to it
  const host = (await import(pathToFileURL(path.join(DIST, 'engine', 'host.js')).href)) as HostModule;
  const inst = (await import(pathToFileURL(path.join(DIST, 'engine', 'instance.js')).href)) as InstanceModule;
  const paths = inst.instancePaths(instance, home);
  inst.checkSocketPaths(paths);

  const client = await host.attachOrSpawn(paths);
  const backend = withConsoles(client, { sshConfig: paths.sshConfig, dockerSocket: paths.docker });
  const bridge = await startBridge({ backend, rendererDir: RENDERER, log: process.env.BERTH_E2E_VERBOSE ? (m) => console.log(`[bridge] ${m}`) : undefined });
  return {
    paths,
    backend,
    bridge,
    async close() {
      await bridge.close();
      await backend.close();
      if (ownHome && !process.env.BERTH_KEEP) fs.rmSync(home, { recursive: true, force: true });
    },
  };
}
