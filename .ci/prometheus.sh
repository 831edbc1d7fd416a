#!/usr/bin/env bash
# Installs Debian's prometheus (prometheus + promtool) for test/k8s, quietly and only when absent.
# It does not start Prometheus: the test starts its own on a loopback port with a generated config
# and a temporary storage path, and kills it when done. Debian's package enables a system service
# on :9090; a policy-rc.d keeps apt from starting it, and it is stopped if it runs anyway.
set -euo pipefail
# shellcheck source=apt.sh
. "$(dirname "$0")/apt.sh"

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  exit 0
fi

echo "== installing prometheus (Debian package)"
apt_install prometheus

# If a service manager started it regardless, it is not ours to leave on :9090.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl stop prometheus || true
  systemctl disable prometheus >/dev/null 2>&1 || true
fi

prometheus --version 2>&1 | head -n 1
