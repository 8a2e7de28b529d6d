// A VM found on adopt that is not simply running. Its supervisor may have died in the middle of
// a suspend or a resume (or the app's quit timeout cut a suspend short), or someone paused it over
// QMP. Waiting for SSH from a paused VM would time out and kill it, losing its memory; so first
// settle what it was doing, explicitly, and say which way it went.
import type { LoggedEvent } from '../event-log.js';
import type { QmpClient } from '../qmp.js';

export type Settled = { kind: 'running' } | { kind: 'continued' | 'suspend-finished' | 'suspend-cancelled' | 'discarded'; note: string };

export interface SettleHooks {
  /** null when the interrupted save can be made into a saved state, else why not */
  whyNotFinish(): string | null;
  /** quit QEMU and commit the saved state (rename, record), as a suspend does after its save */
  finishSave(): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** QEMU still runs (after a failed finish) */
  alive(): boolean;
  kill(): Promise<void>;
  /** remove the saved state: only the partial file, or every stage of it */
  discard(all: boolean): void;
  /** how long a save still under way may take to complete */
  saveTimeoutMs?: number;
}

interface MigrateInfo {
  status?: string;
  'error-desc'?: string;
}

/** Run states of a VM stopped for, or by, a save (QEMU's RunState). */
const PAUSED = new Set(['paused', 'postmigrate', 'finish-migrate']);
/** Migration states in which an outgoing save is still writing (QEMU's MigrationStatus). */
const SAVING = new Set(['setup', 'active', 'pre-switchover', 'device', 'wait-unplug']);

export async function settleAdopted(qmp: QmpClient, h: SettleHooks): Promise<Settled> {
  const st = await qmp.execute<{ status?: string; running?: boolean }>('query-status');
  const status = st.status ?? 'unknown';
  if (status === 'inmigrate') {
    // Started with -incoming and never finished loading: what it holds is neither the saved VM
    // nor a booted one. The saved state cannot be trusted again (the launch moved the disk on).
    await h.kill();
    h.discard(true);
    return { kind: 'discarded', note: 'its supervisor stopped while the VM was still loading its saved state; that VM was shut down and the saved state discarded, so it boots cold' };
  }
  if (st.running || !PAUSED.has(status)) return { kind: 'running' };
  const mig = await qmp.execute<MigrateInfo>('query-migrate');
  if (mig.status !== 'completed' && !SAVING.has(mig.status ?? '')) {
    h.discard(false);
    await qmp.execute('cont');
    return { kind: 'continued', note: `the VM was found paused (${status}, no save under way) and was continued` };
  }
  let why = h.whyNotFinish();
  if (!why) {
    const end = await waitSaved(qmp, h.saveTimeoutMs ?? 5 * 60_000);
    if (end === 'completed') {
      const r = await h.finishSave();
      if (r.ok) return { kind: 'suspend-finished', note: 'its supervisor stopped in the middle of a suspend; the save was completed, and the VM resumes from it' };
      if (!h.alive()) {
        h.discard(true);
        return { kind: 'discarded', note: `its supervisor stopped in the middle of a suspend, and completing it failed (${r.reason}); the saved state was discarded, so the VM boots cold` };
      }
      why = r.reason;
    } else why = end;
  }
  await cancelSave(qmp);
  h.discard(false);
  await qmp.execute('cont');
  return { kind: 'suspend-cancelled', note: `its supervisor stopped in the middle of a suspend that cannot be completed (${why}); the save was cancelled and the VM runs on` };
}

async function waitSaved(qmp: QmpClient, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await qmp.execute<MigrateInfo>('query-migrate', undefined, 5000);
    if (m.status === 'completed') return 'completed';
    if (!SAVING.has(m.status ?? '')) return `the save ended ${m.status ?? 'without a status'}${m['error-desc'] ? `: ${m['error-desc']}` : ''}`;
    if (Date.now() > deadline) return `the save did not complete within ${Math.round(timeoutMs / 1000)} s`;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stop a save still writing; `cont` is refused until the migration has let go of the VM. */
async function cancelSave(qmp: QmpClient): Promise<void> {
  await qmp.execute('migrate_cancel').catch(() => undefined);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const m = await qmp.execute<MigrateInfo>('query-migrate', undefined, 5000);
    if (!SAVING.has(m.status ?? '') && m.status !== 'cancelling') return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The containers the interrupted suspend stopped (they held a shared folder), from the event
 * log: the last stop's `containers-stopped-for-suspend`, read back past the failed starts since.
 * Docker accepts a container's name wherever it takes an id.
 */
export function containersHeldBySuspend(events: LoggedEvent[]): { id: string; name: string }[] {
  const names: string[] = [];
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.kind === 'containers-stopped-for-suspend' && Array.isArray(e.names)) names.unshift(...e.names.filter((n): n is string => typeof n === 'string'));
    if (e.kind !== 'state') continue;
    if (e.state === 'stopping') return names.map((n) => ({ id: n, name: n }));
    if (e.state !== 'starting' && e.state !== 'error') return [];
  }
  return [];
}
