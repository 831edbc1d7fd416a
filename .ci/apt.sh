# Sourced by the .ci install scripts: apt_install PKG… installs Debian packages quietly, with a
# policy-rc.d in place for the duration so apt starts no service (the tests start their own, on
# loopback ports, and stop them), removing the policy again if it was not there before.
apt_install() {
  local policy=/usr/sbin/policy-rc.d added=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    added=1
  fi
  local status=0
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null || status=$?
  if [ "$added" = 1 ]; then rm -f "$policy"; fi
  return "$status"
}
