// The headless supervisor process that `berth start` spawns (detached). It serves control.sock
// and exits once its VM has stopped (or failed), so `berth stop` leaves no Berth process behind.
import { parseArgs } from 'node:util';
import { hostSupervisor } from '../engine/host.js';
import { instancePaths } from '../engine/instance.js';

const { values } = parseArgs({ options: { instance: { type: 'string', default: 'default' } } });
const paths = instancePaths(values.instance);
const hosted = await hostSupervisor(paths);
if (!hosted) {
  console.log(`another supervisor holds ${paths.supervisorPid}; exiting`);
  process.exit(0);
}
const { supervisor } = hosted;
console.log(`${new Date().toISOString()} supervisor ${process.pid} serving ${paths.control}`);

let exitTimer: NodeJS.Timeout | null = null;
let everStarted = false;
const exitSoon = (ms: number) => {
  exitTimer ??= setTimeout(() => void shutdown(false), ms);
};
supervisor.on('status', (s) => {
  if (s.state !== 'stopped' && s.state !== 'error') {
    // starting, running, degraded (e.g. the agent is being restarted), stopping: the VM needs us.
    everStarted = true;
    if (exitTimer) clearTimeout(exitTimer);
    exitTimer = null;
  } else if (everStarted) {
    // Grace so clients receive the final status before the socket goes away.
    exitSoon(3000);
  }
});
// Nobody asked us to start anything: don't linger.
setTimeout(() => {
  if (!everStarted) void shutdown(false);
}, 60_000).unref();

let closing = false;
async function shutdown(stopVm: boolean): Promise<void> {
  if (closing) return;
  closing = true;
  if (stopVm) await supervisor.stop({});
  await hosted!.close();
  console.log(`${new Date().toISOString()} supervisor ${process.pid} exiting`);
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown(true));
process.on('SIGINT', () => void shutdown(true));
process.on('uncaughtException', (e) => {
  console.error('uncaught', e);
});
