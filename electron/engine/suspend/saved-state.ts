// The saved VM state (suspend on Stop, resume on Start) and the record that says when it is valid.
// A QEMU memory image is only correct for the exact disk contents, QEMU build and device list it
// was saved with; restoring it onto anything else corrupts the guest's filesystem. So the record
// pins all three, and anything that does not match sends the start down the cold-boot path.
import fs from 'node:fs';
import path from 'node:path';
import { settingsChangedReason } from '../../shared/progress.js';
import { RESTART_KEYS } from '../../shared/settings.js';
import type { Settings } from '../../shared/settings.js';
import type { Accel, SavedInfo } from '../../shared/status.js';
import { writeFileAtomic } from '../atomic.js';
import { sha256File } from '../file-hash.js';
import type { InstancePaths } from '../instance.js';

export interface DiskIdentity {
  size: number;
  mtimeMs: number;
  /** bumped by the engine before every QEMU launch that may write the disk */
  generation: number;
}

/** The QEMU build, by what it is rather than where: a resume needs the same build, at any path. */
export interface QemuIdentity {
  path: string;
  version: string;
  /** of the binary's content */
  sha256: string;
  /** the bundle's share/qemu (given with -L), which moves with the binary */
  dataDir?: string;
}

export const RECORD_VERSION = 2;

export interface SavedRecord {
  version: typeof RECORD_VERSION;
  savedAt: string;
  saveMs: number;
  /** the build saved from; with `args`, the full command line (without -incoming) */
  qemu: QemuIdentity;
  args: string[];
  accel: Accel;
  sshPort: number;
  bootId: string;
  imageDir: string;
  recipeHash: string;
  settings: Settings;
  disk: DiskIdentity;
  stateBytes: number;
  /** of the saved state file, checked before it is loaded: a damaged state must never reach the guest */
  stateSha256: string;
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

/**
 * The record, or null with the reason when there is one Berth cannot use: unreadable, or written
 * by an older or newer Berth. Such a record counts as absent; it never makes a caller fail.
 */
export function readSaved(p: InstancePaths): { record: SavedRecord | null; note?: string } {
  let text: string;
  try {
    text = fs.readFileSync(p.savedRecord, 'utf8');
  } catch {
    return { record: null };
  }
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch {
    return { record: null, note: 'the saved state’s record is unreadable (half written?)' };
  }
  const v = r && typeof r === 'object' ? (r as { version?: unknown }).version : undefined;
  if (v !== RECORD_VERSION) {
    const by = typeof v === 'number' ? (v < RECORD_VERSION ? 'an older Berth' : 'a newer Berth') : 'something else';
    return { record: null, note: `the saved state’s record has format ${JSON.stringify(v ?? null)}, written by ${by} (this one reads format ${RECORD_VERSION})` };
  }
  const bad = malformed(r as Record<string, unknown>);
  if (bad) return { record: null, note: `the saved state’s record is incomplete (${bad})` };
  return { record: r as SavedRecord };
}

export function readRecord(p: InstancePaths): SavedRecord | null {
  return readSaved(p).record;
}

/** The first field a reader of the record relies on that is missing or of the wrong type. */
function malformed(r: Record<string, unknown>): string | null {
  const is = (v: unknown, t: string) => typeof v === t;
  const obj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object';
  for (const k of ['savedAt', 'accel', 'bootId', 'imageDir', 'recipeHash', 'stateSha256']) if (!is(r[k], 'string')) return k;
  for (const k of ['saveMs', 'sshPort', 'stateBytes']) if (!is(r[k], 'number')) return k;
  if (!Array.isArray(r.args) || !r.args.every((a) => is(a, 'string'))) return 'args';
  const q = r.qemu;
  if (!obj(q) || !is(q.path, 'string') || !is(q.version, 'string') || !is(q.sha256, 'string')) return 'qemu';
  const d = r.disk;
  if (!obj(d) || !is(d.size, 'number') || !is(d.mtimeMs, 'number') || !is(d.generation, 'number')) return 'disk';
  if (!obj(r.settings)) return 'settings';
  const c = r.containersToRestart;
  if (!Array.isArray(c) || !c.every((x) => obj(x) && is(x.id, 'string') && is(x.name, 'string'))) return 'containersToRestart';
  return null;
}

/** What the status shows while a saved state waits on disk. */
export function savedInfo(p: InstancePaths): SavedInfo | undefined {
  const r = readRecord(p);
  if (!r || !fs.existsSync(p.savedState)) return undefined;
  return { at: r.savedAt, bytes: r.stateBytes, containersToRestart: r.containersToRestart.map((c) => c.name) };
}

/** fsync a file, then the directory holding its name: after this a crash loses neither. */
export function makeDurable(file: string): void {
  for (const f of [file, path.dirname(file)]) {
    const fd = fs.openSync(f, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/**
 * The commit point of a save: written last, atomically and durably, after the state file is on
 * disk under its final name. A crash anywhere before leaves no record, and a state without a
 * record is never restored.
 */
export function writeRecord(p: InstancePaths, rec: SavedRecord): void {
  writeFileAtomic(p.savedRecord, JSON.stringify(rec, null, 2));
  makeDurable(p.savedRecord);
}

/** Why the state file's bytes are not the ones saved, or null when they are. */
export async function verifyStateFile(p: InstancePaths, rec: SavedRecord): Promise<string | null> {
  let sha: string;
  try {
    sha = await sha256File(p.savedState);
  } catch (e) {
    return `the saved state file cannot be read: ${(e as Error).message}`;
  }
  return sha === rec.stateSha256 ? null : `the saved state file is damaged (sha256 ${sha.slice(0, 12)}…, saved as ${rec.stateSha256.slice(0, 12)}…)`;
}

/** Removes the saved state in every stage of its life (partial, complete, record). */
export function discardSaved(p: InstancePaths): boolean {
  const had = fs.existsSync(p.savedState) || fs.existsSync(p.savedRecord) || fs.existsSync(p.savedStatePartial);
  // The record goes first: without it nothing is ever restored, whatever else is left.
  for (const f of [p.savedRecord, p.savedState, p.savedStatePartial]) fs.rmSync(f, { force: true });
  return had;
}

export interface Current {
  qemu: QemuIdentity;
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
  if (changed.length) return settingsChangedReason(changed.map((k) => ({ key: k, from: rec.settings[k], to: cur.settings[k] })));
  if (cur.recipeHash !== rec.recipeHash) return `the guest image changed (${rec.recipeHash} → ${cur.recipeHash})`;
  if (cur.qemu.version !== rec.qemu.version) return `QEMU changed (${rec.qemu.version} at ${rec.qemu.path} → ${cur.qemu.version} at ${cur.qemu.path})`;
  if (cur.qemu.sha256 !== rec.qemu.sha256) return `QEMU changed: ${cur.qemu.path} is another build of ${cur.qemu.version} than the one saved from (${rec.qemu.path})`;
  if (cur.accel !== rec.accel) return `the accelerator changed (${rec.accel} → ${cur.accel})`;
  // The same build moved (a translocated or reinstalled app) takes its data directory along.
  const from = rec.qemu.dataDir;
  const to = cur.qemu.dataDir;
  const args = from && to ? rec.args.map((a) => (a === from ? to : a)) : rec.args;
  if (cur.args.length !== args.length || cur.args.some((a, i) => a !== args[i])) {
    const i = cur.args.findIndex((a, j) => a !== args[j]);
    return `the QEMU command line differs${i >= 0 ? ` at argument ${i + 1} (${JSON.stringify(args[i] ?? '')} → ${JSON.stringify(cur.args[i])})` : ''}`;
  }
  return null;
}
