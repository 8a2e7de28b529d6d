// The one-time offer to move Berth into Applications (electron/main/move-to-applications.ts), with
// the Electron pieces faked: App Translocation and a mounted dmg change the app's path at every
// launch, and ejecting the dmg would kill QEMU.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { moveQuestion, offerMoveToApplications, runningFrom } from '../../../electron/main/move-to-applications.js';
import type { MoveDeps } from '../../../electron/main/move-to-applications.js';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-move-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

const TRANSLOCATED = '/private/var/folders/ab/T/AppTranslocation/1234-5678/d/Berth.app/Contents/MacOS/Berth';

function deps(over: Partial<MoveDeps> = {}, answer = 0): MoveDeps & { boxes: unknown[] } {
  const boxes: unknown[] = [];
  return {
    boxes,
    platform: 'darwin',
    isPackaged: true,
    exePath: TRANSLOCATED,
    isInApplicationsFolder: () => false,
    moveToApplicationsFolder: vi.fn(() => true),
    showMessageBox: async (o) => {
      boxes.push(o);
      return { response: answer };
    },
    stateFile: path.join(tmp, 'userData', 'move-to-applications.json'),
    log: () => undefined,
    ...over,
  };
}

describe('move to Applications', () => {
  it('asks with Move as the default and moves on Move', async () => {
    const d = deps();
    expect(await offerMoveToApplications(d)).toBe('moved');
    expect(d.boxes).toEqual([expect.objectContaining({ message: 'Move Berth to the Applications folder?', buttons: ['Move to Applications', 'Not Now'], defaultId: 0, cancelId: 1 })]);
    expect(d.moveToApplicationsFolder).toHaveBeenCalledTimes(1);
  });

  it('asks only once: Not Now is remembered', async () => {
    const d = deps({}, 1);
    expect(await offerMoveToApplications(d)).toBe('declined');
    expect(d.moveToApplicationsFolder).not.toHaveBeenCalled();
    expect(JSON.parse(fs.readFileSync(d.stateFile, 'utf8'))).toMatchObject({ asked: true, answer: 'stay' });
    expect(await offerMoveToApplications(d)).toBe('asked-before');
    expect(d.boxes).toHaveLength(1);
  });

  it('does nothing on Linux, in a development run, or from Applications', async () => {
    for (const over of [{ platform: 'linux' as const }, { isPackaged: false }, { isInApplicationsFolder: () => true }]) {
      const d = deps(over);
      expect(['not-applicable', 'in-applications']).toContain(await offerMoveToApplications(d));
      expect(d.boxes).toEqual([]);
      expect(fs.existsSync(d.stateFile)).toBe(false);
    }
  });

  it('keeps running when the move fails, and says how to move it by hand', async () => {
    const showError = vi.fn();
    const d = deps({
      showError,
      moveToApplicationsFolder: () => {
        throw new Error('Failed to copy the app');
      },
    });
    expect(await offerMoveToApplications(d)).toBe('not-moved');
    expect(showError).toHaveBeenCalledWith('Berth could not move itself to Applications', expect.stringMatching(/Failed to copy the app[\s\S]*Drag Berth\.app into the Applications folder/));
    // a cancelled password prompt: not moved, no error
    const cancelled = deps({ moveToApplicationsFolder: () => false, stateFile: path.join(tmp, 'other.json') });
    expect(await offerMoveToApplications(cancelled)).toBe('not-moved');
  });

  it('explains where the app runs from', () => {
    expect(runningFrom('/Volumes/Berth 0.1.0/Berth.app/Contents/MacOS/Berth')).toBe('disk image');
    expect(runningFrom(TRANSLOCATED)).toBe('translocated');
    expect(moveQuestion('/Volumes/Berth/Berth.app/Contents/MacOS/Berth').detail).toMatch(/Ejecting the disk image would stop Docker/);
    expect(moveQuestion(TRANSLOCATED).detail).toMatch(/different place every launch/);
  });
});
