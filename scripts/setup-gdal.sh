#!/usr/bin/env bash
# Makes this machine ready for the tests that use GDAL, installing only what
# is missing: GDAL's command-line tools (Debian's gdal-bin). ogr2ogr and
# gdal_translate write the small MBTiles files the basemap tests serve;
# ogrinfo and ogr2ogr read the OGC API as a GIS user would. Needs root or
# sudo, and Debian or Ubuntu.
set -euo pipefail

command -v ogr2ogr >/dev/null && command -v gdal_translate >/dev/null && exit 0
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "setup-gdal: installing gdal-bin" >&2
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gdal-bin >/dev/null
