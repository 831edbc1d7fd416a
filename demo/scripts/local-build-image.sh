#!/usr/bin/env bash
# Makes the image demo/Dockerfile's build stage runs in (default tag node:20-bookworm, which in a
# registry is the official image with python3, make and g++) without a container registry: the
# local base image (local-base-image.sh) plus the host's C/C++ toolchain, python3 and node's
# headers, taken file by file from the Debian packages that provide them. The build stage compiles
# better-sqlite3 from source with it (node-gyp); nothing is downloaded.
#
# Idempotent: does nothing when the tag exists and was made by this script from the same node
# version; never replaces an image of that tag that it did not make.
#
# Usage: demo/scripts/local-build-image.sh [tag] [base-tag]     (env FORCE=1 rebuilds)
set -euo pipefail

TAG="${1:-node:20-bookworm}"
BASE="${2:-node:20-bookworm-slim}"
LABEL=org.zerodrop.local-build-node
NODE_VERSION="$(node -v)"

if docker image inspect "$TAG" >/dev/null 2>&1; then
  existing="$(docker image inspect "$TAG" --format "{{ index .Config.Labels \"$LABEL\" }}" 2>/dev/null || true)"
  if [[ -z "$existing" || "$existing" == "<no value>" ]]; then
    echo "local-build-image: $TAG exists and was not made by this script (a pulled image?): keeping it"
    exit 0
  fi
  if [[ "$existing" == "$NODE_VERSION" && "${FORCE:-0}" != 1 ]]; then
    echo "local-build-image: $TAG is up to date (node $NODE_VERSION)"
    exit 0
  fi
fi
bash "$(dirname "$0")/local-base-image.sh" "$BASE"

headers="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")/include/node"
[[ -f "$headers/common.gypi" ]] || { echo "local-build-image: expected node's headers at $headers (common.gypi), found none" >&2; exit 1; }
# Debian's own programs (not a pyenv or nvm shim earlier on PATH): their packages are what is copied
for tool in make g++ python3 as ld; do
  [[ -x "/usr/bin/$tool" ]] || { echo "local-build-image: expected /usr/bin/$tool, found none (apt-get install build-essential python3)" >&2; exit 1; }
done

# every file of the packages that provide the compiler, the linker, make, python3, the shell tools
# make runs (coreutils, sed, grep) and the headers
# and libraries they need (dpkg's dependency closure, installed packages only)
pkgs=()
for tool in make g++ python3 as ld; do
  # the package of the name (often a symlink, e.g. g++ -> g++-12) and of the program it points to
  pkgs+=("$(dpkg -S "/usr/bin/$tool" | head -n 1 | cut -d: -f1)" "$(dpkg -S "$(readlink -f "/usr/bin/$tool")" | head -n 1 | cut -d: -f1)")
done
closure="$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "${pkgs[@]}" coreutils sed grep findutils "lib$(basename "$(readlink -f /usr/bin/python3)")-stdlib" libstdc++-12-dev libc6-dev 2>/dev/null |
  grep -v '^ ' | grep -v '^<' | sort -u)"

tmp="$(mktemp -d /tmp/zerodrop-buildimg.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
for p in $closure; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || continue
  dpkg -L "$p" 2>/dev/null
done | sort -u | while read -r f; do
  # files and file symlinks; a directory symlink (usrmerge's /lib -> usr/lib) would clash with the base's
  if [[ -L "$f" && -d "$f" ]]; then continue; fi
  if [[ -f "$f" || -L "$f" ]]; then
    case "$f" in /usr/share/doc/*|/usr/share/man/*|/usr/share/info/*|/usr/share/locale/*|/etc/*) continue ;; esac
    printf '%s\0' "${f#/}"
  fi
done >"$tmp/files"
mkdir -p "$tmp/ctx"
tar -C / --null -T "$tmp/files" --hard-dereference -cf "$tmp/ctx/toolchain.tar" 2>/dev/null || true
mkdir -p "$tmp/h/usr/local/include"
cp -a "$headers" "$tmp/h/usr/local/include/node"
tar -C "$tmp/h" -rf "$tmp/ctx/toolchain.tar" usr
cat >"$tmp/ctx/Dockerfile" <<DOCKERFILE
FROM $BASE
ADD toolchain.tar /
# cc and c++ are update-alternatives links, which no package lists
RUN ln -sf gcc /usr/bin/cc && ln -sf g++ /usr/bin/c++ && cc --version >/dev/null && c++ --version >/dev/null && python3 --version >/dev/null && make --version >/dev/null
LABEL $LABEL=$NODE_VERSION
DOCKERFILE
echo "local-build-image: building $TAG from $BASE plus the host toolchain ($(du -h "$tmp/ctx/toolchain.tar" | cut -f1))"
DOCKER_BUILDKIT=0 docker build -q -t "$TAG" "$tmp/ctx" >/dev/null
docker image inspect "$TAG" --format 'local-build-image: {{.RepoTags}} {{.Size}} bytes'
