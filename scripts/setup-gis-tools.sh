#!/usr/bin/env bash
# Makes this machine ready for the tests that use GIS tools, installing only
# what is missing:
#   - GDAL's command-line tools (Debian's gdal-bin): ogr2ogr and
#     gdal_translate write the small MBTiles files the basemap tests serve;
#     ogrinfo and ogr2ogr read the OGC API as a GIS user would;
#   - QGIS's Python bindings (qgis, python3-qgis; about 3.5 minutes the first
#     time): the style test runs QGIS's MapLibre-style converter on /style.json.
# Needs root or sudo, and Debian or Ubuntu.
set -euo pipefail

missing=()
command -v ogr2ogr >/dev/null && command -v gdal_translate >/dev/null || missing+=(gdal-bin)
/usr/bin/python3 -c 'import qgis.core' >/dev/null 2>&1 || missing+=(qgis python3-qgis)
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "setup-gis-tools: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
