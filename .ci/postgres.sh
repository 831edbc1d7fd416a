#!/usr/bin/env bash
# PostgreSQL for the demo's database tests: Debian's postgresql, one cluster on loopback, a role
# `zerodrop` (password `zerodrop`, CREATEDB) that the tests use to make a fresh database per
# scenario. Idempotent and quiet: installs only when absent (a policy-rc.d keeps apt from starting
# the service), starts the cluster with pg_ctlcluster (which runs the server as `postgres`: it
# refuses to run as root otherwise) only when it is down.
#   URL for the tests: postgres://zerodrop:zerodrop@127.0.0.1:${PGPORT:-5432}/postgres
set -euo pipefail
# shellcheck source=apt.sh
. "$(dirname "$0")/apt.sh"

if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "== installing postgresql (Debian package)"
  apt_install postgresql
fi

version="$(ls /usr/lib/postgresql | sort -n | tail -n 1)"
cluster=main
port="${PGPORT:-5432}"
if ! pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c { found = 1 } END { exit !found }'; then
  pg_createcluster --port "$port" "$version" "$cluster" >/dev/null
fi
conf="/etc/postgresql/$version/$cluster/postgresql.conf"
# loopback only; fsync off: test data, and the rollouts should not wait on the disk
if ! grep -q '^# zerodrop' "$conf"; then
  printf "\n# zerodrop (.ci/postgres.sh)\nlisten_addresses = '127.0.0.1'\nport = %s\nfsync = off\nsynchronous_commit = off\nmax_connections = 200\n" "$port" >> "$conf"
fi
if ! pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c && $4 == "online" { found = 1 } END { exit !found }'; then
  pg_ctlcluster "$version" "$cluster" start
fi
for _ in $(seq 1 30); do
  if su postgres -c "psql -p $port -Atqc 'select 1'" >/dev/null 2>&1; then break; fi
  sleep 0.5
done
su postgres -c "psql -p $port -v ON_ERROR_STOP=1 -Atq" >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'zerodrop') THEN
    CREATE ROLE zerodrop LOGIN CREATEDB PASSWORD 'zerodrop';
  END IF;
END $$;
SQL
echo "== postgresql $version on 127.0.0.1:$port (role zerodrop)"
