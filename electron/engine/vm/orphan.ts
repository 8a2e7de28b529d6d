// A VM whose supervisor died, stopped from the instance files alone (`berth stop` with no
// supervisor): the VM's own power-off ladder (vm.ts), each signal only after the pid is re-checked as ours.
import { EventLog } from '../event-log.js';
import type { InstancePaths } from '../instance.js';
import { removeRunFiles } from '../instance/run-files.js';
import { monitorNamesUs } from './identity.js';
import type { IdentityOptions } from './identity.js';
import { Vm } from './vm.js';

export async function stopOrphan(p: InstancePaths, force = false, identity: IdentityOptions = {}): Promise<string> {
  const vm = Vm.find(p, identity);
  if (!vm) return 'not running';
  try {
    const qmp = await vm.attachMonitor(3000);
    // A monitor that answers with another name is not our VM's, whatever the command line says.
    if (!(await monitorNamesUs(qmp, p)).ok) {
      vm.detach();
      return 'not running';
    }
  } catch {
    // no monitor: the command line was the check
    vm.detach();
  }
  // No supervisor is waiting on this stop: its SIGTERM gets the unforced wait either way.
  let how: string = await vm.powerOff({ force, termWaitMs: 5000 });
  vm.detach();
  // It went between the check and the ladder: as before, the signal that would have ended it.
  if (how === 'not running') how = 'SIGTERM';
  removeRunFiles(p, ['vm', 'agent']);
  new EventLog(p.events).append('state', { state: 'stopped', how, orphan: true });
  return how;
}
