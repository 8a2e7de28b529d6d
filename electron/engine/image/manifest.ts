// The guest-image release manifest shipped with the app: resources/images/<arch>.json (copied to
// <resources>/images/ by electron-builder). It names each file of a published image with its URL,
// size and sha256; the downloader (./download.ts) fetches, verifies and caches them. The local
// build's own manifest.json (build/guest/build-image.sh, read by ./local.ts) is a different file.
//
//   { "schema": 1, "arch": "aarch64", "version": "2026.11.29-bd77e21bb0414012",
//     "files": [ { "role": "kernel", "name": "vmlinuz", "url": "https://…", "size": 8222656,
//                  "sha256": "d880…" }, … ] }
import fs from 'node:fs';
import path from 'node:path';
import { ARCHES } from '../../shared/status.js';
import type { Arch } from '../../shared/status.js';
import { BerthFailure } from '../errors.js';

export const IMAGE_ROLES = ['kernel', 'initrd', 'disk'] as const;
export type ImageRole = (typeof IMAGE_ROLES)[number];

export interface ReleaseFile {
  role: ImageRole;
  /** file name in the cache and in a local image directory: vmlinuz, initrd, base.qcow2 */
  name: string;
  url: string;
  size: number;
  /** lowercase hex sha256 of the file */
  sha256: string;
}

export interface ReleaseManifest {
  schema: 1;
  arch: Arch;
  /** the image release, e.g. "2026.11.29-<recipe hash>" */
  version: string;
  files: ReleaseFile[];
}

export type ImageFailureReason =
  | 'manifest'
  | 'not-found'
  | 'http'
  | 'unreachable'
  | 'interrupted'
  | 'size'
  | 'digest'
  | 'aborted'
  | 'io';

/** An E_IMAGE failure with a machine-readable reason (tests and the UI use it; the wire carries code/message/hint). */
export class ImageError extends BerthFailure {
  constructor(
    readonly reason: ImageFailureReason,
    message: string,
    hint?: string,
  ) {
    super('E_IMAGE', message, hint);
    this.name = 'ImageError';
  }
}

const SHA256 = /^[0-9a-f]{64}$/;

function fail(source: string, what: string): never {
  throw new ImageError(
    'manifest',
    `invalid image manifest ${source}: ${what}`,
    'This copy of Berth names no published guest image: install Berth from its releases page (https://github.com/berth-app/berth/releases). A build of your own needs its images published first (build/release-images.sh); from a terminal, `berth start --image DIR` boots an image you built.',
  );
}

/** Validate parsed JSON as a ReleaseManifest (throws ImageError reason 'manifest'). */
export function parseReleaseManifest(json: unknown, source = '(manifest)'): ReleaseManifest {
  if (!json || typeof json !== 'object') fail(source, 'not a JSON object');
  const m = json as Record<string, unknown>;
  if (m.schema !== 1) fail(source, `unsupported schema ${JSON.stringify(m.schema)} (expected 1)`);
  if (!ARCHES.includes(m.arch as Arch)) fail(source, `arch must be one of ${ARCHES.join(', ')}`);
  if (typeof m.version !== 'string' || !m.version) fail(source, 'version must be a non-empty string');
  if (!Array.isArray(m.files) || m.files.length === 0) fail(source, 'files must be a non-empty array');
  const files: ReleaseFile[] = m.files.map((f: unknown, i: number) => {
    const e = (f ?? {}) as Record<string, unknown>;
    const at = `files[${i}]`;
    if (!IMAGE_ROLES.includes(e.role as ImageRole)) fail(source, `${at}.role must be one of ${IMAGE_ROLES.join(', ')}`);
    if (typeof e.name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(e.name)) fail(source, `${at}.name must be a plain file name`);
    if (typeof e.url !== 'string' || !/^https?:\/\//.test(e.url)) fail(source, `${at}.url must be an http(s) URL`);
    if (typeof e.size !== 'number' || !Number.isSafeInteger(e.size) || e.size <= 0) fail(source, `${at}.size must be a positive integer`);
    if (typeof e.sha256 !== 'string' || !SHA256.test(e.sha256)) {
      fail(source, `${at}.sha256 must be 64 lowercase hex digits${e.sha256 === 'PENDING' ? ' (this image is not published yet)' : ''}`);
    }
    return { role: e.role as ImageRole, name: e.name, url: e.url, size: e.size, sha256: e.sha256 };
  });
  for (const role of IMAGE_ROLES) {
    if (files.filter((f) => f.role === role).length !== 1) fail(source, `needs exactly one file with role "${role}"`);
  }
  return { schema: 1, arch: m.arch as Arch, version: m.version, files };
}

/** <resources>/images/<arch>.json */
export function releaseManifestPath(resourcesDir: string, arch: Arch): string {
  return path.join(resourcesDir, 'images', `${arch}.json`);
}

/** Read and validate <resources>/images/<arch>.json. */
export function loadReleaseManifest(resourcesDir: string, arch: Arch): ReleaseManifest {
  const file = releaseManifestPath(resourcesDir, arch);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ImageError(
      'manifest',
      `no image manifest for ${arch} at ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      'Reinstall Berth from its releases page (https://github.com/berth-app/berth/releases); from a terminal, `berth start --image DIR` boots an image you built.',
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(file, `not JSON (${(e as Error).message})`);
  }
  const m = parseReleaseManifest(json, file);
  if (m.arch !== arch) fail(file, `is for ${m.arch}, not ${arch}`);
  return m;
}
