#!/usr/bin/env node
// Write resources/images/<arch>.json (the release manifest the app downloads from) from a locally
// built image directory (build/guest/build-image.sh output: manifest.json + vmlinuz, initrd,
// base.qcow2). build/release-images.sh runs this for both architectures and stages the files for
// upload; the "Release images" workflow (.github/workflows/release.yml) uploads them.
//
//   node build/release-manifest.mjs IMAGE_DIR [--tag TAG] [--repo OWNER/NAME] [--base-url URL] [--out FILE]
//
// The images live as assets of a GitHub release of the app's own repository, so a fork that runs
// the workflow publishes its own. Defaults: tag images-<createdAt date>-<recipe hash>; repo
// $BERTH_IMAGES_REPO, else $GITHUB_REPOSITORY (set in GitHub Actions), else berth-app/berth;
// base URL https://github.com/<repo>/releases/download/<tag>; out resources/images/<arch>.json.
// Asset names are <arch>-<file name> (one release holds both architectures). Every file's size
// and sha256 are checked against the bytes on disk before anything is written.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const repoRoot = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const tagArg = opt('--tag');
const repoArg = opt('--repo');
const baseArg = opt('--base-url');
const outArg = opt('--out');
const dir = args[0];
const die = (msg, code = 1) => {
  console.error(`release-manifest: ${msg}`);
  process.exit(code);
};
if (!dir || args.length > 1) die('usage: node build/release-manifest.mjs IMAGE_DIR [--tag TAG] [--repo OWNER/NAME] [--base-url URL] [--out FILE]', 2);

const sha256Of = (file) =>
  new Promise((resolve, reject) => {
    const h = createHash('sha256');
    fs.createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });

let local;
try {
  local = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
} catch (e) {
  die(`${path.join(dir, 'manifest.json')}: ${e.message} (build the image with build/guest/build-image.sh first)`);
}
if (!['x86_64', 'aarch64'].includes(local.arch)) die(`${dir}: arch ${JSON.stringify(local.arch)} is not x86_64 or aarch64`);
if (!local.recipeHash) die(`${dir}: manifest.json has no recipeHash`);
const date = String(local.createdAt ?? new Date().toISOString()).slice(0, 10).replaceAll('-', '.');
const version = `${date}-${local.recipeHash}`;
const tag = tagArg ?? `images-${version}`;
const repo = repoArg ?? process.env.BERTH_IMAGES_REPO ?? process.env.GITHUB_REPOSITORY ?? 'berth-app/berth';
if (!/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(repo)) die(`--repo ${JSON.stringify(repo)} is not OWNER/NAME`);
const baseUrl = (baseArg ?? `https://github.com/${repo}/releases/download/${tag}`).replace(/\/+$/, '');
if (!/^https?:\/\//.test(baseUrl)) die(`--base-url ${JSON.stringify(baseUrl)} is not an http(s) URL`);

const files = [];
for (const [role, f] of [
  ['kernel', local.kernel],
  ['initrd', local.initrd],
  ['disk', local.disk],
]) {
  if (!f?.name) die(`${dir}: manifest.json has no ${role}`);
  const file = path.join(dir, f.name);
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st) die(`${file}: missing`);
  if (st.size !== f.size) die(`${f.name}: ${st.size} bytes on disk, ${f.size} in manifest.json`);
  const sha256 = await sha256Of(file);
  if (sha256 !== f.sha256) die(`${f.name}: sha256 ${sha256} on disk, ${f.sha256} in manifest.json`);
  files.push({ role, name: f.name, url: `${baseUrl}/${local.arch}-${f.name}`, size: f.size, sha256 });
}
const manifest = { schema: 1, arch: local.arch, version, kernelVersion: local.kernelVersion, files };
const out = outArg ?? path.join(repoRoot, 'resources', 'images', `${local.arch}.json`);
fs.mkdirSync(path.dirname(out), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
fs.writeFileSync(tmp, JSON.stringify(manifest, null, 2) + '\n');
fs.renameSync(tmp, out);
console.error(`release-manifest: wrote ${out}; upload ${files.map((f) => `${path.join(dir, f.name)} as ${local.arch}-${f.name}`).join(', ')} to ${baseUrl}`);
