#!/usr/bin/env bash
# Builds Berth's guest image offline from Debian packages:
#   vmlinuz (direct kernel boot), initrd (tiny, busybox), base.qcow2 (ext4 root), manifest.json
# Usage: build/guest/build-image.sh x86_64|aarch64 [--cache DIR] [--print-dir]
# The output lands in $CACHE/<arch>-<recipe hash>/ and is reused while the recipe (this script,
# the package lists, the CLI-plugin pins, resources/guest/, the suite and the host arch) is
# unchanged, so a second run is instant.
# BERTH_DEBIAN_SUITE picks the Debian release: trixie (Debian 13, the default) or bookworm (Debian 12).
set -euo pipefail

# Everything runs inside main(), which bash parses whole before running: editing this file while
# a build runs cannot corrupt that build.
main() {

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
arch=${1:-}
shift || true
cache=${BERTH_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/berth/images}
print_dir=0
while [ $# -gt 0 ]; do
  case "$1" in
    --cache) cache=$2; shift 2 ;;
    --print-dir) print_dir=1; shift ;;
    *) echo "build-image: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$arch" in
  x86_64) debarch=amd64; foreign=aarch64; kpkg=linux-image-amd64 ;;
  aarch64) debarch=arm64; foreign=x86_64; kpkg=linux-image-arm64 ;;
  *) echo "usage: build-image.sh x86_64|aarch64 [--cache DIR] [--print-dir]" >&2; exit 2 ;;
esac
suite=${BERTH_DEBIAN_SUITE:-trixie}
mirror=${BERTH_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# The suite's own additions to packages.txt (e.g. trixie split the docker client out of docker.io).
suite_pkgs="$here/packages-$suite.txt"
[ -f "$suite_pkgs" ] || suite_pkgs=/dev/null
host_debarch=$(dpkg --print-architecture)
recipe_hash() {
  {
    echo "arch=$arch suite=$suite host=$host_debarch"
    sha256sum "$here/build-image.sh" "$here/build-agent.sh" "$here/packages.txt" "$suite_pkgs" "$here/cli-plugins.txt" | awk '{print $1}'
    (cd "$repo/resources/guest" && find . -type f | LC_ALL=C sort | while read -r f; do
      printf '%s %s %s\n' "$f" "$(stat -c %a "$f")" "$(sha256sum < "$f" | awk '{print $1}')"
    done)
  } | sha256sum | cut -c1-16
}
hash=$(recipe_hash)
out="$cache/$arch-$hash"
mkdir -p "$cache"
# One build per arch at a time (the app, the CLI and the tests may all ask for the image at once).
exec 9>"$cache/.lock-$arch"
if ! flock -n 9; then
  echo "build-image: waiting for another build of $arch" >&2
  flock 9
fi
if [ -f "$out/manifest.json" ]; then
  [ $print_dir = 1 ] && echo "$out" || echo "build-image: cached $out"
  exit 0
fi

step() { echo "build-image [$1/7] $2 ($(( $(date +%s) - t0 ))s)" >&2; }
t0=$(date +%s)
mkdir -p "$cache"
work=$(mktemp -d "$cache/.build-$arch.XXXXXX")
root="$work/root"
binfmt_undo=()
cleanup() {
  # An interrupted mmdebstrap can leave /proc, /sys or /dev mounted in the chroot: unmount them
  # first and never let rm cross into another filesystem.
  awk -v w="$work/" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do umount -l "$m" || true; done
  for c in "${binfmt_undo[@]}"; do eval "$c" || true; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

host_arch=$(uname -m)
if [ "$host_arch" != "$arch" ]; then
  # A foreign root needs the host's binfmt_misc + qemu-user-static for its maintainer scripts.
  bm=/proc/sys/fs/binfmt_misc
  if [ ! -e "$bm/register" ]; then
    mount -t binfmt_misc binfmt_misc "$bm"
    binfmt_undo+=("umount $bm")
  fi
  if [ ! -e "$bm/qemu-$arch" ]; then
    conf=/usr/lib/binfmt.d/qemu-$arch.conf
    [ -f "$conf" ] || { echo "build-image: $conf missing: apt-get install qemu-user-static" >&2; exit 1; }
    grep '^:' "$conf" > "$bm/register"
    binfmt_undo=("echo -1 > $bm/qemu-$arch" "${binfmt_undo[@]}")
  fi
fi

# Stage 1, the slow part (minutes under qemu-user for a foreign arch), is cached on its own, keyed
# by the package list and this stage's version, so editing the guest's boot files rebuilds in seconds.
BOOTSTRAP_VERSION=2
bhash=$( { echo "v$BOOTSTRAP_VERSION $arch $suite $mirror"; grep -hv '^\s*#' "$here/packages.txt" "$suite_pkgs"; } | sha256sum | cut -c1-16)
btar="$cache/bootstrap-$arch-$bhash.tar.zst"
bootstrap() {
  pkgs=$(grep -hv '^\s*#' "$here/packages.txt" "$suite_pkgs" | grep -v '^\s*$' | tr '\n' ',')"$kpkg"
  step 1 "bootstrapping Debian $suite/$debarch with $(echo "$pkgs" | tr ',' '\n' | wc -l) packages"
  # Trim at unpack time: no docs/man/locales, and of qemu-user-static only the one foreign emulator.
  # update-initramfs is diverted to /bin/true: Debian's 36 MB initrd is never used (we build a
  # 1.7 MB one), and making it under qemu-user took over 20 minutes for arm64.
  mmdebstrap --variant=minbase --arch="$debarch" --include="$pkgs" \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/bin/qemu-*' \
    --dpkgopt="path-include=/usr/bin/qemu-$foreign-static" \
    --dpkgopt="path-include=/usr/bin/qemu-$foreign" \
    --dpkgopt='path-exclude=/usr/lib/binfmt.d/qemu-*' \
    --dpkgopt="path-include=/usr/lib/binfmt.d/qemu-$foreign.conf" \
    --dpkgopt='path-exclude=/usr/share/qemu/binfmt.d/*' \
    --dpkgopt="path-include=/usr/share/qemu/binfmt.d/qemu-$foreign.conf" \
    --dpkgopt='path-exclude=/usr/libexec/qemu-binfmt/*' \
    --dpkgopt="path-include=/usr/libexec/qemu-binfmt/$foreign-binfmt-P" \
    --aptopt='Acquire::Retries "3"' \
    --essential-hook='chroot "$1" dpkg-divert --quiet --local --rename --divert /usr/sbin/update-initramfs.distrib --add /usr/sbin/update-initramfs && ln -sf /bin/true "$1/usr/sbin/update-initramfs"' \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
    "$suite" "$root" "deb $mirror $suite main" 2> >(grep -vE '^I: (running|installing|extracting)' >&2)
  # A foreign-architecture static busybox: the emulation self-test runs it right after the toggle,
  # and tests build their foreign-arch image from it (fetched from the same mirror, no host changes).
  case "$foreign" in aarch64) fdeb=arm64 ;; x86_64) fdeb=amd64 ;; esac
  fa="$work/foreign-apt"
  mkdir -p "$fa/lists/partial" "$fa/cache/archives/partial" "$fa/deb"
  echo "deb [arch=$fdeb] $mirror $suite main" > "$fa/sources.list"
  aptf=(-o "Dir::Etc::SourceList=$fa/sources.list" -o Dir::Etc::SourceParts=- -o "Dir::State::Lists=$fa/lists"
    -o "Dir::Cache=$fa/cache" -o "APT::Architecture=$fdeb" -o "APT::Architectures::=$fdeb" -o Debug::NoLocking=1 -q)
  apt-get "${aptf[@]}" update >/dev/null
  (cd "$fa/deb" && apt-get "${aptf[@]}" download "busybox-static:$fdeb" >/dev/null)
  dpkg-deb -x "$fa"/deb/busybox-static_*.deb "$fa/x"
  mkdir -p "$root/usr/share/berth/selftest"
  # bookworm ships /bin/busybox, trixie (merged /usr) /usr/bin/busybox
  cp "$(ls "$fa"/x/bin/busybox "$fa"/x/usr/bin/busybox 2>/dev/null | head -n1)" "$root/usr/share/berth/selftest/busybox-$foreign"
}
mkdir -p "$root"
if [ -f "$btar" ]; then
  step 1 "reusing the bootstrapped root $(basename "$btar")"
  zstd -dc -q "$btar" | tar --numeric-owner --xattrs -x -C "$root"
else
  bootstrap
  tar --numeric-owner --xattrs -C "$root" -c . | zstd -q -T0 -3 > "$btar.tmp" && mv "$btar.tmp" "$btar"
fi

step 2 "configuring the guest"
kver=$(ls "$root/lib/modules" | sort -V | tail -n1)
pkgver() { dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Version}' "$1" 2>/dev/null || true; }
docker_ver=$(pkgver docker.io)
containerd_ver=$(pkgver containerd)
cp -a "$repo/resources/guest/rootfs/." "$root/"
# The channel agent, compiled from resources/guest/agent (static; a cross gcc for a foreign arch).
"$here/build-agent.sh" "$arch" "$root/usr/local/sbin"
mkdir -p "$root/usr/share/berth/binfmt"
if [ -e "$root/usr/lib/binfmt.d/qemu-$foreign.conf" ]; then
  # Emulation is opt-in: systemd-binfmt must not register it at boot; berth-emulation does.
  # On trixie the entry is a relative symlink into /usr/share/qemu/binfmt.d: copy what it points at.
  conf=$(readlink "$root/usr/lib/binfmt.d/qemu-$foreign.conf" || true)
  case "$conf" in
    "") src="$root/usr/lib/binfmt.d/qemu-$foreign.conf" ;;
    /*) src="$root$conf" ;;
    *) src="$root/usr/lib/binfmt.d/$conf" ;;
  esac
  cp "$src" "$root/usr/share/berth/binfmt/qemu-$foreign.conf"
  rm -f "$root/usr/lib/binfmt.d/qemu-$foreign.conf" "$root/usr/share/qemu/binfmt.d/qemu-$foreign.conf"
fi
systemctl --root="$root" enable berth-boot.service berth-guestd.service docker.service ssh.service >/dev/null 2>&1
# Masked: what a VM with no display, no EFI, no apt runs and no first-boot work needs (the build ran
# ldconfig already; under TCG each of these cost 1-3 s of a fresh disk's boot).
systemctl --root="$root" mask \
  apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service \
  e2scrub_all.timer e2scrub_reap.service fstrim.timer dpkg-db-backup.timer \
  getty@tty1.service systemd-binfmt.service ssh-keygen.service \
  systemd-networkd-wait-online.service systemd-timesyncd.service \
  systemd-journal-flush.service sys-kernel-debug.mount sys-kernel-tracing.mount \
  modprobe@drm.service modprobe@efi_pstore.service ldconfig.service systemd-update-done.service \
  systemd-journal-catalog-update.service \
  >/dev/null 2>&1
systemctl --root="$root" set-default multi-user.target >/dev/null 2>&1
rm -f "$root"/etc/ssh/ssh_host_*
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
echo "/dev/vda / ext4 defaults,discard,errors=remount-ro 0 1" > "$root/etc/fstab"
# root's home moves off /root: a Linux host's root user shares its home /root by default, and the
# guest's root must not pick up the host's dotfiles (.bashrc output, .docker contexts).
mkdir -p "$root/var/lib/berth/root"
chmod 700 "$root/var/lib/berth/root"
sed -i 's#^root:\([^:]*\):0:0:\([^:]*\):/root:#root:\1:0:0:\2:/var/lib/berth/root:#' "$root/etc/passwd"
echo berth > "$root/etc/hostname"
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=32M\n' > "$root/etc/systemd/journald.conf.d/berth.conf"
echo "$hash" > "$root/etc/berth-image"

step 3 "trimming"
rm -rf "$root"/usr/share/doc/* "$root"/var/log/*.log "$root"/var/cache/debconf/*-old \
  "$root"/boot/initrd.img* "$root"/lib/firmware
mdir="$root/lib/modules/$kver/kernel"
rm -rf "$mdir"/drivers/{gpu,media,infiniband,staging,usb,bluetooth,sound,hid,iio,isdn,mmc,mtd} \
  "$mdir"/drivers/net/{wireless,ethernet,can,usb,wwan,ieee802154} "$mdir"/sound \
  "$mdir"/net/{bluetooth,wireless,mac80211} 2>/dev/null || true
depmod -b "$root" "$kver"

step 4 "building the initrd"
ird="$work/initrd"
mkdir -p "$ird"/{bin,dev,proc,sys,newroot,lib/modules}
cp "$root/bin/busybox" "$ird/bin/busybox"
cp "$repo/resources/guest/initrd/init" "$ird/init"
chmod 755 "$ird/init"
# Resolve the modules the root disk needs, in dependency order, from the kernel's own modules.dep.
declare -A seen=()
order=()
add_mod() {
  local rel=$1 dep
  [ -n "${seen[$rel]:-}" ] && return
  seen[$rel]=1
  for dep in $(awk -F': ' -v m="$rel" '$1==m {print $2}' "$root/lib/modules/$kver/modules.dep"); do add_mod "$dep"; done
  order+=("$rel")
}
# A module missing here is built into the kernel (modules.builtin): nothing to load.
for m in virtio_pci virtio_mmio virtio_blk ext4 crc32c_generic; do
  rel=$(awk -F: -v m="/$m.ko" '{f=$1; sub(/\.(xz|zst|gz)$/, "", f)} index(f, m) && substr(f, length(f)-length(m)+1)==m {print $1; exit}' \
    "$root/lib/modules/$kver/modules.dep")
  [ -n "$rel" ] && add_mod "$rel"
done
# trixie's kernel ships modules xz-compressed; busybox insmod wants them plain.
for rel in "${order[@]}"; do
  plain=${rel%.xz}; plain=${plain%.zst}; plain=${plain%.gz}
  mkdir -p "$ird/lib/modules/$(dirname "$rel")"
  case "$rel" in
    *.xz) xz -dc "$root/lib/modules/$kver/$rel" > "$ird/lib/modules/$plain" ;;
    *.zst) zstd -dcq "$root/lib/modules/$kver/$rel" > "$ird/lib/modules/$plain" ;;
    *.gz) gzip -dc "$root/lib/modules/$kver/$rel" > "$ird/lib/modules/$plain" ;;
    *) cp "$root/lib/modules/$kver/$rel" "$ird/lib/modules/$plain" ;;
  esac
  echo "$plain" >> "$ird/modules.order"
done
touch "$ird/modules.order"

stage="$work/out"
mkdir -p "$stage"
(cd "$ird" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -9) > "$stage/initrd"
cp "$root/boot/vmlinuz-$kver" "$stage/vmlinuz"
rm -f "$root"/boot/vmlinuz* "$root"/boot/System.map* "$root"/boot/config*

# The host's docker CLI gets compose and buildx from here (the engine copies them under
# BERTH_HOME and announces them in the Docker config): Debian's builds for the *host* arch, pinned
# by version and .deb sha256 in cli-plugins.txt, kept in $cache/debs between builds.
mkdir -p "$stage/cli-plugins" "$cache/debs"
plugins_json=""
while read -r pname pver parch psha psuite; do
  case "$pname" in ''|'#'*) continue ;; esac
  [ "$parch" = "$host_debarch" ] || continue
  deb="$cache/debs/${pname}_${pver}_${parch}.deb"
  if [ ! -f "$deb" ] || [ "$(sha256sum < "$deb" | awk '{print $1}')" != "$psha" ]; then
    pa="$work/plugin-apt"
    if [ ! -d "$pa/lists" ]; then
      mkdir -p "$pa/lists/partial" "$pa/cache/archives/partial" "$pa/deb"
      echo "deb [arch=$parch] $mirror $psuite main" > "$pa/sources.list"
      papt=(-o "Dir::Etc::SourceList=$pa/sources.list" -o Dir::Etc::SourceParts=- -o "Dir::State::Lists=$pa/lists"
        -o "Dir::Cache=$pa/cache" -o "APT::Architecture=$parch" -o "APT::Architectures::=$parch" -o Debug::NoLocking=1 -q)
      apt-get "${papt[@]}" update >/dev/null
    fi
    (cd "$pa/deb" && apt-get "${papt[@]}" download "$pname:$parch=$pver" >/dev/null 2>&1) || {
      echo "build-image: cannot download $pname $pver ($parch) from $psuite: update build/guest/cli-plugins.txt" >&2; exit 1; }
    got=$(ls "$pa"/deb/"${pname}"_*_"$parch".deb | head -n1)
    if [ "$(sha256sum < "$got" | awk '{print $1}')" != "$psha" ]; then
      echo "build-image: $pname $pver: sha256 of the .deb is not the pinned $psha" >&2; exit 1
    fi
    mv "$got" "$deb"
  fi
  px="$work/plugin-x/$pname"
  mkdir -p "$px"
  dpkg-deb -x "$deb" "$px"
  cp "$px/usr/libexec/docker/cli-plugins/$pname" "$stage/cli-plugins/$pname"
  chmod 755 "$stage/cli-plugins/$pname"
  plugins_json="$plugins_json${plugins_json:+,}
    $(printf '{"name":"%s","package":"%s","version":"%s","size":%s,"sha256":"%s"}' "$pname" "$pname" "${pver%%[+-]*}" \
      "$(stat -c %s "$stage/cli-plugins/$pname")" "$(sha256sum "$stage/cli-plugins/$pname" | awk '{print $1}')")"
done < "$here/cli-plugins.txt"

step 5 "making the ext4 root disk"
size_mb=$(( $(du -sm "$root" | cut -f1) * 2 + 512 ))
mke2fs -q -t ext4 -L berth-root -d "$root" "$work/base.raw" "${size_mb}M"
step 6 "converting to qcow2"
qemu-img convert -O qcow2 "$work/base.raw" "$stage/base.qcow2"
rm -f "$work/base.raw"

step 7 "writing the manifest"
secs=$(( $(date +%s) - t0 ))
file_json() {
  printf '{"name":"%s","size":%s,"sha256":"%s"}' "$1" "$(stat -c %s "$stage/$1")" \
    "$(sha256sum "$stage/$1" | awk '{print $1}')"
}
cat > "$stage/manifest.json" <<EOF
{
  "schema": 1,
  "arch": "$arch",
  "recipeHash": "$hash",
  "debian": "$suite",
  "kernelVersion": "$kver",
  "dockerVersion": "${docker_ver%%[+~-]*}",
  "containerdVersion": "${containerd_ver%%[+~-]*}",
  "cliPlugins": [$plugins_json
  ],
  "rootSizeMB": $(du -sm "$root" | cut -f1),
  "buildSeconds": $secs,
  "createdAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "kernel": $(file_json vmlinuz),
  "initrd": $(file_json initrd),
  "disk": $(file_json base.qcow2)
}
EOF
rm -rf "$out"
mv "$stage" "$out"
echo "build-image: built $out in ${secs}s (root $(du -sm "$root" | cut -f1) MB, disk $(du -m "$out/base.qcow2" | cut -f1) MB)" >&2
[ $print_dir = 1 ] && echo "$out"
exit 0
}
main "$@"
