#!/usr/bin/env bash
# Makes the image docker-compose.yml's `monitoring` profile runs (default tag
# prom/prometheus:v2.42.0) without a registry, from Debian's prometheus package (installed when
# absent): the binary, the libraries `ldd` lists, its web assets, CA certificates, and the user
# `nobody` owning /prometheus, as in the official image. The entry point is /bin/prometheus, as
# there, so the compose file's `command:` works with either image.
#
# Idempotent: skips when the tag exists and was made by this script from the same binary;
# never replaces an image of that tag it did not make (e.g. the real, pulled one).
#
# Usage: demo/scripts/local-prometheus-image.sh [tag]     (env FORCE=1 rebuilds)
set -euo pipefail

TAG="${1:-prom/prometheus:v2.42.0}"
LABEL=org.zerodrop.local-prometheus
if ! command -v prometheus >/dev/null 2>&1; then
  echo "local-prometheus-image: installing Debian's prometheus package"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 prometheus >/dev/null
fi
BIN="$(readlink -f "$(command -v prometheus)")"
VERSION="$("$BIN" --version 2>&1 | head -1 | awk '{print $3}')"

existing="$(docker image inspect "$TAG" --format "{{ index .Config.Labels \"$LABEL\" }}" 2>/dev/null || true)"
if docker image inspect "$TAG" >/dev/null 2>&1; then
  if [[ -z "$existing" || "$existing" == "<no value>" ]]; then
    echo "local-prometheus-image: $TAG exists and was not made by this script (a pulled image?): keeping it"
    exit 0
  fi
  if [[ "$existing" == "$VERSION" && "${FORCE:-0}" != 1 ]]; then
    echo "local-prometheus-image: $TAG is up to date (prometheus $VERSION)"
    exit 0
  fi
fi

ROOT="$(mktemp -d /tmp/zerodrop-prom-rootfs.XXXXXX)"
trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT"/{bin,etc/prometheus,etc/ssl/certs,prometheus,tmp,usr/share/prometheus}
chmod 1777 "$ROOT/tmp"
install -m 0755 "$BIN" "$ROOT/bin/prometheus"
ldd "$BIN" | awk '/=>/ { if ($3 ~ /^\//) print $3; next } /^[[:space:]]*\// { print $1 }' | while read -r lib; do
  install -D -m 0755 "$(readlink -f "$lib")" "$ROOT$lib"
done
[[ -d /usr/share/prometheus/web ]] && cp -a /usr/share/prometheus/web "$ROOT/usr/share/prometheus/"
[[ -d /etc/prometheus/consoles ]] && cp -a /etc/prometheus/consoles /etc/prometheus/console_libraries "$ROOT/etc/prometheus/"
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/"
printf 'global:\n  scrape_interval: 15s\n' >"$ROOT/etc/prometheus/prometheus.yml"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$ROOT/etc/group"
printf 'hosts: files dns\n' >"$ROOT/etc/nsswitch.conf"
chown 65534:65534 "$ROOT/prometheus"

echo "local-prometheus-image: importing $TAG (prometheus $VERSION from $BIN)"
tar -C "$ROOT" --numeric-owner -c . | docker import \
  -c "LABEL $LABEL=$VERSION" \
  -c 'USER nobody' \
  -c 'WORKDIR /prometheus' \
  -c 'EXPOSE 9090' \
  -c 'ENTRYPOINT ["/bin/prometheus"]' \
  -c 'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]' \
  -m "zerodrop local prometheus: Debian's $VERSION (demo/scripts/local-prometheus-image.sh)" \
  - "$TAG" >/dev/null
docker image inspect "$TAG" --format 'local-prometheus-image: {{.RepoTags}} {{.Size}} bytes'
