// The adopt's own rung. A VM whose supervisor died (crash, kill -9) keeps running; the next start
// adopts it instead of booting a second QEMU on the same disk: reconnect QMP, settle what it was
// doing if it was paused (vm/adopt.ts), then the agent walks the guest steps. Its image, disk, qemu
// and kernel steps are marked done from what runs; a failure before the VM is ours is reported
// under the image step, where the adopt begins.
import fs from 'node:fs';
import { currentHost, resolveMounts } from '../config.js';
import { BerthFailure } from '../errors.js';
import { EventLog } from '../event-log.js';
import { readImageDir } from '../image/local.js';
import { readQemuArgs, readVmState } from '../instance/index.js';
import { ensureSshMaterial } from '../ssh-keys.js';
import { commitSave } from '../suspend/save.js';
import { discardSaved } from '../suspend/saved-state.js';
import { containersHeldBySuspend, settleAdopted } from '../vm/adopt.js';
import { monitorNamesUs, qemuName } from '../vm/identity.js';
import type { QmpClient } from '../qmp.js';
import type { Run } from '../vm/run.js';
import { Vm } from '../vm/vm.js';
import type { Rung, StartHost } from './ladder.js';

export const adoptRung: Rung = {
  step: 'image',
  async run(s) {
    const { host } = s;
    const { paths } = host;
    const vm = Vm.find(paths);
    if (!vm) return 'not-this-way';
    const pid = vm.pid;
    const st = readVmState(paths);
    if (!st) return 'not-this-way';
    host.journal('adopt', { pid });
    host.steps.update('image', 'done', 'adopted a running VM');
    host.steps.update('disk', 'done', 'in use by the running VM');
    const qmp = await vm.attachMonitor(5000).catch((e: Error) => {
      throw new BerthFailure('E_QEMU', `the VM (QEMU pid ${pid}) runs, but its monitor does not answer: ${e.message}`, '`berth stop --force` stops that VM; its files were left in place.');
    });
    const named = await monitorNamesUs(qmp, paths).catch(() => ({ ok: false, name: undefined }));
    if (!named.ok) {
      vm.detach();
      throw new BerthFailure('E_LOCKED', `QEMU pid ${pid} uses this instance's disk but calls itself ${JSON.stringify(named.name ?? '?')}, not ${qemuName(paths)}`, 'Stop that QEMU yourself: Berth neither adopts nor signals it.');
    }
    const ssh = await ensureSshMaterial(paths);
    const image = readImageDir(st.imageDir, st.settings.arch);
    const run: Run = { vm, sshPort: st.sshPort, bootId: st.bootId, accel: st.accel, image, settings: st.settings, ssh };
    // What a later suspend records: the command line this VM was started with (without them a
    // stop shuts down instead of suspending).
    const args = readQemuArgs(paths);
    if (args) {
      run.cmd = { binary: args.binary, args: args.args };
      if (st.qemuVersion) run.qemuVersion = st.qemuVersion;
    }
    // From here this VM is ours: when it goes, its files go with it.
    host.adopted(run);
    const settled = await settlePaused(host, run, qmp);
    if (settled === 'gone') return 'not-this-way';
    s.woken = settled === 'woken';
    s.extra = { adopted: true };
    host.mounts.expect(resolveMounts(st.settings.mounts, currentHost(), false));
    host.steps.update('qemu', 'done', `adopted pid ${pid}`);
    host.steps.update('kernel', 'done', 'already running');
    host.watchVm(vm);
  },
};

/** An adopted VM that was paused, saving or loading: finish, cancel or discard that, and say which. */
async function settlePaused(host: StartHost, run: Run, qmp: QmpClient): Promise<true | 'woken' | 'gone'> {
  const { paths } = host;
  const notes = host.notes();
  const settled = await settleAdopted(qmp, {
    whyNotFinish: () =>
      !fs.existsSync(paths.savedStatePartial)
        ? 'it was not saving to saved.vmstate.partial'
        : !run.cmd || !run.qemuVersion
          ? 'the command line it was started with is unknown'
          : host.restartNeeded()
            ? 'settings changed since it started, so the saved state could not be resumed'
            : null,
    finishSave: () => commitSave(host.saveContext(), run, Date.now(), containersHeldBySuspend(EventLog.readLast(paths.events))),
    alive: () => run.vm.up,
    kill: () => host.kill(),
    discard: (all) => (all ? void discardSaved(paths) : fs.rmSync(paths.savedStatePartial, { force: true })),
  }).catch((e: Error) => {
    // Leave the VM as it was found rather than kill it, and its memory with it.
    host.letGo(run);
    throw new BerthFailure('E_QEMU', `the VM (QEMU pid ${run.vm.pid}) is not running and could not be resumed: ${e.message}`, '`berth stop --force` stops it (what it held in memory is lost then).');
  });
  if (settled.kind === 'running') return true;
  notes.adopt = settled.note;
  host.journal('adopt-settled', { outcome: settled.kind, note: settled.note });
  if (settled.kind === 'continued' || settled.kind === 'suspend-cancelled') {
    if (settled.kind === 'suspend-cancelled') notes.restartAfterResume = containersHeldBySuspend(EventLog.readLast(paths.events));
    return 'woken';
  }
  // The VM is gone: this start goes on to resume the completed save, or to boot cold.
  if (settled.kind === 'discarded') notes.resume = { resumed: false, reason: settled.note };
  await host.kill();
  await host.cleanupFiles();
  host.steps.reset();
  host.emitStatus();
  return 'gone';
}
