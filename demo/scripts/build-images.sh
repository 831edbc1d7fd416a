#!/usr/bin/env bash
# Builds zerodrop-demo:v1 and zerodrop-demo:v2 from demo/Dockerfile (context: the repository root).
# Both share every layer; only the default APP_VERSION differs. Makes the local base image and the
# build stage's image (with the toolchain that compiles better-sqlite3) first
# when they are missing (no registry needed). The classic builder is used: BuildKit with this client
# needs buildx, which these machines lack; `--network host` lets the `npm ci` stages reach npm.
#
# Both images are built from one snapshot of the context, so they hold the same code even while
# the working tree changes. Env: BUILD_CONTEXT=git (or BUILD_CONTEXT=git:<rev>) builds from a
# commit (`git archive`) instead of the working tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash demo/scripts/local-base-image.sh
bash demo/scripts/local-build-image.sh
tmp="$(mktemp -d /tmp/zerodrop-build.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
case "${BUILD_CONTEXT:-}" in
  git) git archive --format=tar HEAD >"$tmp/context.tar" ;;
  git:*) git archive --format=tar "${BUILD_CONTEXT#git:}" >"$tmp/context.tar" ;;
  *)
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
      # tracked and untracked-but-not-ignored files as they are now (.dockerignore still applies)
      git ls-files -z --cached --others --exclude-standard |
        tar --null --ignore-failed-read -T - -cf "$tmp/context.tar" 2>/dev/null
    fi
    ;;
esac
for version in v1 v2; do
  start=$(date +%s)
  args=(build --force-rm --network host -f demo/Dockerfile --build-arg APP_VERSION="$version" -t "zerodrop-demo:$version")
  if [[ -f "$tmp/context.tar" ]]; then
    DOCKER_BUILDKIT=0 docker "${args[@]}" - <"$tmp/context.tar" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; exit 1; }
  else
    DOCKER_BUILDKIT=0 docker "${args[@]}" . >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; exit 1; }
  fi
  echo "build-images: zerodrop-demo:$version in $(( $(date +%s) - start )) s," \
    "$(( $(docker image inspect "zerodrop-demo:$version" --format '{{.Size}}') / 1000000 )) MB"
done
