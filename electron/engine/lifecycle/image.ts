// The guest image a start boots: the one the disk was made from when there is a disk (its kernel
// must match the modules on it), otherwise the one the settings resolve to (found, built or
// downloaded, with progress).
import fs from 'node:fs';
import path from 'node:path';
import type { Events } from '../../shared/contract.js';
import type { Settings } from '../../shared/settings.js';
import { readImageDir, resolveImage } from '../image/local.js';
import type { GuestImage } from '../image/local.js';
import type { InstancePaths } from '../instance.js';
import { readImageMemo } from '../instance/index.js';
import type { StepTracker } from './steps.js';

export interface ImageEnv {
  paths: InstancePaths;
  env: NodeJS.ProcessEnv;
  resourcesPath: string | undefined;
  steps: StepTracker;
  emit(event: 'progress', payload: Events['progress']): void;
}

/** The image, its download or build shown as progress and as the image step's detail. */
export async function guestImageFor(e: ImageEnv, settings: Settings): Promise<GuestImage> {
  const onProgress = (p: Events['progress']) => {
    e.emit('progress', p);
    e.steps.update('image', 'running', p.label);
  };
  // An existing disk must boot with the kernel of the image it was made from (module versions).
  const memo = fs.existsSync(e.paths.disk) ? readImageMemo(e.paths) : null;
  if (memo && fs.existsSync(path.join(memo.dir, 'manifest.json'))) return readImageDir(memo.dir, settings.arch);
  return resolveImage(settings.arch, onProgress, { env: e.env, berthHome: e.paths.home, ...(e.resourcesPath ? { resourcesDir: e.resourcesPath } : {}) });
}
