// App-level decisions that need no Electron runtime: what quitting does, what waking up does.
import type { Backend } from '../engine/backend.js';
import type { Settings } from '../shared/settings.js';
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

/** Called on powerMonitor 'resume' (the Mac woke up): the guest clock stood still while it slept. */
export async function onResume(backend: Pick<Backend, 'invoke'>): Promise<void> {
  await backend.invoke('vm.wake', {});
}
