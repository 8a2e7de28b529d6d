// Running the other architecture's binaries (binfmt_misc with the guest's qemu-user-static): on or
// off live, remembered in the settings, checked by running a foreign binary after it is turned on.
import type { Settings } from '../../shared/settings.js';
import { foreignArchOf } from '../../shared/status.js';
import type { EmulationStatus, Status } from '../../shared/status.js';
import { loadSettings, saveSettings } from '../config.js';
import type { Service, ServiceContext } from './service.js';
import { isUp } from './service.js';

export class EmulationService implements Service {
  readonly name = 'emulation';
  private current: EmulationStatus;

  constructor(
    private readonly ctx: ServiceContext,
    settings: Settings | undefined,
  ) {
    this.current = { enabled: settings?.emulation.enabled ?? false, state: 'unknown', foreignArch: foreignArchOf(settings?.arch ?? 'x86_64') };
  }

  onStart(settings: Settings): void {
    this.current = { enabled: settings.emulation.enabled, state: 'unknown', foreignArch: foreignArchOf(settings.arch) };
  }

  async onReady(settings: Settings): Promise<void> {
    await this.refresh(settings.emulation.enabled, false);
  }

  status(st: Status): void {
    st.emulation = { ...this.current };
  }

  /** What the guest says now (while the VM is up), with the self-test run when asked or never run. */
  private async refresh(wanted: boolean, selfTest: boolean): Promise<EmulationStatus> {
    const { guest } = this.ctx;
    const foreign = this.current.foreignArch;
    const { on, result: r } = await guest.emulationStatus(10_000);
    let next: EmulationStatus = { enabled: wanted, state: on ? 'enabled' : 'disabled', foreignArch: foreign };
    if (wanted && !on) next = { ...next, state: 'failed', reason: (r.stderr || r.stdout).trim() || 'interpreter not registered' };
    if (on && (selfTest || this.current.selfTest === undefined)) {
      const { machine, interpreter, ...t } = await guest.emulationSelfTest(foreign, 30_000);
      const ok = t.code === 0 && machine.trim() === foreign;
      next.selfTest = { ok, output: (machine || t.stderr).trim(), interpreter: interpreter.trim(), at: new Date().toISOString() };
      if (!ok) next = { ...next, state: 'failed', reason: `self-test failed: ${(t.stderr || machine).trim()}` };
    } else if (on && this.current.selfTest) next.selfTest = this.current.selfTest;
    this.current = next;
    this.ctx.statusChanged();
    return next;
  }

  async set(enabled: boolean): Promise<EmulationStatus> {
    const { paths } = this.ctx;
    const s = loadSettings(paths.settings);
    saveSettings(paths.settings, { ...s, emulation: { ...s.emulation, enabled } });
    this.ctx.journal('emulation', { enabled });
    if (!isUp(this.ctx.vmState())) {
      this.current = { enabled, state: 'unknown', foreignArch: foreignArchOf(s.arch), reason: 'applied at next start' };
      this.ctx.statusChanged();
      return this.current;
    }
    const r = await this.ctx.guest.setEmulation(enabled, 10_000);
    if (r.code !== 0) {
      this.current = { enabled, state: 'failed', foreignArch: this.current.foreignArch, reason: (r.stderr || r.stdout).trim() };
      this.ctx.statusChanged();
      return this.current;
    }
    if (!enabled) delete this.current.selfTest;
    return this.refresh(enabled, enabled);
  }

  async get(): Promise<EmulationStatus> {
    if (isUp(this.ctx.vmState())) return this.refresh(this.current.enabled, false);
    return this.current;
  }
}
