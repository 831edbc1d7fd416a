#!/usr/bin/env bash
# Container engine for the tests in test/containers (issue 6).
# No registry is reachable on CI machines: install Debian's engine when absent, start dockerd in
# the background when it is not running, wait for `docker info`, then build the local base image
# and build-stage images (demo/scripts/local-base-image.sh, local-build-image.sh) and the demo
# images, so nothing is ever pulled.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "== docker: $*"; }

if ! command -v dockerd >/dev/null 2>&1; then
  log "installing docker.io and docker-compose"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 docker.io docker-compose >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd (log: /var/log/zerodrop-dockerd.log)"
  nohup dockerd >/var/log/zerodrop-dockerd.log 2>&1 &
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
fi
docker info >/dev/null 2>&1 || { echo "dockerd did not answer 'docker info' within 60 s; see /var/log/zerodrop-dockerd.log" >&2; exit 1; }
log "engine $(docker version --format '{{.Server.Version}}'), storage $(docker info --format '{{.Driver}}')"

bash demo/scripts/build-images.sh  # makes the local base image first when it is missing
