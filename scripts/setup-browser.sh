#!/usr/bin/env bash
# Makes this machine ready for the web app's end-to-end tests, installing
# only what is missing: Debian's Chromium (about two minutes the first time;
# the tests drive /usr/bin/chromium with playwright-core, which downloads no
# browser of its own). Needs root or sudo, and Debian or Ubuntu.
set -euo pipefail

[ -x /usr/bin/chromium ] && exit 0
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "setup-browser: installing chromium" >&2
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
