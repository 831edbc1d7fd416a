#!/usr/bin/env bash
# Installs Debian's haproxy for test/verify (zerodrop verify behind a third-party balancer),
# quietly and only when absent. It does not start HAProxy: each test starts its own on a loopback
# port with a generated config and kills it when done. Debian's package enables a system service
# on :80; a policy-rc.d keeps apt from starting it, and it is stopped if it runs anyway.
set -euo pipefail
# shellcheck source=apt.sh
. "$(dirname "$0")/apt.sh"

if command -v haproxy >/dev/null 2>&1; then
  haproxy -v 2>&1 | head -n 1
  exit 0
fi

echo "== installing haproxy (Debian package)"
apt_install haproxy

# If a service manager started it regardless, it is not ours to leave on :80.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet haproxy 2>/dev/null; then
  systemctl stop haproxy || true
  systemctl disable haproxy >/dev/null 2>&1 || true
fi

haproxy -v 2>&1 | head -n 1
