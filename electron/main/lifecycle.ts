// App-level decisions that need no Electron runtime: what quitting does, what waking up does.
import type { Backend } from '../engine/backend.js';
import type { Settings } from '../shared/settings.js';
import { isUpState as isUp } from '../shared/status.js';
import type { VmState } from '../shared/status.js';

export type QuitPlan = 'stop-vm' | 'leave-running' | 'nothing';

/** Quitting asks nothing: it stops the VM gracefully unless the user chose to keep it running. */
export function quitPlan(state: VmState | null, settings: Pick<Settings, 'keepRunningOnQuit'> | null): QuitPlan {
  if (state === null || state === 'stopped') return 'nothing';
  if (settings?.keepRunningOnQuit) return 'leave-running';
  return 'stop-vm';
}

/** Runs the quit plan and closes the backend. Never throws; gives up after `timeoutMs`. */
export async function shutdown(backend: Backend, log: (msg: string) => void = console.log, timeoutMs = 60_000): Promise<QuitPlan> {
  let plan: QuitPlan = 'nothing';
  const work = (async () => {
    const [st, se] = await Promise.all([backend.invoke('vm.status', {}), backend.invoke('settings.get', {})]);
    plan = quitPlan(st.ok ? st.value.state : null, se.ok ? se.value : null);
    log(`quit: ${plan}`);
    if (plan === 'stop-vm') {
      const r = await backend.invoke('vm.stop', {});
      if (!r.ok) log(`quit: vm.stop failed: ${r.error.code} ${r.error.message}`);
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      log(`quit: gave up waiting after ${timeoutMs} ms`);
      resolve();
    }, timeoutMs);
  });
  try {
    await Promise.race([work, timeout]);
  } catch (e) {
    log(`quit: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    clearTimeout(timer);
  }
  try {
    await backend.close();
  } catch {
    /* closing is best effort */
  }
  return plan;
}

/**
 * The quick stop for a logout, restart or shutdown of the Mac: QEMU is told to quit (no suspend,
 * no ACPI power-off that waits for containers), like a power cut the journaled disk recovers from.
 * Never throws; gives up after `timeoutMs` because the system will not wait much longer.
 */
export async function fastStop(backend: Backend, log: (msg: string) => void = console.log, timeoutMs = 5_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      log(`system shutdown: gave up waiting for the VM after ${timeoutMs} ms`);
      resolve();
    }, timeoutMs);
  });
  const work = (async () => {
    const r = await backend.invoke('vm.stop', { force: true });
    if (!r.ok) log(`system shutdown: vm.stop failed: ${r.error.code} ${r.error.message}`);
    await backend.close();
  })().catch((e: unknown) => log(`system shutdown: ${e instanceof Error ? e.message : String(e)}`));
  try {
    await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface QuitHooks {
  /** stop IPC and event forwarding, remove the tray, close the windows (runs once, synchronously) */
  teardown: () => void;
  /** end the process (app.exit) */
  exit: (code: number) => void;
  log?: (msg: string) => void;
  /** how long a normal quit waits for the VM to stop or suspend (default 60 s) */
  quitTimeoutMs?: number;
  /** how long a system shutdown waits for the quick stop (default 5 s) */
  fastStopTimeoutMs?: number;
}

/**
 * Quitting the app (app 'before-quit') and the Mac logging out, restarting or shutting down
 * (powerMonitor 'shutdown').
 *
 * A normal quit holds the quit back (preventDefault) while the VM stops or suspends, then exits.
 * During a system shutdown that would cancel it: macOS asks every app to quit, and an app that
 * refuses makes the whole Restart, Shut Down or Log Out fail ("Berth failed to quit"). So when
 * 'shutdown' fires, the quit is never held back: the VM gets the quick stop and the app exits on
 * its own within a few seconds, whichever of the two events comes first after that.
 */
export class QuitController {
  private quitting = false;
  private systemShutdown = false;
  private tornDown = false;
  private readonly log: (msg: string) => void;

  constructor(
    private readonly backend: Backend,
    private readonly hooks: QuitHooks,
  ) {
    this.log = hooks.log ?? console.log;
  }

  /** app 'before-quit'. */
  onBeforeQuit(e: { preventDefault: () => void }): void {
    if (this.systemShutdown || this.quitting) {
      // let it through: the system is waiting, or our own exit is on its way
      this.teardown();
      return;
    }
    e.preventDefault();
    this.quitting = true;
    this.teardown();
    void shutdown(this.backend, this.log, this.hooks.quitTimeoutMs).then(() => this.hooks.exit(0));
  }

  /**
   * powerMonitor 'shutdown'. Calling preventDefault on this event asks Electron to hold the
   * system's quit request (on macOS it ignores the terminate, on Linux it keeps a logind delay
   * lock) until the app exits, which it does as soon as the quick stop is done.
   */
  async onSystemShutdown(e?: { preventDefault: () => void }): Promise<void> {
    if (this.systemShutdown) return;
    this.systemShutdown = true;
    e?.preventDefault();
    this.log('system shutdown: stopping the VM quickly and quitting');
    this.teardown();
    await fastStop(this.backend, this.log, this.hooks.fastStopTimeoutMs);
    this.hooks.exit(0);
  }

  private teardown(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    try {
      this.hooks.teardown();
    } catch (err) {
      this.log(`quit: teardown: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** Called on powerMonitor 'resume' (the Mac woke up): the guest clock stood still while it slept. */
export async function onResume(backend: Pick<Backend, 'invoke'>): Promise<void> {
  await backend.invoke('vm.wake', {});
}

/** Runs a VM action; the app passes the tray's `run` so the menu shows it as pending. */
export type RunAction = (action: 'stop' | 'start', fn: () => Promise<unknown>) => Promise<void>;


/**
 * The Mac going to sleep and waking up (powerMonitor 'suspend' / 'resume').
 *
 * By default QEMU is frozen with the Mac, and on wake the engine corrects the guest clock
 * (`vm.wake`). With `suspendOnSleep`, a running VM is suspended to disk before the Mac sleeps
 * (`vm.stop {}`, which suspends when `stopMode` is `suspend`) and resumed on wake (`vm.start {}`),
 * but only a VM that Berth itself suspended for this sleep: one the user had stopped stays stopped.
 *
 * macOS does not wait for us: the save may still be running when the Mac sleeps (QEMU then
 * finishes it after the wake), so the wake waits for the stop to answer before starting.
 */
export class SleepHandler {
  /** the suspend started for the current sleep; resolves true once Berth has stopped the VM */
  private suspending: Promise<boolean> | null = null;
  /** the Mac woke before the suspend got as far as asking the engine to stop: skip it */
  private woke = false;

  constructor(
    private readonly backend: Pick<Backend, 'invoke' | 'on'>,
    private readonly log: (msg: string) => void = console.log,
    private readonly run: RunAction = (_action, fn) => fn().then(() => undefined),
    /** how long the wake waits for a VM still `stopping` before starting it */
    private readonly stoppingTimeoutMs = 120_000,
  ) {}

  /** powerMonitor 'suspend'. Resolves once the VM is suspended (or Berth decided not to). */
  async onSuspend(): Promise<void> {
    if (this.suspending) return;
    this.woke = false;
    const p = this.suspendForSleep().catch((e: unknown) => {
      this.log(`sleep: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    });
    this.suspending = p;
    await p;
  }

  private async suspendForSleep(): Promise<boolean> {
    const se = await this.backend.invoke('settings.get', {});
    if (!se.ok || !se.value.suspendOnSleep) return false;
    const st = await this.backend.invoke('vm.status', {});
    if (!st.ok || !isUp(st.value.state)) return false;
    if (se.value.stopMode !== 'suspend') {
      // vm.stop {} would power the VM off: sleeping with QEMU frozen keeps the containers instead
      this.log('sleep: not suspending the VM: "When Docker stops" is set to shut down');
      return false;
    }
    if (this.woke) return false;
    this.log('sleep: suspending the VM before the Mac sleeps');
    let stopped = false;
    await this.run('stop', async () => {
      const r = await this.backend.invoke('vm.stop', {});
      if (r.ok) {
        stopped = true;
        this.log(`sleep: VM ${r.value.lastStop?.how === 'shutdown' ? `shut down${r.value.lastStop.note ? ` (${r.value.lastStop.note})` : ''}` : 'suspended'}`);
      } else {
        this.log(`sleep: vm.stop failed: ${r.error.code} ${r.error.message}`);
      }
    });
    return stopped;
  }

  /** powerMonitor 'resume'. */
  async onResume(): Promise<void> {
    this.woke = true;
    const pending = this.suspending;
    this.suspending = null;
    const suspended = pending ? await pending : false;
    if (!suspended) {
      await onResume(this.backend);
      return;
    }
    const state = await this.settled();
    if (state === 'stopped' || state === 'error') {
      this.log('wake: starting the VM Berth suspended for the sleep');
      await this.run('start', async () => {
        const r = await this.backend.invoke('vm.start', {});
        if (!r.ok) this.log(`wake: vm.start failed: ${r.error.code} ${r.error.message}`);
      });
    } else if (state !== null && isUp(state)) {
      // the stop did not take (or someone started it already): just correct the clock
      await onResume(this.backend);
    }
  }

  /** The VM's state once it is no longer `stopping` (the stop may still be saving after the wake). */
  private settled(): Promise<VmState | null> {
    return new Promise<VmState | null>((resolve) => {
      let done = false;
      const finish = (state: VmState | null): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        off();
        resolve(state);
      };
      // listen before asking, so a `stopped` event between the answer and the subscription is not lost
      const off = this.backend.on('status', (s) => {
        if (s.state !== 'stopping') finish(s.state);
      });
      const timer = setTimeout(() => {
        this.log(`wake: the VM is still stopping after ${this.stoppingTimeoutMs} ms; not starting it`);
        finish(null);
      }, this.stoppingTimeoutMs);
      void this.backend.invoke('vm.status', {}).then(
        (st) => {
          if (!st.ok) finish(null);
          else if (st.value.state !== 'stopping') finish(st.value.state);
        },
        () => finish(null),
      );
    });
  }
}
