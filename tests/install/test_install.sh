#!/bin/bash
# The installed package, as a user meets it: `cmake --install` into a fresh
# prefix, then the seed example built against it twice — with pkg-config and
# with find_package(rocker) from a separate project — and run for real against
# the installed rockerd.
#   test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
[ "$(id -u)" -eq 0 ] || exit 77

T=$(mktemp -d /tmp/rocker-install.XXXXXX)
daemon=""
cleanup() {
        [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
        rm -rf "$T"
}
trap cleanup EXIT

cmake --install "$build" --prefix "$T/prefix" >/dev/null
libdir=$(find "$T/prefix" -name librocker_client.so -printf '%h\n' | head -n1)
test -f "$T/prefix/include/rocker/rocker.h"
test -f "$T/prefix/include/rocker/err_no.h"
test -x "$T/prefix/sbin/rockerd"
test -f "$libdir/pkgconfig/rocker_client.pc"

# Only ROCKER_* is exported, with a SONAME.
objdump -p "$libdir/librocker_client.so" >"$T/objdump"
grep -q 'SONAME.*librocker_client\.so\.0' "$T/objdump"
bad=$(nm -D --defined-only "$libdir/librocker_client.so" | awk '$2 ~ /^[TDBRW]$/ && $3 !~ /^ROCKER_/ {print $3}')
if [ -n "$bad" ]; then echo "exported beyond ROCKER_*: $bad" >&2; exit 1; fi
# ...exactly the functions of the version script (ROCKER_stop_rocker included).
exported=$(nm -D --defined-only "$libdir/librocker_client.so" | awk '$2 == "T" && $3 ~ /^ROCKER_/ {sub(/@.*/, "", $3); print $3}' | sort -u)
expected=$(sed -n 's/^[[:space:]]*\(ROCKER_[A-Za-z_]*\);/\1/p' "$src/src/client/librocker_client.sym" | sort -u)
if [ "$exported" != "$expected" ]; then
        echo "exported: $exported" >&2
        echo "expected (librocker_client.sym): $expected" >&2
        exit 1
fi
echo "$expected" | grep -qx ROCKER_stop_rocker

# pkg-config
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# shellcheck disable=SC2046
cc -Wall -Wextra -Werror -o "$T/seed_pc" "$src/examples/seed_example.c" $(pkg-config --cflags --libs rocker_client)

# find_package
cmake -S "$src/tests/install/consumer" -B "$T/consumer" -DCMAKE_PREFIX_PATH="$T/prefix" \
        -DSEED_EXAMPLE="$src/examples/seed_example.c" >/dev/null
cmake --build "$T/consumer" >/dev/null

# run both against the installed daemon
mkdir -p "$T/image/bin"
echo "installed" > "$T/image/README"
mksquashfs "$T/image" "$T/app.squashfs" -noappend -quiet -all-root >/dev/null
# Its socket is made before it starts and passed as systemd would: once the
# FIFO says so, it takes connections (no wait for the daemon itself).
mkfifo "$T/listening"
"$src/tests/integration/evwait.py" exec-rockerd "$T/sock" "$T/listening" \
        "$T/prefix/sbin/rockerd" --socket "$T/sock" --state-dir "$T/state" 2>"$T/rockerd.log" &
daemon=$!
"$src/tests/integration/evwait.py" line "$T/listening" 20 >/dev/null
export ROCKER_SOCKET="$T/sock" LD_LIBRARY_PATH="$libdir"
"$T/seed_pc" "$T/app.squashfs" /var/your_APP/execdir "$T/data1" >"$T/out1"
grep -q 'PID 1 is: 1 (rk-' "$T/out1"
"$T/consumer/seed_example_cmake" "$T/app.squashfs" /var/your_APP/execdir "$T/data2" >"$T/out2"
grep -q 'app exited with status 0' "$T/out2"
ldd "$T/seed_pc" >"$T/ldd"
grep -q "$libdir/librocker_client.so.0" "$T/ldd"
echo "installed package: headers, pkg-config, find_package and rockerd work"
