// The VM this supervisor holds now: QEMU launched for a start (or adopted from a supervisor that
// died), watched until it goes, let go, killed; and which run files are its to remove. The
// supervisor hears only that the VM went and what its monitor said.
import type { Settings } from '../../shared/settings.js';
import type { Accel } from '../../shared/status.js';
import type { GuestImage } from '../image/local.js';
import type { InstancePaths } from '../instance.js';
import { removeRunFiles, writeVmState } from '../instance/index.js';
import type { QemuCommand } from '../qemu-args.js';
import type { ServiceContext } from '../services/service.js';
import type { SshMaterial } from '../ssh-keys.js';
import { bumpGeneration } from '../suspend/saved-state.js';
import type { Run } from '../vm/run.js';
import { Vm } from '../vm/vm.js';

export interface CurrentRunHost {
  readonly paths: InstancePaths;
  journal: ServiceContext['journal'];
  /** the held VM went (exited, killed from outside) */
  onGone(why: string): void;
  /** a QMP event from the held VM, after it is journaled */
  onQmpEvent(event: string): void;
}

export class CurrentRun {
  private held: Run | null = null;
  /**
   * QEMU's pid, sockets and state.json go only with a QEMU this supervisor launched or adopted: a
   * failed adopt leaves the VM it could not reach visible to `berth status`, `stop` and the next start.
   */
  private qemuFilesOurs = false;

  constructor(private readonly h: CurrentRunHost) {}

  run(): Run | null {
    return this.held;
  }

  async launch(
    cmd: QemuCommand,
    r: { settings: Settings; image: GuestImage; accel: Accel; sshPort: number; bootId: string; ssh: SshMaterial; qemuVersion: string },
    extraArgs: string[] = [],
  ): Promise<void> {
    const { paths } = this.h;
    const { settings, image, accel, sshPort, bootId, ssh } = r;
    this.qemuFilesOurs = true;
    // From this launch on, the disk may differ from any saved state: no record can match it again.
    bumpGeneration(paths);
    const vm = await Vm.launch(paths, cmd, sshPort, extraArgs);
    this.held = { vm, sshPort, bootId, accel, image, settings, ssh, cmd, qemuVersion: r.qemuVersion };
    writeVmState(paths, { pid: vm.pid, sshPort, bootId, accel, imageDir: image.dir, settings, qemuVersion: r.qemuVersion, startedAt: new Date().toISOString() });
    this.watch(vm);
    const qmp = await vm.connect();
    qmp.on('event', (ev) => this.qmpEvent(ev.event));
  }

  /** A VM found running is this supervisor's from now on: when it goes, its files go with it. */
  adopted(run: Run): void {
    this.held = run;
    this.qemuFilesOurs = true;
  }

  /** The VM going while it is this start's or this run's; an adopted VM's monitor events (a launched one's come once it connects). */
  watch(vm: Vm): void {
    vm.qmp?.on('event', (ev) => this.qmpEvent(ev.event));
    vm.onGone((why, exit) => {
      if (this.held?.vm !== vm) return;
      if (exit) this.h.journal('qemu-exit', exit);
      this.h.onGone(why);
    });
  }

  /** The VM as found is left alone: no more watching, its files stay. */
  letGo(run: Run): void {
    run.vm.detach();
    if (this.held === run) this.held = null;
    this.qemuFilesOurs = false;
  }

  async kill(): Promise<void> {
    const run = this.held;
    if (!run) return;
    await run.vm.kill();
    this.held = null;
  }

  /** No QEMU is this supervisor's any more. */
  drop(): void {
    this.held = null;
  }

  up(): boolean {
    return this.held?.vm.up ?? false;
  }

  /** What QEMU itself printed since this VM's launch. */
  output(): string {
    return this.held?.vm.output() ?? '';
  }

  /** The host agent's run files, and QEMU's when the VM was this supervisor's. */
  async cleanupFiles(): Promise<void> {
    removeRunFiles(this.h.paths, this.qemuFilesOurs ? ['agent', 'vm'] : ['agent']);
    this.qemuFilesOurs = false;
  }

  private qmpEvent(event: string): void {
    this.h.journal('qmp-event', { event });
    this.h.onQmpEvent(event);
  }
}
