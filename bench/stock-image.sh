#!/usr/bin/env bash
# The baseline for "our trimmed image boots faster": a stock Debian guest, as a user would make it
# with `debootstrap --variant=minbase` + docker.io + openssh-server + Debian's kernel and initramfs,
# and nothing trimmed or masked. Only what is needed to reach it at all is added: DHCP on eth0
# (ifupdown, Debian's default), and an SSH key pair made here, so the benchmark can connect.
# Cached by the hash of this file in ~/.cache/berth/images/stock-x86_64-<hash>/; prints that dir.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${BERTH_IMAGE_CACHE:-$HOME/.cache/berth/images}
mirror=${BERTH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The same Debian release as the product's image (build/guest/build-image.sh), so the comparison is fair.
suite=${BERTH_DEBIAN_SUITE:-trixie}
hash=$( { sha256sum < "$here/stock-image.sh"; echo "$suite"; } | sha256sum | cut -c1-16)
out="$cache/stock-x86_64-$hash"
if [ -f "$out/manifest.json" ]; then
  echo "stock-image: cached $out" >&2
  echo "$out"
  exit 0
fi
mkdir -p "$cache"
exec 9>"$cache/.stock-x86_64.lock"
flock 9
work=$(mktemp -d "$cache/.stock-XXXXXX")
trap 'rm -rf "$work"' EXIT
t0=$(date +%s)
root="$work/root"
echo "stock-image: [1/4] mmdebstrap $suite minbase + docker.io, openssh-server, linux-image-amd64 (stock, untrimmed)" >&2
ssh-keygen -q -t ed25519 -N '' -C berth-bench -f "$work/id_ed25519"
ssh-keygen -q -t ed25519 -N '' -C stock-host -f "$work/ssh_host_ed25519_key"
mmdebstrap --variant=minbase --arch=amd64 \
  --include=systemd-sysv,udev,dbus,kmod,iproute2,ifupdown,isc-dhcp-client,openssh-server,docker.io,linux-image-amd64,initramfs-tools,ca-certificates \
  --aptopt='Acquire::Retries "3"' \
  --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
  "$suite" "$root" "deb $mirror $suite main" 2> >(grep -vE '^I: (running|installing|extracting)' >&2)
echo "stock-image: [2/4] network (DHCP on eth0), hostname, SSH key" >&2
printf 'auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet dhcp\n' > "$root/etc/network/interfaces"
echo stock > "$root/etc/hostname"
mkdir -p "$root/root/.ssh" && chmod 700 "$root/root/.ssh"
cp "$work/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
rm -f "$root"/etc/ssh/ssh_host_*
cp "$work/ssh_host_ed25519_key" "$work/ssh_host_ed25519_key.pub" "$root/etc/ssh/"
printf '/dev/vda / ext4 rw,discard 0 1\n' > "$root/etc/fstab"
stage="$work/out"
mkdir -p "$stage"
cp "$root"/boot/vmlinuz-* "$stage/vmlinuz"
cp "$root"/boot/initrd.img-* "$stage/initrd"
echo "stock-image: [3/4] ext4 root disk" >&2
size_mb=$(( $(du -sm "$root" | cut -f1) * 2 + 512 ))
mke2fs -q -t ext4 -d "$root" "$work/base.raw" "${size_mb}M"
qemu-img convert -O qcow2 "$work/base.raw" "$stage/base.qcow2"
rm -f "$work/base.raw"
echo "stock-image: [4/4] manifest" >&2
cp "$work/id_ed25519" "$work/ssh_host_ed25519_key.pub" "$stage/"
cat > "$stage/manifest.json" <<JSON
{
  "kind": "stock-baseline",
  "debian": "$suite",
  "arch": "x86_64",
  "recipeHash": "$hash",
  "buildSeconds": $(( $(date +%s) - t0 )),
  "kernel": "vmlinuz", "initrd": "initrd", "disk": "base.qcow2",
  "sizes": { "vmlinuz": $(stat -c %s "$stage/vmlinuz"), "initrd": $(stat -c %s "$stage/initrd"), "base.qcow2": $(stat -c %s "$stage/base.qcow2") }
}
JSON
mv "$stage" "$out"
echo "stock-image: built $out in $(( $(date +%s) - t0 )) s" >&2
echo "$out"
