#!/usr/bin/env bash
# Publishes Berth's guest images: builds both (or takes ready image directories), writes the
# release manifests the app downloads from (resources/images/<arch>.json: URL, size, sha256 per
# file) and stages the files to upload as the assets of one GitHub release.
#
#   bash build/release-images.sh [--tag TAG] [--repo OWNER/NAME] [--out DIR] [--manifests DIR]
#                                [--image-dir ARCH=DIR]... [--arch ARCH]...
#
#   --tag        release tag (default images-<UTC date>-<12 hex of both recipe hashes>)
#   --repo       the GitHub repository whose release holds the files (default $BERTH_IMAGES_REPO,
#                else $GITHUB_REPOSITORY, else berth-app/berth): the manifests point there
#   --out        staging directory for the upload (default out/release-images)
#   --manifests  where the manifests go (default resources/images, i.e. what the app ships)
#   --image-dir  use an image already built (e.g. by another CI job) instead of building it
#   --arch       only this architecture (repeatable; default x86_64 and aarch64)
#
# Building needs root and Debian's image tools (build/guest/build-image.sh; build/setup-host.sh
# installs them). The output directory then holds <arch>-vmlinuz, <arch>-initrd,
# <arch>-base.qcow2, <arch>.json and SHA256SUMS; upload them with
#   gh release create TAG --title "Guest images TAG" --notes "…"   (once)
#   gh release upload TAG DIR/* --clobber
# and commit the manifests. The last line on stdout is the tag.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo_root=$(cd "$here/.." && pwd)
builder=${BERTH_IMAGE_BUILDER:-$repo_root/build/guest/build-image.sh}
tag=""
gh_repo=${BERTH_IMAGES_REPO:-${GITHUB_REPOSITORY:-berth-app/berth}}
out="$repo_root/out/release-images"
manifests="$repo_root/resources/images"
arches=()
declare -A given=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --repo) gh_repo=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --manifests) manifests=$2; shift 2 ;;
    --image-dir)
      case "$2" in
        x86_64=*|aarch64=*) given[${2%%=*}]=${2#*=} ;;
        *) echo "release-images: --image-dir wants x86_64=DIR or aarch64=DIR, not $2" >&2; exit 2 ;;
      esac
      shift 2 ;;
    --arch)
      case "$2" in x86_64|aarch64) arches+=("$2") ;; *) echo "release-images: unknown arch $2" >&2; exit 2 ;; esac
      shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "release-images: unknown option $1" >&2; exit 2 ;;
  esac
done
[ ${#arches[@]} -gt 0 ] || arches=(x86_64 aarch64)
step() { echo "release-images: $*" >&2; }
die() { echo "release-images: $*" >&2; exit 1; }

declare -A dirs=()
for arch in "${arches[@]}"; do
  if [ -n "${given[$arch]:-}" ]; then
    dirs[$arch]=${given[$arch]}
    step "$arch: using $(cd "${dirs[$arch]}" && pwd)"
  else
    step "$arch: building the guest image (cached by recipe hash)"
    dirs[$arch]=$(bash "$builder" "$arch" --print-dir | tail -n 1)
  fi
  [ -f "${dirs[$arch]}/manifest.json" ] || die "$arch: no manifest.json in ${dirs[$arch]}"
done

recipe() { node -e 'const m = require(process.argv[1]); if (m.arch !== process.argv[2]) { console.error(`${process.argv[1]} is for ${m.arch}, not ${process.argv[2]}`); process.exit(1); } console.log(m.recipeHash)' "$1/manifest.json" "$2"; }
if [ -z "$tag" ]; then
  ids=""
  for arch in "${arches[@]}"; do ids+="$arch:$(recipe "${dirs[$arch]}" "$arch")"$'\n'; done
  tag="images-$(date -u +%Y.%m.%d)-$(printf '%s' "$ids" | sha256sum | cut -c1-12)"
else
  for arch in "${arches[@]}"; do recipe "${dirs[$arch]}" "$arch" >/dev/null; done
fi
[[ "$tag" =~ ^[A-Za-z0-9._-]+$ ]] || die "tag $tag has characters a release tag cannot have"
step "tag $tag, release of $gh_repo"

mkdir -p "$out" "$manifests"
rm -f "$out"/*-vmlinuz "$out"/*-initrd "$out"/*-base.qcow2 "$out"/*.json "$out/SHA256SUMS"
for arch in "${arches[@]}"; do
  node "$repo_root/build/release-manifest.mjs" "${dirs[$arch]}" --tag "$tag" --repo "$gh_repo" --out "$manifests/$arch.json"
  for name in $(node -e 'for (const f of require(process.argv[1]).files) console.log(f.name)' "$manifests/$arch.json"); do
    src=$(cd "${dirs[$arch]}" && pwd -P)/$name
    # a hard link when possible: the disk is hundreds of MB
    ln -f "$(readlink -f "$src")" "$out/$arch-$name" 2>/dev/null || cp -L "$src" "$out/$arch-$name"
  done
  cp "$manifests/$arch.json" "$out/$arch.json"
done
# The packaging gate's own check: what was just written can be shipped.
node -e '
  const { checkImageManifests } = require(process.argv[1]);
  checkImageManifests(process.argv[2], { env: {}, label: process.argv[2] });
' "$repo_root/build/image-manifests.cjs" "$out"
(cd "$out" && sha256sum -- *-vmlinuz *-initrd *-base.qcow2 > SHA256SUMS)
step "staged in $out: $(cd "$out" && echo *)"
step "manifests written to $manifests/"
echo "$tag"
