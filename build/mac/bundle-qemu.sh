#!/usr/bin/env bash
# Bundles Homebrew's QEMU into resources/qemu/ so Berth.app needs no Homebrew on the user's Mac.
# Run on an Apple Silicon Mac with `brew install qemu` done (QEMU >= 8.2.1):
#
#   bash build/mac/bundle-qemu.sh [--prefix DIR] [--out DIR] [--identity ID] [--hardened]
#
#   --prefix    Homebrew prefix (default: `brew --prefix`, i.e. /opt/homebrew)
#   --out       output directory (default: resources/qemu in this repository)
#   --identity  codesign identity (default: $BERTH_CODESIGN_IDENTITY, else "-" = ad-hoc). A release
#               is re-signed with the Developer ID by electron-builder anyway (build/mac/sign.cjs).
#   --hardened  sign with the hardened runtime even for an ad-hoc identity (default: only with a
#               real identity: an ad-hoc signature has no Team ID, and library validation under
#               the hardened runtime would then refuse QEMU's own ad-hoc-signed dylibs)
#
# Steps: collect qemu-system-aarch64 + qemu-img and, recursively, every non-system dylib they load
# (otool -L) → copy into bin/ and lib/ → rewrite install names and load commands to
# @executable_path/../lib/<name> → copy the firmware/option ROMs into share/qemu/ and licences
# into licenses/ → strip xattrs, make everything owner-writable → sign dylibs first, then the
# binaries (qemu-system-aarch64 with build/entitlements.qemu.plist) → verify: no path into the
# prefix left, every Mach-O loads on the app's minimumSystemVersion (LC_BUILD_VERSION minos),
# signatures valid, `qemu-system-aarch64 --version` runs and lists HVF.
#
# The minimum macOS: Homebrew bottles are built per macOS version and carry it as their minos, so
# the bundle loads only on the macOS it was made on and later. Berth declares 14.0
# (mac.minimumSystemVersion in build/electron-builder.yml) and releases are bundled on macOS 14
# (GitHub's macos-14 runner); on a newer Mac the verify step fails rather than ship a QEMU that
# dies on 14. Supporting older macOS would mean building QEMU and its libraries from source with
# MACOSX_DEPLOYMENT_TARGET set, which this script does not do.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
prefix=""
out="$repo/resources/qemu"
identity=${BERTH_CODESIGN_IDENTITY:--}
hardened=0
min_version=8.2.1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --identity) identity=$2; shift 2 ;;
    --hardened) hardened=1; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "bundle-qemu: unknown option $1" >&2; exit 2 ;;
  esac
done

die() { echo "bundle-qemu: $*" >&2; exit 1; }
step() { echo "bundle-qemu: $*" >&2; }

[ "$(uname -s)" = Darwin ] || die "runs on macOS only (it needs otool, install_name_tool and codesign)"
for tool in otool install_name_tool codesign xattr node; do
  command -v "$tool" >/dev/null || die "$tool not found (install the Xcode command line tools: xcode-select --install)"
done
if [ -z "$prefix" ]; then
  command -v brew >/dev/null || die "Homebrew not found; install it or pass --prefix"
  prefix=$(brew --prefix)
fi
prefix=${prefix%/}
qemu="$prefix/bin/qemu-system-aarch64"
img="$prefix/bin/qemu-img"
[ -x "$qemu" ] || die "$qemu not found: brew install qemu"
[ -x "$img" ] || die "$img not found: brew install qemu"

# The same floor as electron/engine/qemu-binary.ts (Lima's: edk2 firmware + HVF bug before 8.2.1).
version_text=$("$qemu" --version | head -n1)
node --input-type=module -e '
  import { qemuVersionOf, versionAtLeast } from "'"$here"'/dylibs.mjs";
  const v = qemuVersionOf(process.argv[1]); const min = process.argv[2].split(".").map(Number);
  if (!v || !versionAtLeast(v, min)) { console.error(`bundle-qemu: ${process.argv[1]} is older than ${process.argv[2]}; brew upgrade qemu`); process.exit(1); }
' "$version_text" "$min_version"
step "bundling $version_text from $prefix into $out"

min_os=$(node --input-type=module -e '
  import fs from "node:fs";
  import { minimumSystemVersionOf } from "'"$here"'/dylibs.mjs";
  console.log(minimumSystemVersionOf(fs.readFileSync(process.argv[1], "utf8")));
' "$repo/build/electron-builder.yml")
this_os=$(sw_vers -productVersion 2>/dev/null || echo unknown)
if [ "${this_os%%.*}" != unknown ] && [ "${this_os%%.*}" -gt "${min_os%%.*}" ]; then
  step "warning: this Mac runs macOS $this_os, but Berth declares macOS $min_os as its minimum; Homebrew's bottles here are built for macOS ${this_os%%.*} and the verify step will refuse them. Bundle on macOS ${min_os%%.*}."
fi

# Fresh output, but keep the tracked README.md/.gitignore.
mkdir -p "$out"
rm -rf "$out/bin" "$out/lib" "$out/share" "$out/licenses" "$out/BUNDLE.json"

node "$here/bundle-qemu.mjs" apply --prefix "$prefix" --out "$out" "$qemu" "$img"

# Firmware and option ROMs. Berth boots the kernel directly (no firmware needed), but the edk2
# images let a user boot an EFI guest, and virtio-net-pci loads efi-virtio.rom by default.
# QEMU finds them at ../share/qemu relative to its executable (relocatable install).
share_src="$prefix/share/qemu"
mkdir -p "$out/share/qemu"
for f in edk2-aarch64-code.fd edk2-arm-vars.fd efi-virtio.rom; do
  if [ -e "$share_src/$f" ]; then cp -L "$share_src/$f" "$out/share/qemu/$f"
  else step "warning: $share_src/$f not found, skipped"; fi
done

# Updates (Squirrel.Mac) must be able to remove the quarantine xattr: owner-writable everywhere.
chmod -R u+w "$out"
# Finder info / resource forks make codesign fail ("resource fork, Finder information, or similar
# detritus not allowed"); com.apple.quarantine and provenance must not ship either.
xattr -cr "$out"

sign_flags=(--force --sign "$identity" --timestamp=none)
if [ "$identity" != "-" ]; then sign_flags=(--force --sign "$identity" --timestamp); fi
if [ "$identity" != "-" ] || [ $hardened = 1 ]; then sign_flags+=(--options runtime); fi

step "signing with identity '$identity' (dylibs first, then the binaries)"
for lib in "$out"/lib/*.dylib; do
  codesign "${sign_flags[@]}" --preserve-metadata=entitlements "$lib"
done
codesign "${sign_flags[@]}" --entitlements "$repo/build/entitlements.qemu.plist" "$out/bin/qemu-system-aarch64"
codesign "${sign_flags[@]}" --preserve-metadata=entitlements "$out/bin/qemu-img"

step "verifying"
node "$here/bundle-qemu.mjs" verify --prefix "$prefix" --out "$out" --min-os "$min_os"
for f in "$out"/lib/*.dylib "$out"/bin/*; do
  codesign --verify --strict "$f" || die "bad signature: $f"
done
codesign -d --entitlements - --xml "$out/bin/qemu-system-aarch64" 2>/dev/null | grep -q com.apple.security.hypervisor \
  || die "qemu-system-aarch64 lacks the com.apple.security.hypervisor entitlement"
"$out/bin/qemu-system-aarch64" --version | head -n1 >&2 || die "the bundled qemu-system-aarch64 does not run"
"$out/bin/qemu-img" --version | head -n1 >&2 || die "the bundled qemu-img does not run"
"$out/bin/qemu-system-aarch64" -accel help | grep -qx hvf || die "the bundled QEMU has no HVF accelerator"
du -sh "$out" >&2
step "done: $out (now pack with: npx electron-builder --config build/electron-builder.yml --mac --arm64)"
