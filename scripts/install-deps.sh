#!/bin/sh
# Installs what rocker needs to build, test and run, from Debian 12 packages.
set -eu
PACKAGES="build-essential cmake pkg-config
libjansson-dev libsystemd-dev libcap-dev libmount-dev libcmocka-dev libinih-dev libseccomp-dev
squashfs-tools squashfuse fuse3 util-linux procps valgrind
xdg-dbus-proxy dbus-daemon libglib2.0-bin"
if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps.sh: run as root" >&2
        exit 1
fi
# --compat: also what the compatibility suite runs (tests/compat/packages.txt).
if [ "${1:-}" = --compat ]; then
        PACKAGES="$PACKAGES $(sed 's/#.*//' "$(dirname "$0")/../tests/compat/packages.txt")"
fi
missing=""
for p in $PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
        echo "installing:$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
