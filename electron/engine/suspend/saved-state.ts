// The saved VM state (suspend on Stop, resume on Start) and the record that says when it is valid.
// A QEMU memory image is only correct for the exact disk contents, QEMU build and device list it
// was saved with; restoring it onto anything else corrupts the guest's filesystem. So the record
// pins all three, and anything that does not match sends the start down the cold-boot path.
import fs from 'node:fs';
import { RESTART_KEYS } from '../../shared/settings.js';
import type { Settings } from '../../shared/settings.js';
import type { Accel, SavedInfo } from '../../shared/status.js';
import { writeFileAtomic } from '../atomic.js';
import type { InstancePaths } from '../instance.js';

export interface DiskIdentity {
  size: number;
  mtimeMs: number;
  /** bumped by the engine before every QEMU launch that may write the disk */
  generation: number;
}

export interface SavedRecord {
  version: 1;
  savedAt: string;
  saveMs: number;
  /** the binary and its version; with `args`, the full command line saved from (without -incoming) */
  qemu: { path: string; version: string };
  args: string[];
  accel: Accel;
  sshPort: number;
  bootId: string;
  imageDir: string;
  recipeHash: string;
  settings: Settings;
  disk: DiskIdentity;
  stateBytes: number;
  /** containers stopped before the save because they held a shared folder */
  containersToRestart: { id: string; name: string }[];
}

export function readGeneration(p: InstancePaths): number {
  try {
    const n = Number(fs.readFileSync(p.diskGeneration, 'utf8').trim());
    return Number.isInteger(n) && n >= 0 ? n : 0;
  } catch {
    return 0;
  }
}

/**
 * Called before every QEMU launch: from here on the disk may differ from any saved state, and the
 * new generation number makes sure a record written earlier can never match it again.
 */
export function bumpGeneration(p: InstancePaths): number {
  // A clock reading, and never less than the last value plus one: even a lost or garbled file
  // yields a number no earlier record can hold.
  const next = Math.max(readGeneration(p) + 1, Date.now());
  writeFileAtomic(p.diskGeneration, `${next}\n`);
  return next;
}

export function diskIdentity(p: InstancePaths): DiskIdentity | null {
  try {
    const st = fs.statSync(p.disk);
    return { size: st.size, mtimeMs: st.mtimeMs, generation: readGeneration(p) };
  } catch {
    return null;
  }
}

export function readRecord(p: InstancePaths): SavedRecord | null {
  try {
    const r = JSON.parse(fs.readFileSync(p.savedRecord, 'utf8')) as SavedRecord;
    return r && r.version === 1 && Array.isArray(r.args) ? r : null;
  } catch {
    return null;
  }
}

/** What the status shows while a saved state waits on disk. */
export function savedInfo(p: InstancePaths): SavedInfo | undefined {
  const r = readRecord(p);
  if (!r || !fs.existsSync(p.savedState)) return undefined;
  return { at: r.savedAt, bytes: r.stateBytes, containersToRestart: r.containersToRestart.map((c) => c.name) };
}

/** Removes the saved state in every stage of its life (partial, complete, record). */
export function discardSaved(p: InstancePaths): boolean {
  const had = fs.existsSync(p.savedState) || fs.existsSync(p.savedRecord) || fs.existsSync(p.savedStatePartial);
  // The record goes first: without it nothing is ever restored, whatever else is left.
  for (const f of [p.savedRecord, p.savedState, p.savedStatePartial]) fs.rmSync(f, { force: true });
  return had;
}

export interface Current {
  qemu: { path: string; version: string };
  recipeHash: string;
  settings: Settings;
  accel: Accel;
  /** the arguments a launch with the recorded SSH port would use now (the binary is `qemu.path`) */
  args: string[];
}

/**
 * Why the saved state must not be restored, or null when it may. Checks go from what a user can
 * act on (a changed setting) to the catch-all (the command line), so the reason is the useful one.
 */
export function whyNotResume(p: InstancePaths, rec: SavedRecord, cur: Current): string | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(p.savedState);
  } catch {
    return 'the saved state file is missing';
  }
  if (st.size !== rec.stateBytes) return `the saved state file is ${st.size} bytes, the record says ${rec.stateBytes} (an interrupted save?)`;
  const disk = diskIdentity(p);
  if (!disk) return 'the disk is missing';
  if (disk.generation !== rec.disk.generation) return `the disk was used after the save (generation ${disk.generation}, saved at ${rec.disk.generation})`;
  if (disk.size !== rec.disk.size || disk.mtimeMs !== rec.disk.mtimeMs) return 'the disk changed after the save';
  const changed = RESTART_KEYS.filter((k) => JSON.stringify(cur.settings[k]) !== JSON.stringify(rec.settings[k]));
  if (changed.length) return `settings changed since the save: ${changed.map((k) => describeChange(k, rec.settings[k], cur.settings[k])).join(', ')}`;
  if (cur.recipeHash !== rec.recipeHash) return `the guest image changed (${rec.recipeHash} → ${cur.recipeHash})`;
  if (cur.qemu.path !== rec.qemu.path || cur.qemu.version !== rec.qemu.version) return `QEMU changed (${rec.qemu.version} at ${rec.qemu.path} → ${cur.qemu.version} at ${cur.qemu.path})`;
  if (cur.accel !== rec.accel) return `the accelerator changed (${rec.accel} → ${cur.accel})`;
  if (cur.args.length !== rec.args.length || cur.args.some((a, i) => a !== rec.args[i])) {
    const i = cur.args.findIndex((a, j) => a !== rec.args[j]);
    return `the QEMU command line differs${i >= 0 ? ` at argument ${i + 1} (${JSON.stringify(rec.args[i] ?? '')} → ${JSON.stringify(cur.args[i])})` : ''}`;
  }
  return null;
}

function describeChange(key: string, from: unknown, to: unknown): string {
  return typeof from === 'object' || typeof to === 'object' ? `${key} changed` : `${key} ${String(from)} → ${String(to)}`;
}
