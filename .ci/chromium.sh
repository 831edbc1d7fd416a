#!/usr/bin/env bash
# Installs Debian's chromium for the report-page browser test (test/fleet/report-page.test.ts),
# quietly and only when absent. playwright-core drives it through executablePath: no browser is
# ever downloaded. Nothing here is a service; the policy-rc.d is the same guard the other
# install scripts use, in case a dependency brings one.
set -euo pipefail
# shellcheck source=apt.sh
. "$(dirname "$0")/apt.sh"

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi

echo "== installing chromium (Debian package)"
apt_install chromium fonts-dejavu-core

chromium --version 2>/dev/null | head -n 1
