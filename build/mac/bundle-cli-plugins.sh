#!/usr/bin/env bash
# Fills resources/cli-plugins/ for a Mac release: Docker's own darwin/arm64 builds of the compose and
# buildx CLI plugins, checked against the sha256 pinned below, listed in plugins.json. The app
# copies them to ~/.berth/_cli-plugins and names that folder in cliPluginsExtraDirs of the user's
# Docker config, only for the plugins the user does not already have.
# Usage: bash build/mac/bundle-cli-plugins.sh     (needs the network: github.com release downloads)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../../resources/cli-plugins"

# name version url sha256 — bump together; the sha256 is the one published next to each release
# asset (<asset>.sha256 for compose, checksums.txt for buildx).
PINS=(
  "docker-compose 2.40.2 https://github.com/docker/compose/releases/download/v2.40.2/docker-compose-darwin-aarch64 cc3a8774fdadf65b53a12ef54b3e0e63f2267e1e843ebfa46c4976fc4f80b46b"
  "docker-buildx 0.17.1 https://github.com/docker/buildx/releases/download/v0.17.1/buildx-v0.17.1.darwin-arm64 6f01a55c66edb9bc6f03c035c17f640b0edd672f2fcf0e7389440cc51c403517"
)

sha256() { if command -v sha256sum >/dev/null; then sha256sum "$1" | awk '{print $1}'; else shasum -a 256 "$1" | awk '{print $1}'; fi; }

mkdir -p "$out"
entries=()
for pin in "${PINS[@]}"; do
  read -r name version url want <<<"$pin"
  dst="$out/$name"
  if [ ! -f "$dst" ] || [ "$(sha256 "$dst")" != "$want" ]; then
    echo "bundle-cli-plugins: fetching $name $version" >&2
    curl -fsSL --retry 3 -o "$dst.part" "$url"
    got=$(sha256 "$dst.part")
    if [ "$got" != "$want" ]; then
      rm -f "$dst.part"
      echo "bundle-cli-plugins: $name $version: sha256 $got is not the pinned $want" >&2
      exit 1
    fi
    mv "$dst.part" "$dst"
  fi
  chmod 755 "$dst"
  size=$(wc -c < "$dst" | tr -d ' ')
  entries+=("    {\"name\": \"$name\", \"version\": \"$version\", \"size\": $size, \"sha256\": \"$want\"}")
done
{
  echo '{'
  echo '  "platform": "darwin/arm64",'
  echo '  "plugins": ['
  (IFS=$'\n'; echo "${entries[*]}" | sed '$!s/$/,/')
  echo '  ]'
  echo '}'
} > "$out/plugins.json"
echo "bundle-cli-plugins: $out ready" >&2
