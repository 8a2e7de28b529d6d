// Offer once, at launch, to move Berth into the Applications folder.
//
// An app opened from Downloads or from the dmg runs under App Translocation: macOS copies it to a
// random read-only path that changes at every launch, so QEMU's path (and the resources path)
// differ each time, and a VM started from the mounted dmg dies when the dmg is ejected. Moving the
// app to Applications ends both. No Electron import here: index.ts passes the pieces it needs, so
// a unit test can drive the darwin path anywhere.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../engine/atomic.js';

export type MoveOutcome = 'not-applicable' | 'in-applications' | 'asked-before' | 'declined' | 'moved' | 'not-moved';

export interface MoveDeps {
  platform: NodeJS.Platform;
  /** app.isPackaged: a development run (electron .) is never moved */
  isPackaged: boolean;
  /** app.getPath('exe'): where the app runs from, for the message */
  exePath: string;
  isInApplicationsFolder: () => boolean;
  /** app.moveToApplicationsFolder(): true when moved (the app then quits and relaunches); throws on failure */
  moveToApplicationsFolder: () => boolean;
  showMessageBox: (options: { type: 'question'; message: string; detail: string; buttons: string[]; defaultId: number; cancelId: number }) => Promise<{ response: number }>;
  /** the file that remembers that the question was asked (in app.getPath('userData')) */
  stateFile: string;
  log?: (msg: string) => void;
  showError?: (title: string, message: string) => void;
}

export const MOVE_BUTTON = 'Move to Applications';
export const STAY_BUTTON = 'Not Now';

/** Where the app runs from, in words a user recognises. */
export function runningFrom(exePath: string): 'disk image' | 'translocated' | 'elsewhere' {
  if (exePath.startsWith('/Volumes/')) return 'disk image';
  if (exePath.includes('/AppTranslocation/')) return 'translocated';
  return 'elsewhere';
}

export function moveQuestion(exePath: string): { message: string; detail: string } {
  const where = runningFrom(exePath);
  const from =
    where === 'disk image'
      ? 'Berth is running from its disk image. Ejecting the disk image would stop Docker.'
      : where === 'translocated'
        ? 'Berth is running from a temporary copy that macOS makes, at a different place every launch, for apps opened outside Applications (for example from Downloads).'
        : 'Berth is running from outside the Applications folder.';
  return {
    message: 'Move Berth to the Applications folder?',
    detail: `${from} Berth works best from Applications: its VM keeps the same files at every launch and keeps running when a disk image is ejected.`,
  };
}

function askedBefore(file: string): boolean {
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { asked?: unknown }).asked === true;
  } catch {
    return false;
  }
}

function remember(file: string, answer: 'move' | 'stay', log: (msg: string) => void): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic(file, JSON.stringify({ asked: true, answer, at: new Date().toISOString() }) + '\n', 0o644);
  } catch (e) {
    log(`move to Applications: cannot remember the answer in ${file}: ${(e as Error).message}`);
  }
}

/**
 * Ask once; on "Move", move the app (which then quits and relaunches from Applications). The
 * caller starts nothing else when the outcome is 'moved'.
 */
export async function offerMoveToApplications(d: MoveDeps): Promise<MoveOutcome> {
  const log = d.log ?? console.log;
  if (d.platform !== 'darwin' || !d.isPackaged) return 'not-applicable';
  if (d.isInApplicationsFolder()) return 'in-applications';
  if (askedBefore(d.stateFile)) return 'asked-before';
  const q = moveQuestion(d.exePath);
  const { response } = await d.showMessageBox({ type: 'question', ...q, buttons: [MOVE_BUTTON, STAY_BUTTON], defaultId: 0, cancelId: 1 });
  if (response !== 0) {
    remember(d.stateFile, 'stay', log);
    log('move to Applications: declined');
    return 'declined';
  }
  remember(d.stateFile, 'move', log);
  try {
    if (d.moveToApplicationsFolder()) {
      log('move to Applications: moved; relaunching from /Applications');
      return 'moved';
    }
    // the user cancelled the administrator password prompt
    log('move to Applications: not moved');
    return 'not-moved';
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    log(`move to Applications failed: ${msg}`);
    d.showError?.('Berth could not move itself to Applications', `${msg}\n\nDrag Berth.app into the Applications folder in Finder, then open it from there.`);
    return 'not-moved';
  }
}
