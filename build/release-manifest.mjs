#!/usr/bin/env node
// Write resources/images/<arch>.json (the release manifest the app downloads from) from a locally
// built image directory (build/guest/build-image.sh output: manifest.json + vmlinuz, initrd,
// base.qcow2). The files themselves are uploaded by hand to the release named by --tag.
//
//   node build/release-manifest.mjs IMAGE_DIR [--tag TAG] [--base-url URL] [--out FILE]
//
// Defaults: tag images-<createdAt date>-<recipe hash>, base URL
// https://github.com/berth-app/berth-images/releases/download/<tag>, out resources/images/<arch>.json.
// Asset names are <arch>-<file name> (one release holds both architectures).
import fs from 'node:fs';
import path from 'node:path';

const repo = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const tagArg = opt('--tag');
const baseArg = opt('--base-url');
const outArg = opt('--out');
const dir = args[0];
if (!dir) {
  console.error('usage: node build/release-manifest.mjs IMAGE_DIR [--tag TAG] [--base-url URL] [--out FILE]');
  process.exit(2);
}
const local = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
const date = String(local.createdAt ?? new Date().toISOString()).slice(0, 10).replaceAll('-', '.');
const version = `${date}-${local.recipeHash}`;
const tag = tagArg ?? `images-${version}`;
const baseUrl = (baseArg ?? `https://github.com/berth-app/berth-images/releases/download/${tag}`).replace(/\/+$/, '');
const files = [
  ['kernel', local.kernel],
  ['initrd', local.initrd],
  ['disk', local.disk],
].map(([role, f]) => {
  const st = fs.statSync(path.join(dir, f.name));
  if (st.size !== f.size) throw new Error(`${f.name}: ${st.size} bytes on disk, ${f.size} in manifest.json`);
  return { role, name: f.name, url: `${baseUrl}/${local.arch}-${f.name}`, size: f.size, sha256: f.sha256 };
});
const manifest = { schema: 1, arch: local.arch, version, kernelVersion: local.kernelVersion, files };
const out = outArg ?? path.join(repo, 'resources', 'images', `${local.arch}.json`);
fs.writeFileSync(out, JSON.stringify(manifest, null, 2) + '\n');
console.log(`wrote ${out}; upload ${files.map((f) => `${path.join(dir, f.name)} as ${local.arch}-${f.name}`).join(', ')} to ${baseUrl}`);
