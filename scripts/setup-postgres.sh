#!/usr/bin/env bash
# Makes this machine ready for clearmap's local database, installing only what
# is missing, so it is safe to run any number of times:
#   1. PostgreSQL (Debian's `postgresql` package) and the matching PostGIS 3;
#   2. a running cluster;
#   3. a superuser role for the current user (PostGIS and the tests' throwaway
#      databases need one) and a database called `clearmap`;
#   4. GDAL's command-line tools (`gdal-bin`), which the tests drive as a GIS
#      user would (ogrinfo, ogr2ogr against the OGC API).
# Needs root or sudo, and Debian or Ubuntu.
set -euo pipefail

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
me=$(id -un)

say() { echo "setup-postgres: $*" >&2; }

updated=
install() {
  if [ -z "$updated" ]; then
    say "apt-get update"
    $SUDO apt-get update -qq
    updated=1
  fi
  say "installing $*"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v pg_lsclusters >/dev/null 2>&1 || install postgresql
# GDAL's command-line tools: the tests export through them as GIS users do.
command -v ogr2ogr >/dev/null 2>&1 || install gdal-bin

# The cluster on the default port is the one DATABASE_URL's default reaches;
# without one, the newest installed server gets a cluster.
cluster=$(pg_lsclusters -h | awk '$3 == 5432 { print $1, $2; exit }')
if [ -z "$cluster" ]; then
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then install postgresql; fi
  major=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
  say "creating cluster $major/main"
  $SUDO pg_createcluster --port 5432 "$major" main >/dev/null
  cluster="$major main"
fi
read -r major name <<<"$cluster"

dpkg -s "postgresql-$major-postgis-3" >/dev/null 2>&1 || install "postgresql-$major-postgis-3"

if ! pg_lsclusters -h | awk -v v="$major" -v n="$name" '$1 == v && $2 == n { print $4 }' | grep -q online; then
  say "starting cluster $major/$name"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$major" "$name" start
fi
for _ in $(seq 1 30); do
  pg_isready -q -h /var/run/postgresql -p 5432 && break
  sleep 1
done
pg_isready -q -h /var/run/postgresql -p 5432 || { say "PostgreSQL did not become ready"; exit 1; }

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}
sql() { as_postgres psql -h /var/run/postgresql -p 5432 -d postgres -qtAX -v ON_ERROR_STOP=1 "$@"; }

if [ "$(sql -c "SELECT 1 FROM pg_roles WHERE rolname = '$me'")" != 1 ]; then
  say "creating role $me"
  sql -c "CREATE ROLE \"$me\" LOGIN SUPERUSER"
fi
if [ "$(sql -c "SELECT 1 FROM pg_database WHERE datname = 'clearmap'")" != 1 ]; then
  say "creating database clearmap"
  sql -c "CREATE DATABASE clearmap OWNER \"$me\""
fi
