// Finding the guest image: an explicit directory (BERTH_IMAGE_DIR / --image), else the local build
// (build/guest/build-image.sh, cached by recipe hash, instant when cached).
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { spawn } from 'node:child_process';
import type { Arch, Progress } from '../../shared/status.js';
import { BerthFailure } from '../errors.js';
import { appRoot } from '../repo-root.js';

export interface ImageFile {
  name: string;
  size: number;
  sha256: string;
}

export interface ImageManifest {
  schema: number;
  arch: Arch;
  recipeHash: string;
  kernelVersion: string;
  buildSeconds?: number;
  kernel: ImageFile;
  initrd: ImageFile;
  disk: ImageFile;
}

export interface GuestImage {
  dir: string;
  manifest: ImageManifest;
  kernel: string;
  initrd: string;
  disk: string;
}

export function readImageDir(dir: string, arch: Arch): GuestImage {
  const mf = path.join(dir, 'manifest.json');
  let manifest: ImageManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(mf, 'utf8')) as ImageManifest;
  } catch (e) {
    throw new BerthFailure('E_IMAGE', `no readable image manifest at ${mf}: ${(e as Error).message}`, 'Build the image with `npm run image` (x86_64) or `bash build/guest/build-image.sh aarch64`.');
  }
  if (manifest.arch !== arch) {
    throw new BerthFailure('E_IMAGE', `image at ${dir} is for ${manifest.arch}, but the instance is ${arch}`, 'Point BERTH_IMAGE_DIR at an image of the right architecture.');
  }
  const img: GuestImage = {
    dir,
    manifest,
    kernel: path.join(dir, manifest.kernel.name),
    initrd: path.join(dir, manifest.initrd.name),
    disk: path.join(dir, manifest.disk.name),
  };
  for (const [what, f] of [['kernel', img.kernel], ['initrd', img.initrd], ['disk', img.disk]] as const) {
    const st = fs.statSync(f, { throwIfNoEntry: false });
    const want = manifest[what].size;
    if (!st || st.size !== want) {
      throw new BerthFailure('E_IMAGE', `image file ${f} is missing or has the wrong size (${st?.size ?? 'none'} ≠ ${want})`, 'Delete the image directory and build it again.');
    }
  }
  return img;
}

/** Build (or reuse from the cache) the guest image for `arch`, reporting the builder's steps. */
export async function buildImage(arch: Arch, onProgress: (p: Progress) => void, cacheDir?: string): Promise<GuestImage> {
  const script = path.join(appRoot(), 'build', 'guest', 'build-image.sh');
  if (!fs.existsSync(script)) {
    throw new BerthFailure('E_IMAGE', `no image builder at ${script}`, 'Set BERTH_IMAGE_DIR to a directory with a built image.');
  }
  const args = [script, arch, '--print-dir', ...(cacheDir ? ['--cache', cacheDir] : [])];
  const child = spawn('bash', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  let dir = '';
  readline.createInterface({ input: child.stdout }).on('line', (l) => (dir = l.trim() || dir));
  readline.createInterface({ input: child.stderr }).on('line', (l) => {
    tail.push(l);
    if (tail.length > 20) tail.shift();
    const m = /^build-image \[(\d+)\/(\d+)\] (.*)$/.exec(l);
    if (m) onProgress({ task: 'image', step: 'image', label: `Building the ${arch} guest image: ${m[3]}`, done: Number(m[1]) - 1, total: Number(m[2]), fraction: (Number(m[1]) - 1) / Number(m[2]) });
  });
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  if (code !== 0 || !dir) {
    throw new BerthFailure('E_IMAGE', `building the ${arch} guest image failed (exit ${code}): ${tail.slice(-3).join(' | ')}`, `Run \`bash ${script} ${arch}\` to see the whole output (it needs root, mmdebstrap and the Debian mirror).`);
  }
  return readImageDir(dir, arch);
}

export async function resolveImage(arch: Arch, onProgress: (p: Progress) => void, env: NodeJS.ProcessEnv = process.env): Promise<GuestImage> {
  const explicit = arch === 'aarch64' ? env.BERTH_IMAGE_DIR_AARCH64 ?? env.BERTH_IMAGE_DIR : env.BERTH_IMAGE_DIR;
  if (explicit) return readImageDir(explicit, arch);
  return buildImage(arch, onProgress, env.BERTH_IMAGE_CACHE);
}
