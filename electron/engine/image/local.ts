// Finding the guest image: an explicit directory (BERTH_IMAGE_DIR / --image), else the local build
// (build/guest/build-image.sh, cached by recipe hash, instant when cached).
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { spawn } from 'node:child_process';
import { IMAGE_PROGRESS } from '../../shared/progress.js';
import type { Arch, Progress } from '../../shared/status.js';
import { BerthFailure } from '../errors.js';
import { appRoot } from '../repo-root.js';
import { downloadReleaseImage, imageCacheRoot, toProgressEvent } from './download.js';
import { loadReleaseManifest } from './manifest.js';

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
    if (m) onProgress({ task: 'image', step: 'image', label: IMAGE_PROGRESS.building(arch, m[3]!), done: Number(m[1]) - 1, total: Number(m[2]), fraction: (Number(m[1]) - 1) / Number(m[2]) });
  });
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  if (code !== 0 || !dir) {
    throw new BerthFailure('E_IMAGE', `building the ${arch} guest image failed (exit ${code}): ${tail.slice(-3).join(' | ')}`, `Run \`bash ${script} ${arch}\` to see the whole output (it needs root, mmdebstrap and the Debian mirror).`);
  }
  return readImageDir(dir, arch);
}

/**
 * A downloaded release image, laid out like a local build (symlinks into the download cache plus
 * a manifest.json) so the rest of the engine treats both the same.
 */
async function releaseImage(arch: Arch, resourcesDir: string, berthHome: string, onProgress: (p: Progress) => void): Promise<GuestImage> {
  const manifest = loadReleaseManifest(resourcesDir, arch);
  const got = await downloadReleaseImage(manifest, {
    berthHome,
    onProgress: (p) => onProgress({ ...toProgressEvent(p, IMAGE_PROGRESS.downloading(arch)), step: 'image' }),
  });
  const dir = path.join(imageCacheRoot(berthHome), `release-${arch}-${manifest.version.replace(/[^A-Za-z0-9._-]/g, '_')}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const entry = (role: 'kernel' | 'initrd' | 'disk', name: string, target: string): ImageFile => {
    const link = path.join(dir, name);
    fs.rmSync(link, { force: true });
    fs.symlinkSync(target, link);
    const f = manifest.files.find((x) => x.role === role)!;
    return { name, size: f.size, sha256: f.sha256 };
  };
  const local: ImageManifest = {
    schema: 1,
    arch,
    recipeHash: manifest.version,
    kernelVersion: '',
    kernel: entry('kernel', 'vmlinuz', got.kernel),
    initrd: entry('initrd', 'initrd', got.initrd),
    disk: entry('disk', 'base.qcow2', got.disk),
  };
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(local, null, 2));
  return readImageDir(dir, arch);
}

export interface ResolveOptions {
  env?: NodeJS.ProcessEnv;
  /** where resources/images/<arch>.json lives (the app's Resources, or the repo's resources/) */
  resourcesDir?: string;
  berthHome: string;
  platform?: NodeJS.Platform;
}

/**
 * The guest image for `arch`: an explicit directory (BERTH_IMAGE_DIR, `berth start --image`), else
 * a local build where the builder can run (Linux with the repo), else the published release image,
 * downloaded with progress, verified by sha256 and cached.
 */
export async function resolveImage(arch: Arch, onProgress: (p: Progress) => void, opts: ResolveOptions): Promise<GuestImage> {
  const env = opts.env ?? process.env;
  const explicit = arch === 'aarch64' ? env.BERTH_IMAGE_DIR_AARCH64 ?? env.BERTH_IMAGE_DIR : env.BERTH_IMAGE_DIR;
  if (explicit) return readImageDir(explicit, arch);
  const platform = opts.platform ?? process.platform;
  const resourcesDir = opts.resourcesDir ?? path.join(appRoot(), 'resources');
  const canBuild = platform === 'linux' && fs.existsSync(path.join(appRoot(), 'build', 'guest', 'build-image.sh'));
  if (canBuild) return buildImage(arch, onProgress, env.BERTH_IMAGE_CACHE);
  return releaseImage(arch, resourcesDir, opts.berthHome, onProgress);
}
