#!/usr/bin/env bash
# Installs the Debian packages Berth needs on a Linux host (QEMU, the image builder's tools, the
# docker CLI if none is on PATH, Chromium for the UI tests, a registry, openssl and a C compiler for
# the networking suites). Idempotent; does nothing when all
# are present. Needs root (or sudo) and Debian's apt.
set -euo pipefail
pkgs=(qemu-system-x86 qemu-system-arm qemu-utils qemu-user-static mmdebstrap arch-test binfmt-support
      e2fsprogs zstd cpio kmod busybox-static openssh-client chromium iproute2 procps util-linux
      docker-registry openssl gcc libc6-dev)
# The guest agent (build/guest/build-agent.sh) for the other arch: Debian packages aarch64's cross gcc
# on every arch it runs on; an arm64 host building an x86_64 image needs gcc-x86-64-linux-gnu instead.
case "$(uname -m)" in
  aarch64) pkgs+=(gcc-x86-64-linux-gnu libc6-dev-amd64-cross) ;;
  *) pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross) ;;
esac
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
echo "setup-host: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
# Debian's docker.io may start a daemon; Berth only needs the client on the host.
$sudo systemctl disable --now docker.service docker.socket >/dev/null 2>&1 || true
# The proxy/CA suite runs its own registry on 127.0.0.1; the package's would listen on every interface.
$sudo systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
