// electron-builder `afterPack` hook (runs after the app directory is laid out, before signing and
// before the dmg/zip/AppImage is made). CommonJS because electron-builder require()s hooks.
//  1. node-pty executes prebuilds/<platform>-<arch>/spawn-helper with posix_spawn; its npm tarball
//     ships the file mode 0644, so every pty spawn on macOS would fail with EACCES. Make it 0755.
//  2. A Mac app without the bundled QEMU cannot start a VM on a machine without Homebrew: warn,
//     or fail when BERTH_REQUIRE_QEMU=1 (set by the release build).
//  3. The guest-image manifests it ships must name a published image (./image-manifests.cjs):
//     a placeholder fails the build unless BERTH_ALLOW_PLACEHOLDER_IMAGES=1.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { checkImageManifests, GUEST_ARCH } = require('./image-manifests.cjs');

/** Contents/Resources of the packed app (macOS) or resources/ next to the executable (Linux). */
function resourcesDir(context) {
  const platform = context.electronPlatformName;
  if (platform === 'darwin' || platform === 'mas') {
    const app = `${context.packager.appInfo.productFilename}.app`;
    return path.join(context.appOutDir, app, 'Contents', 'Resources');
  }
  return path.join(context.appOutDir, 'resources');
}

/** chmod 0755 every node-pty spawn-helper under app.asar.unpacked; returns the files it fixed. */
function fixSpawnHelpers(resources) {
  const root = path.join(resources, 'app.asar.unpacked', 'node_modules', 'node-pty');
  const candidates = [path.join(root, 'build', 'Release', 'spawn-helper')];
  const prebuilds = path.join(root, 'prebuilds');
  if (fs.existsSync(prebuilds)) {
    for (const dir of fs.readdirSync(prebuilds)) candidates.push(path.join(prebuilds, dir, 'spawn-helper'));
  }
  const fixed = [];
  for (const file of candidates) {
    if (!fs.existsSync(file)) continue;
    if ((fs.statSync(file).mode & 0o111) !== 0o111) {
      fs.chmodSync(file, 0o755);
      fixed.push(file);
    }
  }
  return fixed;
}

/** The QEMU bundle the app looks for first (electron/engine/qemu-binary.ts). */
function checkQemuBundle(resources, env = process.env) {
  const qemu = path.join(resources, 'qemu', 'bin', 'qemu-system-aarch64');
  if (fs.existsSync(qemu)) return { ok: true, path: qemu };
  const message =
    `Berth: no bundled QEMU at ${qemu}. The app will fall back to a qemu-system-aarch64 on PATH ` +
    '(e.g. Homebrew). Run `bash build/mac/bundle-qemu.sh` on a Mac before packing a release.';
  if (env.BERTH_REQUIRE_QEMU === '1') throw new Error(message);
  return { ok: false, path: qemu, message };
}

/** The shipped manifests (<resources>/images/*.json): throws on a placeholder unless escaped. */
function checkShippedImages(context, resources, env = process.env) {
  const requiredArch = GUEST_ARCH[context.arch];
  const r = checkImageManifests(path.join(resources, 'images'), { requiredArch, env, label: 'images' });
  if (!r.ok) console.warn(`  ⨯ ${r.message}\n  ⨯ (continuing: BERTH_ALLOW_PLACEHOLDER_IMAGES=1)`);
  else console.log(`  • berth after-pack: image manifests ${r.checked.join(', ')} name published images`);
  return r;
}

async function afterPack(context) {
  const resources = resourcesDir(context);
  for (const file of fixSpawnHelpers(resources)) console.log(`  • berth after-pack: made executable ${file}`);
  checkShippedImages(context, resources);
  const platform = context.electronPlatformName;
  if (platform === 'darwin' || platform === 'mas') {
    const result = checkQemuBundle(resources);
    if (!result.ok) console.warn(`  ⨯ ${result.message}`);
  }
}

module.exports = afterPack;
module.exports.default = afterPack;
module.exports.resourcesDir = resourcesDir;
module.exports.fixSpawnHelpers = fixSpawnHelpers;
module.exports.checkQemuBundle = checkQemuBundle;
module.exports.checkShippedImages = checkShippedImages;
