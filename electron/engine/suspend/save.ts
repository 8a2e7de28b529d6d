// Saving the running VM to the instance directory (a stop in suspend mode). QEMU cannot save while
// a 9p share is mounted, and a container with a bind mount from a share keeps it mounted in its own
// namespace: such containers are stopped first (and started again on resume), then every service's
// beforeSuspend runs (the mounts service unmounts the shares). Before the first irreversible step
// nothing has changed; after it, a failure leaves a VM that the caller shuts down cleanly.
import fs from 'node:fs';
import type { JournalEvents, JournalKind } from '../../shared/journal.js';
import { notRunningReason, STOP_PROGRESS, stoppingHoldersLabel } from '../../shared/progress.js';
import { followHash } from '../file-hash.js';
import type { FollowedHash } from '../file-hash.js';
import type { Guest } from '../guest/index.js';
import type { InstancePaths } from '../instance.js';
import type { Service } from '../services/service.js';
import type { Run } from '../vm/run.js';
import { binaryDigest } from './binary-digest.js';
import { holdingShares, runningContainers, startContainer, stopContainer } from './docker-api.js';
import { diskIdentity, discardSaved, makeDurable, RECORD_VERSION, writeRecord } from './saved-state.js';
import type { SavedRecord } from './saved-state.js';

export type SaveResult = { ok: true; bytes: number; note?: string } | { ok: false; reason: string };
export type HeldContainer = { id: string; name: string };

export interface SaveContext {
  paths: InstancePaths;
  journal<K extends JournalKind>(kind: K, data: JournalEvents[K]): void;
  progress(label: string, fraction?: number): void;
  /** in the order their hooks run */
  services: readonly Service[];
  /** the guest paths shared folders are mounted at now */
  shares(): string[];
  guest: Guest;
  guestReachable(): boolean;
  /** the host agent down, and with it what it forwarded */
  stopAgent(): Promise<void>;
  restartNeeded(): boolean;
}

const fail = (reason: string): SaveResult => ({ ok: false, reason });

/** Save the running VM and quit QEMU; `{ ok: false, reason }` when it could not be, for a shutdown instead. */
export async function saveVm(c: SaveContext, run: Run | null, was: string): Promise<SaveResult> {
  if (!run?.vm.qmp || run.vm.qmp.isClosed) return fail('the QEMU monitor is not connected');
  if (!run.cmd || !run.qemuVersion) return fail('this VM was started by an older Berth, so its command line is unknown');
  if (was !== 'running') return fail(notRunningReason(was));
  if (c.restartNeeded()) return fail('settings changed since the VM started; they apply at this fresh boot');
  const shares = c.shares();
  let stopped: HeldContainer[] = [];
  if (shares.length) {
    if (!c.guestReachable()) return fail('the host agent is down, so the shared folders cannot be unmounted');
    try {
      const holders = holdingShares(await runningContainers(c.paths.docker), shares);
      if (holders.length) {
        c.progress(stoppingHoldersLabel(holders.length));
        await Promise.all(holders.map((h) => stopContainer(c.paths.docker, h.id)));
        stopped = holders.map((h) => ({ id: h.id, name: h.name }));
        c.journal('containers-stopped-for-suspend', { names: stopped.map((h) => h.name) });
      }
    } catch (e) {
      return fail(`cannot stop the containers that use shared folders: ${(e as Error).message}`);
    }
  }
  for (const svc of c.services) {
    const why = await svc.beforeSuspend?.();
    if (why) return fail(why);
  }
  // `berth-mounts down` syncs the guest's disk; with no share to unmount, sync it here.
  if (!shares.length && c.guestReachable()) await c.guest.sync(5000).catch(() => undefined);
  await c.stopAgent();
  c.progress(STOP_PROGRESS.save, 0);
  const t0 = Date.now();
  fs.rmSync(c.paths.savedStatePartial, { force: true });
  // The checksum is taken from the file as QEMU writes it (from the page cache, beside the
  // write), so it costs the stop almost nothing.
  const hashing = followHash(c.paths.savedStatePartial);
  try {
    await run.vm.save(c.paths.savedStatePartial, (done, total) => c.progress(STOP_PROGRESS.save, Math.min(1, done / total)));
  } catch (e) {
    hashing.cancel();
    fs.rmSync(c.paths.savedStatePartial, { force: true });
    await run.vm.cont().catch(() => undefined);
    return fail(`QEMU could not save the VM: ${(e as Error).message.replace(/^migrate: /, '')}`);
  }
  return commitSave(c, run, t0, stopped, hashing);
}

/**
 * After the save: quit QEMU, then the state file and the record (the commit point). Also
 * completes the save of a supervisor that died mid-suspend (an adopt), hashing from the start.
 */
export async function commitSave(
  c: Pick<SaveContext, 'paths' | 'journal'>,
  run: Run,
  t0: number,
  stopped: HeldContainer[],
  hashing: FollowedHash = followHash(c.paths.savedStatePartial),
): Promise<SaveResult> {
  const { paths } = c;
  const drop = (reason: string) => {
    hashing.cancel();
    fs.rmSync(paths.savedStatePartial, { force: true });
    return fail(reason);
  };
  if (!run.vm.qmp || !run.cmd || !run.qemuVersion) return drop('the QEMU monitor or the command line is unknown');
  // Quit, so QEMU closes the disk cleanly; only then is its identity final.
  if (!(await run.vm.quit(30_000))) return drop('QEMU did not exit after saving; the saved state was discarded');
  const disk = diskIdentity(paths);
  if (!disk) return drop('the disk disappeared');
  let sum: { sha256: string; bytes: number };
  let stateBytes: number;
  try {
    // QEMU (and the writer it ran) are gone: the file is complete.
    sum = await hashing.finish();
    // On disk, under its final name, before the record can point at it.
    makeDurable(paths.savedStatePartial);
    fs.renameSync(paths.savedStatePartial, paths.savedState);
    makeDurable(paths.savedState);
    stateBytes = fs.statSync(paths.savedState).size;
  } catch (e) {
    discardSaved(paths);
    return fail(`the saved state could not be made durable: ${(e as Error).message}`);
  }
  if (stateBytes !== sum.bytes) {
    discardSaved(paths);
    return fail(`the saved state changed while it was checked (${sum.bytes} bytes hashed, ${stateBytes} on disk)`);
  }
  const dataDirAt = run.cmd.args.indexOf('-L');
  const qemuSha256 = run.vm.binarySha256 ?? (await binaryDigest(run.cmd.binary, paths.cache).catch(() => undefined));
  if (!qemuSha256) {
    discardSaved(paths);
    return fail(`cannot read the QEMU binary ${run.cmd.binary} to record which build saved the VM`);
  }
  const rec: SavedRecord = {
    version: RECORD_VERSION,
    savedAt: new Date().toISOString(),
    saveMs: Date.now() - t0,
    qemu: { path: run.cmd.binary, version: run.qemuVersion, sha256: qemuSha256, ...(dataDirAt >= 0 ? { dataDir: run.cmd.args[dataDirAt + 1] } : {}) },
    args: run.cmd.args,
    accel: run.accel,
    sshPort: run.sshPort,
    bootId: run.bootId,
    imageDir: run.image.dir,
    recipeHash: run.image.manifest.recipeHash,
    settings: run.settings,
    disk,
    stateBytes,
    stateSha256: sum.sha256,
    containersToRestart: stopped,
  };
  writeRecord(paths, rec);
  c.journal('suspended', { ms: rec.saveMs, bytes: stateBytes, containersStopped: stopped.map((h) => h.name) });
  run.vm.qmp?.close();
  return { ok: true, bytes: stateBytes, ...(stopped.length ? { note: `stopped ${stopped.map((h) => h.name).join(', ')} (bind mounts from shared folders); they start again on resume` } : {}) };
}

/**
 * Start again the containers a suspend stopped. After Docker is ready rather than before:
 * `docker start` takes seconds under emulation, and the user's other containers never stopped.
 */
export async function restartHeld(c: Pick<SaveContext, 'paths' | 'journal'>, list: HeldContainer[]): Promise<void> {
  if (!list.length) return;
  const failed: string[] = [];
  await Promise.all(list.map((h) => startContainer(c.paths.docker, h.id).catch((e: Error) => failed.push(`${h.name}: ${e.message}`))));
  c.journal('containers-restarted', { names: list.map((h) => h.name), failed });
}
