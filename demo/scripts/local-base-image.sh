#!/usr/bin/env bash
# Makes the base image demo/Dockerfile builds FROM (default node:20-bookworm-slim) without a
# container registry, for machines that cannot pull: the host's own `node` binary, the shared
# libraries `ldd` lists for it, /bin/sh and /usr/bin/env, npm with small npm/npx wrappers (so the
# Dockerfile's `npm ci` stage works), the host's CA certificates and a non-root user `node`
# (uid 1000, as in the official image) go into a root filesystem tarball that is `docker import`ed
# under that tag. The Dockerfile stays the one a user builds against the real image.
#
# Idempotent: does nothing when the tag exists and was made by this script from the same node
# version; never replaces an image of that tag that it did not make (e.g. the real, pulled one).
#
# Usage: demo/scripts/local-base-image.sh [tag]     (env FORCE=1 rebuilds)
set -euo pipefail

TAG="${1:-node:20-bookworm-slim}"
LABEL=org.zerodrop.local-base-node
NODE_BIN="$(readlink -f "$(command -v node)")"
NODE_VERSION="$("$NODE_BIN" -v)"

existing="$(docker image inspect "$TAG" --format "{{ index .Config.Labels \"$LABEL\" }}" 2>/dev/null || true)"
if docker image inspect "$TAG" >/dev/null 2>&1; then
  if [[ -z "$existing" || "$existing" == "<no value>" ]]; then
    echo "local-base-image: $TAG exists and was not made by this script (a pulled image?): keeping it"
    exit 0
  fi
  if [[ "$existing" == "$NODE_VERSION" && "${FORCE:-0}" != 1 ]]; then
    echo "local-base-image: $TAG is up to date (node $NODE_VERSION)"
    exit 0
  fi
fi

NPM_DIR="$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)"
[[ -f "$NPM_DIR/package.json" ]] || { echo "local-base-image: npm not found next to $(command -v npm)" >&2; exit 1; }
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
[[ -f "$CA_BUNDLE" ]] || { echo "local-base-image: expected CA bundle at $CA_BUNDLE, found none" >&2; exit 1; }

ROOT="$(mktemp -d /tmp/zerodrop-rootfs.XXXXXX)"
trap 'rm -rf "$ROOT"' EXIT

copy_with_libs() { # copy a binary and every library ldd resolves for it, keeping paths
  local bin="$1" dest="$2"
  install -D -m 0755 "$bin" "$ROOT$dest"
  ldd "$bin" | awk '/=>/ { if ($3 ~ /^\//) print $3; next } /^[[:space:]]*\// { print $1 }' | while read -r lib; do
    [[ -e "$ROOT$lib" ]] && continue
    install -D -m 0755 "$(readlink -f "$lib")" "$ROOT$lib"
  done
}

mkdir -p "$ROOT"/{bin,usr/bin,usr/local/bin,usr/local/lib,usr/local/etc,etc/ssl/certs,tmp,var/tmp,root,home/node,app}
chmod 1777 "$ROOT/tmp" "$ROOT/var/tmp"
chmod 0700 "$ROOT/root"

copy_with_libs "$NODE_BIN" /usr/local/bin/node
copy_with_libs "$(readlink -f /bin/sh)" /bin/sh
copy_with_libs "$(readlink -f /usr/bin/env)" /usr/bin/env
# glibc >= 2.34 has the files/dns NSS modules built in; no libnss_* needed.

cp -a "$NPM_DIR" "$ROOT/usr/local/lib/node_modules-npm.tmp"
mkdir -p "$ROOT/usr/local/lib/node_modules"
mv "$ROOT/usr/local/lib/node_modules-npm.tmp" "$ROOT/usr/local/lib/node_modules/npm"
for tool in npm npx; do
  printf '#!/bin/sh\nexec /usr/local/bin/node /usr/local/lib/node_modules/npm/bin/%s-cli.js "$@"\n' "$tool" >"$ROOT/usr/local/bin/$tool"
  chmod 0755 "$ROOT/usr/local/bin/$tool"
done
# npm's global config for prefix /usr/local: trust the same CAs as the host.
printf 'cafile=/etc/ssl/certs/ca-certificates.crt\nupdate-notifier=false\nfund=false\naudit=false\n' >"$ROOT/usr/local/etc/npmrc"
cp "$CA_BUNDLE" "$ROOT/etc/ssl/certs/ca-certificates.crt"

cat >"$ROOT/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
node:x:1000:1000::/home/node:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
PASSWD
cat >"$ROOT/etc/group" <<'GROUP'
root:x:0:
node:x:1000:
nogroup:x:65534:
GROUP
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$ROOT/etc/nsswitch.conf"
chown 1000:1000 "$ROOT/home/node"

echo "local-base-image: importing $TAG (node $NODE_VERSION from $NODE_BIN, npm $(node "$NPM_DIR/bin/npm-cli.js" -v))"
tar -C "$ROOT" --numeric-owner -c . | docker import \
  -c "LABEL $LABEL=$NODE_VERSION" \
  -c "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  -c "ENV NODE_VERSION=${NODE_VERSION#v}" \
  -c 'CMD ["node"]' \
  -m "zerodrop local base: host node $NODE_VERSION (demo/scripts/local-base-image.sh)" \
  - "$TAG" >/dev/null
docker image inspect "$TAG" --format 'local-base-image: {{.RepoTags}} {{.Size}} bytes'
