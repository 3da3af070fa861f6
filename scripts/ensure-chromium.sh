#!/bin/sh
# Browser tests drive Debian's chromium with playwright (playwright cannot download
# browsers here). Install it once if it is missing.
set -eu
command -v chromium >/dev/null 2>&1 && exit 0
echo "  installing Debian's chromium for the browser tests (log: var/log/setup-chromium.log) ..."
mkdir -p var/log
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium; } \
    >var/log/setup-chromium.log 2>&1; then
  tail -n 20 var/log/setup-chromium.log >&2
  echo "  could not install chromium; see var/log/setup-chromium.log" >&2
  exit 1
fi
