#!/usr/bin/env bash
# Builds an out-of-tree kernel module for the exact kernel of a cached guest image (issue 18, see
# docs/mount-events.md). The kernel was built with gcc 14 and its kbuild tools are Debian 13
# binaries, so the build runs in a Debian 13 root made from the image build's cached bootstrap, in a
# private mount namespace (nothing outside the work folder changes; no module is loaded here).
# arm64 is cross-built: arm64 headers + the amd64 kbuild tools + aarch64-linux-gnu-gcc-14.
# Usage (root, on an x86_64 Linux builder):
#   build/guest/build-kmod.sh <x86_64|aarch64> <module source folder (Kbuild + .c)> <out folder>
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: $0 <x86_64|aarch64> <module-src> <out-dir>" >&2; exit 2; }
arch=$1
src=$(realpath "$2")
out=$3
[ "$(uname -m)" = x86_64 ] || { echo "build-kmod: needs an x86_64 builder (the kbuild tools used are amd64)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "build-kmod: needs root (chroot)" >&2; exit 1; }
case $arch in
  x86_64) deb=amd64; cc=gcc-14 ;;
  aarch64) deb=arm64; cc=gcc-14-aarch64-linux-gnu ;;
  *) echo "build-kmod: unknown arch $arch" >&2; exit 2 ;;
esac
cache=${BERTH_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/berth/images}
mirror=${BERTH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=${BERTH_KMOD_WORK:-$cache/kmod-build}
mkdir -p "$work/debs" "$out"

# The newest trixie image of that arch gives the kernel; its vmlinuz names the package version.
img=
for d in $(ls -td "$cache/$arch"-*/ 2>/dev/null); do
  if grep -q '"debian": "trixie"' "$d/manifest.json" 2>/dev/null; then img=$d; break; fi
done
[ -n "$img" ] || { echo "build-kmod: no cached trixie $arch image under $cache (build one first)" >&2; exit 1; }
kver=$(sed -n 's/.*"kernelVersion": "\([^"]*\)".*/\1/p' "$img/manifest.json")
abi=${kver%-"$deb"}
pkgver=$(grep -a -o -m1 "Debian ${abi%%+*}-[0-9][0-9a-z.+~]*" "$img/vmlinuz" | head -1 | cut -d' ' -f2)
[ -n "$pkgver" ] || { echo "build-kmod: cannot read the kernel package version from $img/vmlinuz" >&2; exit 1; }
echo "build-kmod: $kver (package $pkgver) for $arch" >&2

debs=("linux-headers-${abi}-${deb}_${pkgver}_${deb}.deb" "linux-headers-${abi}-common_${pkgver}_all.deb" "linux-kbuild-${abi}_${pkgver}_amd64.deb")
for f in "${debs[@]}"; do
  [ -s "$work/debs/$f" ] && continue
  curl -fsSL -o "$work/debs/$f.part" "$mirror/pool/main/l/linux/$f" || { echo "build-kmod: could not fetch $mirror/pool/main/l/linux/$f" >&2; exit 1; }
  mv -f "$work/debs/$f.part" "$work/debs/$f"
done

root=$work/root
if [ ! -x "$root/usr/bin/$([ "$deb" = amd64 ] && echo gcc-14 || echo aarch64-linux-gnu-gcc-14)" ]; then
  boot=
  for t in "$cache"/bootstrap-x86_64-*.tar.zst; do
    case $(tar --zstd -xOf "$t" ./etc/debian_version 2>/dev/null) in 13.*) boot=$t; break ;; esac
  done
  [ -n "$boot" ] || { echo "build-kmod: no cached Debian 13 x86_64 bootstrap under $cache" >&2; exit 1; }
  [ -d "$root/usr" ] || { mkdir -p "$root" && tar --zstd -xf "$boot" -C "$root"; }
  cp /etc/resolv.conf "$root/etc/resolv.conf"
fi

hdr=$work/hdr-$deb mod=$work/mod-$deb
rm -rf "$hdr" "$mod" && mkdir -p "$hdr" "$mod"
for f in "${debs[@]}"; do dpkg-deb -x "$work/debs/$f" "$hdr"; done
# The headers include the common tree by absolute path; inside the root it is under /build.
sed -i "s#/usr/src/#/build/hdr-$deb/usr/src/#" "$hdr/usr/src/linux-headers-$kver/Makefile"
cp -a "$src"/. "$mod"/

mkdir -p "$root/build"
unshare -m sh -ec '
  r=$1 w=$2
  mount --rbind /dev "$r/dev"; mount -t proc proc "$r/proc"; mount --bind "$w" "$r/build"
  shift 2; exec chroot "$r" sh -ec "$@"' sh "$root" "$work" "
  command -v make >/dev/null && command -v pahole >/dev/null && dpkg -s $cc >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $cc make libc6-dev libelf1t64 binutils dwarves kmod >/dev/null
  }
  make -s -C /build/hdr-$deb/usr/src/linux-headers-$kver M=/build/mod-$deb modules
  for k in /build/mod-$deb/*.ko; do modinfo -F vermagic \$k | sed \"s#^#\$(basename \$k): #\"; done"
cp "$mod"/*.ko "$out"/
