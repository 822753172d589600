#!/usr/bin/env bash
# Restarts the local PostgreSQL cluster on port 5432 (fast mode: sessions
# are ended, as in a crash-free restart). Used by TestDatabaseRestart, which
# `make test` runs on its own after the other tests, never beside them.
set -euo pipefail
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
read -r major name < <(pg_lsclusters -h | awk '$3 == 5432 { print $1, $2; exit }')
$SUDO pg_ctlcluster --skip-systemctl-redirect "$major" "$name" restart -m fast
