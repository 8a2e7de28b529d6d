// `npm run dev:web`-style use of the bridge: serves renderer/dist with window.berth backed by
//   --fake      the dev-only fake backend (no VM; click Start to watch a simulated boot), or
//   (default)   the real supervisor of $BERTH_INSTANCE in $BERTH_HOME, attached over its control
//               socket (a headless one is started if none runs; needs `npm run build`).
// Started by tests/e2e/bridge/dev.mjs. Port: $BERTH_BRIDGE_PORT (default 5178).
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { withConsoles } from '../../../electron/main/app-backend.js';
import type { Backend } from '../../../electron/engine/backend.js';
import { startBridge } from './server.js';
import { FakeBackend } from '../../fixtures/fake-backend.js';
import type * as HostTypes from '../../../electron/engine/host.js';
import type * as InstanceTypes from '../../../electron/engine/instance.js';

type HostModule = typeof HostTypes;
type InstanceModule = typeof InstanceTypes;

export async function main(argv: string[]): Promise<void> {
  const repo = path.resolve(import.meta.dirname, '../../..');
  let backend: Backend;
  if (argv.includes('--fake')) {
    backend = withConsoles(new FakeBackend({ speed: 0.3 }), { sshConfig: '', command: { file: process.env.SHELL || '/bin/sh', args: [] } });
    console.log('backend: the dev-only fake (a local shell stands in for the VM console)');
  } else {
    const dist = path.join(repo, 'dist', 'electron', 'engine');
    const host = (await import(pathToFileURL(path.join(dist, 'host.js')).href)) as HostModule;
    const inst = (await import(pathToFileURL(path.join(dist, 'instance.js')).href)) as InstanceModule;
    const paths = inst.instancePaths(process.env.BERTH_INSTANCE || undefined);
    backend = withConsoles(await host.attachOrSpawn(paths), { sshConfig: paths.sshConfig, dockerSocket: paths.docker });
    console.log(`backend: the supervisor of ${paths.dir}`);
  }
  const bridge = await startBridge({ backend, rendererDir: path.join(repo, 'renderer', 'dist'), port: Number(process.env.BERTH_BRIDGE_PORT ?? 5178), log: (m) => console.log(m) });
  // The token travels in the fragment: the page reads it, the bridge never hands it out.
  console.log(`dashboard: ${bridge.devUrl()}\nconsole:   ${bridge.devUrl('console.html')}`);
  console.log('(for development only: anyone with these addresses can drive this Berth instance)');
  const stop = async (): Promise<void> => {
    await bridge.close();
    await backend.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}
