// electron-builder `mac.sign` hook: the stock @electron/osx-sign run with two changes.
//
// electron-builder gives every file that is not the app itself one entitlements file
// (`entitlementsInherit`); it has no per-path setting. The bundled QEMU needs its own:
//   Contents/Resources/qemu/bin/qemu-system-*  →  build/entitlements.qemu.plist
//     (com.apple.security.hypervisor for -accel hvf, cs.allow-jit for the TCG fallback)
// and QEMU's data files (edk2 firmware, option ROMs, licences) must not be passed to codesign one
// by one (codesign would store a detached signature in their xattrs); the app's signature seals
// them as resources like any other file in Contents/Resources.
//
// Everything else is unchanged: osx-sign walks the bundle, signs deepest first (QEMU's dylibs and
// binaries before Berth.app), with hardened runtime, the identity electron-builder found and the
// app/inherit entitlements from build/electron-builder.yml. Rancher Desktop does the same job with
// its own codesign loop and a per-path entitlements table (build/signing-config-mac.yaml).
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const QEMU_ENTITLEMENTS = path.resolve(__dirname, '..', 'entitlements.qemu.plist');
const QEMU_DIR = path.join('Contents', 'Resources', 'qemu');

const MACHO_MAGICS = new Set([
  0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe, // thin 32/64-bit, either byte order
  0xcafebabe, 0xbebafeca, 0xcafebabf, 0xbfbafeca, // fat / fat64
]);

/** True when the file starts with a Mach-O (thin or universal) magic number. */
function isMachO(file) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(4);
    if (fs.readSync(fd, buf, 0, 4, 0) < 4) return false;
    return MACHO_MAGICS.has(buf.readUInt32BE(0));
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Path of `file` relative to the .app, with forward slashes ('' for the app itself). */
function relativeToApp(app, file) {
  return path.relative(app, file).split(path.sep).join('/');
}

/** 'system' for qemu/bin/qemu-system-*, 'code' for other Mach-O files under qemu/, 'data' for the rest of qemu/, null outside. */
function qemuRole(app, file, machO = isMachO) {
  const rel = relativeToApp(app, file);
  const prefix = QEMU_DIR.split(path.sep).join('/') + '/';
  if (!rel.startsWith(prefix)) return null;
  const inner = rel.slice(prefix.length);
  if (/^bin\/qemu-system-[^/]+$/.test(inner)) return 'system';
  return machO(file) ? 'code' : 'data';
}

function toIgnoreFn(ignore) {
  if (ignore == null) return () => false;
  const list = Array.isArray(ignore) ? ignore : [ignore];
  return (file) =>
    list.some((rule) => (typeof rule === 'function' ? rule(file) : new RegExp(rule).test(file)));
}

/**
 * The osx-sign options electron-builder built, with QEMU's per-file entitlements and data files
 * routed as described above. Pure apart from reading 4 bytes of files under Resources/qemu.
 */
function wrapSignOptions(opts, { qemuEntitlements = QEMU_ENTITLEMENTS, machO = isMachO } = {}) {
  const inner = opts.optionsForFile;
  const ignored = toIgnoreFn(opts.ignore);
  return {
    ...opts,
    ignore: (file) => ignored(file) || qemuRole(opts.app, file, machO) === 'data',
    optionsForFile: (file) => {
      const base = (inner && inner(file)) || {};
      if (qemuRole(opts.app, file, machO) === 'system') return { ...base, entitlements: qemuEntitlements };
      return base;
    },
  };
}

async function sign(opts) {
  if (!fs.existsSync(QEMU_ENTITLEMENTS)) throw new Error(`missing ${QEMU_ENTITLEMENTS}`);
  const wrapped = wrapSignOptions(opts);
  let signWithRetry;
  try {
    // electron-builder's own wrapper: @electron/osx-sign with retries (timestamp server hiccups).
    signWithRetry = require('app-builder-lib/out/codeSign/macCodeSign').sign;
  } catch {
    signWithRetry = require('@electron/osx-sign').signAsync;
  }
  await signWithRetry(wrapped);
}

module.exports = sign;
module.exports.sign = sign;
module.exports.default = sign;
module.exports.wrapSignOptions = wrapSignOptions;
module.exports.qemuRole = qemuRole;
module.exports.isMachO = isMachO;
module.exports.QEMU_ENTITLEMENTS = QEMU_ENTITLEMENTS;
