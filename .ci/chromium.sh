#!/usr/bin/env bash
# Installs Debian's chromium for the report-page browser test (test/fleet/report-page.test.ts),
# quietly and only when absent. playwright-core drives it through executablePath: no browser is
# ever downloaded. Nothing here is a service; the policy-rc.d is the same guard the other
# install scripts use, in case a dependency brings one.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi

echo "== installing chromium (Debian package)"
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  added_policy=1
fi
cleanup() { if [ "$added_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null

chromium --version 2>/dev/null | head -n 1
