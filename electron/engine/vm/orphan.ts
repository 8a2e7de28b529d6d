// A VM whose supervisor died, stopped from the instance files alone (`berth stop` with no
// supervisor): QMP powerdown, then signals, each signal only after the pid is re-checked as ours.
import { EventLog } from '../event-log.js';
import type { InstancePaths } from '../instance.js';
import { removeRunFiles } from '../instance/run-files.js';
import { isAlive, readPid } from '../pid.js';
import { isOurQemu, monitorNamesUs, signalOurQemu } from './identity.js';
import type { IdentityOptions } from './identity.js';

export async function stopOrphan(p: InstancePaths, force = false, identity: IdentityOptions = {}): Promise<string> {
  const pid = readPid(p.qemuPid);
  if (!isOurQemu(pid, p, identity)) return 'not running';
  const { QmpClient } = await import('../qmp.js');
  const { waitGone } = await import('../qemu-process.js');
  let how = 'SIGTERM';
  try {
    const qmp = await QmpClient.connect(p.qmp, 3000);
    try {
      // A monitor that answers with another name is not our VM's, whatever the command line says.
      if (!(await monitorNamesUs(qmp, p)).ok) return 'not running';
      if (!force) {
        await qmp.execute('system_powerdown', undefined, 3000);
        if (await waitGone(pid, 30_000)) how = 'powerdown';
      }
    } finally {
      qmp.close();
    }
  } catch {
    // no monitor: the command line was the check
  }
  if (isAlive(pid)) {
    signalOurQemu(pid, p, 'SIGTERM', identity);
    if (!(await waitGone(pid, 5000))) {
      signalOurQemu(pid, p, 'SIGKILL', identity);
      await waitGone(pid, 5000);
      how = 'SIGKILL';
    }
  }
  removeRunFiles(p, ['vm', 'agent']);
  new EventLog(p.events).append('state', { state: 'stopped', how, orphan: true });
  return how;
}
