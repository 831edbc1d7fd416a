#!/usr/bin/env bash
# Builds zerodrop-demo:v1 and zerodrop-demo:v2 from demo/Dockerfile (context: the repository root).
# Both share every layer; only the default APP_VERSION differs. Makes the local base image first
# when it is missing (no registry needed). The classic builder is used: BuildKit with this client
# needs buildx, which these machines lack; `--network host` lets the `npm ci` stages reach npm.
#
# Env: BUILD_CONTEXT=git builds from the committed HEAD (`git archive`) instead of the working tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash demo/scripts/local-base-image.sh
log="$(mktemp /tmp/zerodrop-build.XXXXXX.log)"
for version in v1 v2; do
  start=$(date +%s)
  args=(build --force-rm --network host -f demo/Dockerfile --build-arg APP_VERSION="$version" -t "zerodrop-demo:$version")
  if [[ "${BUILD_CONTEXT:-}" == git ]]; then
    git archive --format=tar HEAD | DOCKER_BUILDKIT=0 docker "${args[@]}" - >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
  else
    DOCKER_BUILDKIT=0 docker "${args[@]}" . >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
  fi
  echo "build-images: zerodrop-demo:$version in $(( $(date +%s) - start )) s," \
    "$(( $(docker image inspect "zerodrop-demo:$version" --format '{{.Size}}') / 1000000 )) MB"
done
rm -f "$log"
