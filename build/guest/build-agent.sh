#!/usr/bin/env bash
# Builds the guest's channel agent (resources/guest/agent, docs/guest-channel.md) as static
# binaries: <outdir>/berth-guestd from every *.c there but portwatch-main.c, and
# <outdir>/berth-portwatch from portwatch-main.c + listeners.c when that file exists.
# Usage: build/guest/build-agent.sh x86_64|aarch64 <outdir>
# The host's own gcc builds for the host's arch; the other arch needs Debian's cross compiler
# (gcc-aarch64-linux-gnu libc6-dev-arm64-cross, or gcc-x86-64-linux-gnu libc6-dev-amd64-cross;
# build/setup-host.sh installs the first).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../../resources/guest/agent"
arch=${1:-}
out=${2:-}
case "$arch" in x86_64|aarch64) ;; *) echo "usage: build-agent.sh x86_64|aarch64 <outdir>" >&2; exit 2 ;; esac
[ -n "$out" ] || { echo "usage: build-agent.sh x86_64|aarch64 <outdir>" >&2; exit 2; }
if [ "$arch" = "$(uname -m)" ]; then cc=${CC:-gcc}; else cc=$arch-linux-gnu-gcc; fi
command -v "$cc" >/dev/null || {
  echo "build-agent: $cc not found: apt-get install gcc-${arch/_/-}-linux-gnu (see build/setup-host.sh)" >&2; exit 1; }
flags=(-std=c11 -Os -static -s -Wall -Wextra -Werror -ffunction-sections -fdata-sections -Wl,--gc-sections)
mkdir -p "$out"
agent=()
for f in "$src"/*.c; do [ "$(basename "$f")" = portwatch-main.c ] || agent+=("$f"); done
"$cc" "${flags[@]}" -o "$out/.berth-guestd.tmp" "${agent[@]}"
mv "$out/.berth-guestd.tmp" "$out/berth-guestd"
if [ -f "$src/portwatch-main.c" ]; then
  "$cc" "${flags[@]}" -o "$out/.berth-portwatch.tmp" "$src/portwatch-main.c" "$src/listeners.c"
  mv "$out/.berth-portwatch.tmp" "$out/berth-portwatch"
fi
