// Saving and loading a VM's state with QEMU's migration commands, to and from a local file.
// `exec:` URIs work on every QEMU we support (7.2 on Debian, ≥ 8.2 on macOS); QEMU runs them
// through /bin/sh, hence the quoting.
import { BerthFailure } from '../errors.js';
import type { QmpClient } from '../qmp.js';

interface MigrateInfo {
  status?: string;
  'error-desc'?: string;
  ram?: { transferred?: number; total?: number };
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

async function waitMigration(qmp: QmpClient, what: string, timeoutMs: number, onBytes?: (done: number, total: number) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await qmp.execute<MigrateInfo>('query-migrate', undefined, 5000);
    if (info.status === 'completed') return;
    if (info.status === 'failed' || info.status === 'cancelled') {
      throw new BerthFailure('E_QEMU', `${what} failed: ${info['error-desc'] ?? info.status}`);
    }
    if (info.ram?.total && onBytes) onBytes(info.ram.transferred ?? 0, info.ram.total);
    if (Date.now() > deadline) {
      await qmp.execute('migrate_cancel').catch(() => undefined);
      throw new BerthFailure('E_TIMEOUT', `${what} did not finish within ${Math.round(timeoutMs / 1000)} s`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Writes the paused VM's state to `file`. QEMU checks its migration blockers (a mounted 9p share,
 * an accelerator that cannot save) when `migrate` is issued, so a refusal comes back at once.
 */
export async function saveState(qmp: QmpClient, file: string, onBytes?: (done: number, total: number) => void): Promise<void> {
  // QEMU throttles migration to 128 MiB/s by default (meant for networks); a local file takes
  // whatever the disk gives.
  await qmp.execute('migrate-set-parameters', { 'max-bandwidth': 64 * 2 ** 30 }).catch(() => undefined);
  await qmp.execute('migrate', { uri: `exec:cat > ${shellQuote(file)}` });
  await waitMigration(qmp, 'saving the VM state', 5 * 60_000, onBytes);
}

/** Loads a state into a QEMU started with `-incoming defer`, then lets the VM run. */
export async function loadState(qmp: QmpClient, file: string): Promise<void> {
  await qmp.execute('migrate-incoming', { uri: `exec:cat ${shellQuote(file)}` });
  await waitMigration(qmp, 'loading the saved VM state', 2 * 60_000);
  const st = await qmp.execute<{ status?: string; running?: boolean }>('query-status');
  if (!st.running) await qmp.execute('cont');
}
