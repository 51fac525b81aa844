#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The Debian packages, as an administrator meets them: build librocker-client0,
# librocker-client-dev and rockerd from a copy of this tree with
# dpkg-buildpackage, install the three .debs, check what they put on the
# machine, build the seed's example against the installed library (pkg-config
# and find_package), run it and the rocker CLI against the installed
# /usr/sbin/rockerd started by hand on a private socket, stop that daemon and
# purge the packages again. Everything it starts, installs or creates is
# undone on exit, failure or not. The build tools it installs when missing
# (dpkg-dev, debhelper, devscripts, fakeroot, the Build-Depends) stay.
#
#   bash tests/package/test_debs.sh        (as root; exit 77 otherwise)
#   ROCKER_DEBS_OUT=DIR bash tests/package/test_debs.sh   keeps the .debs in DIR
#
# Needs: Debian 12, root, loop devices, squashfs and overlayfs (as the
# integration tests), apt access to Debian's archive if a tool is missing.

# The checks below are run by bash -c '...': their $ expand there, not here.
# shellcheck disable=SC2016
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
        echo "test_debs.sh: must run as root: skipped" >&2
        exit 77
fi

start=$(date +%s)
src=$(cd "$(dirname "$0")/../.." && pwd)
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
unset ROCKER_SOCKET ROCKER_TIMEOUT_MS SUDO_UID SUDO_GID

PKGS="librocker-client0 librocker-client-dev rockerd"
T=$(mktemp -d /tmp/rocker-debs.XXXXXX)
chmod 0755 "$T"          # apt's _apt user reads the .debs from here
daemon=""
new_pkgs=""              # what our apt-get install added: purged on exit
passed=0 failed=0
stage=tools             # which log to show if the run fails

# Host state this test must leave as it found it.
had_run_rocker=no;  [ -e /run/rocker ] && had_run_rocker=yes
had_var_app=no;     [ -e /var/your_APP ] && had_var_app=yes
had_var_tmp_file=no; [ -e /var/tmp/your_APP-was-here ] && had_var_tmp_file=yes

say() { printf '== %s\n' "$*"; }

check() {
        local what=$1
        shift
        if "$@" >"$T/check.out" 2>&1; then
                passed=$((passed + 1))
                printf 'ok   %s\n' "$what"
        else
                failed=$((failed + 1))
                printf 'FAIL %s\n' "$what"
                printf '     $ %s\n' "$*"
                tail -n 15 "$T/check.out" | sed 's/^/     | /'
        fi
        cat "$T/check.out" >>"$T/checks.log"
}

installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

stop_daemon() {
        [ -n "$daemon" ] || return 0
        # Rockers it built are its children (guards) and outlive a SIGTERM of
        # rockerd by design: kill any the run left behind, by pid.
        local guard
        for guard in $(ps -o pid= --ppid "$daemon" 2>/dev/null); do
                kill -KILL "$guard" 2>/dev/null || true
        done
        kill -TERM "$daemon" 2>/dev/null || true
        wait "$daemon" 2>/dev/null
        local rc=$?
        daemon=""
        return $rc
}

purge_ours() {
        local p present=""
        for p in $new_pkgs; do
                if installed "$p" || dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'config-files'; then
                        present="$present $p"
                fi
        done
        [ -n "$present" ] || return 0
        # shellcheck disable=SC2086
        apt-get purge -y -qq $present >>"$T/apt.log" 2>&1
}

cleanup() {
        local rc=$?
        set +e
        trap - EXIT INT TERM
        stop_daemon
        purge_ours || echo "cleanup: apt-get purge failed (see above)" >&2
        [ "$had_run_rocker" = no ] && rm -rf /run/rocker
        [ "$had_var_app" = no ] && rm -rf /var/your_APP
        [ "$had_var_tmp_file" = no ] && rm -f /var/tmp/your_APP-was-here
        if [ "$rc" -ne 0 ] && [ -d "$T" ]; then
                case $stage in
                build) logs=build.log ;;
                tools|install|purge) logs=apt.log ;;
                *) logs=rockerd.log ;;
                esac
                for f in $logs; do
                        [ -s "$T/$f" ] || continue
                        echo "---- last lines of $f" >&2
                        tail -n 40 "$T/$f" >&2
                done
        fi
        rm -rf "$T"
        echo "time: $(( $(date +%s) - start ))s"
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- 1. tools -------------------------------------------------------------
TOOLS="dpkg-dev debhelper devscripts fakeroot build-essential
cmake pkg-config libjansson-dev libsystemd-dev libcap-dev libmount-dev libinih-dev libcmocka-dev libseccomp-dev
squashfs-tools man-db procps"
missing=""
for p in $TOOLS; do installed "$p" || missing="$missing $p"; done
if [ -n "$missing" ]; then
        say "installing build tools:$missing"
        apt-get update -qq >>"$T/apt.log" 2>&1
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >>"$T/apt.log" 2>&1
fi
for p in $PKGS; do
        if installed "$p"; then
                echo "test_debs.sh: $p is already installed; remove it first" >&2
                exit 1
        fi
done

# ---- 2. build ---------------------------------------------------------------
# A copy of the work tree as it is (committed or not: debian/ may be new),
# without build dirs and leftovers of an in-tree package build.
stage=build
say "copying $src"
mkdir "$T/src"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$src" && git ls-files -z --cached --others --exclude-standard) |
                grep -zvE '^(build[^/]*|obj-[^/]*)/|^debian/(tmp|\.debhelper|librocker-client0|librocker-client-dev|rockerd)/|^debian/(files|.*\.substvars|.*\.debhelper\.log|debhelper-build-stamp)$' |
                (cd "$src" && tar --null --ignore-failed-read -T - -cf -) | tar -xf - -C "$T/src"
else
        (cd "$src" && tar --exclude='./build*' --exclude='./obj-*' --exclude='./.git' -cf - .) | tar -xf - -C "$T/src"
fi
say "dpkg-buildpackage -us -uc -b"
t0=$(date +%s)
(cd "$T/src" && dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1
say "built in $(( $(date +%s) - t0 ))s:" "$(cd "$T" && echo ./*.deb)"
# ROCKER_DEBS_OUT=DIR keeps a copy of the packages (e.g. for lintian).
if [ -n "${ROCKER_DEBS_OUT:-}" ]; then
        mkdir -p "$ROCKER_DEBS_OUT"
        cp "$T"/*.deb "$T"/*.changes "$T"/*.buildinfo "$ROCKER_DEBS_OUT"/
fi
stage=check
check "dh_missing: every installed file is in a package" bash -c "! grep -A20 'dh_missing: warning' '$T/build.log'"
check "no compiler warning in the build" bash -c "! grep -E '(warning|error):' '$T/build.log' | grep -v -e dh_missing -e 'dwz:'"
ver=$(dpkg-parsechangelog -l "$T/src/debian/changelog" -S Version)
upver=${ver%-*}
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
debs=""
for p in $PKGS; do debs="$debs ./${p}_${ver}_${arch}.deb"; done

# ---- 3. what the .debs hold -------------------------------------------------
say "the packages"
mkdir "$T/ctl"
dpkg-deb -e "$T/rockerd_${ver}_${arch}.deb" "$T/ctl"
# --no-start --restart-after-upgrade: the only deb-systemd-invoke in the
# postinst is a try-restart guarded by [ -n "$2" ] (an upgrade).
check "rockerd's postinst starts no unit on installation (--no-start)" awk '
        /deb-systemd-invoke/ { n++; if ($0 !~ /deb-systemd-invoke try-restart/ || prev !~ /if \[ -n "\$2" \]/) bad = 1 }
        { prev = $0 }
        END { exit bad }' "$T/ctl/postinst"
check "rockerd's prerm stops the units on removal" grep -q 'deb-systemd-invoke stop rockerd.socket rockerd.service' "$T/ctl/prerm"
check "rockerd's postinst enables the units" grep -q 'deb-systemd-helper enable' "$T/ctl/postinst"
check "rockerd's postinst creates /run/rocker (systemd-tmpfiles)" grep -q 'systemd-tmpfiles.*rocker\.conf' "$T/ctl/postinst"
check "rockerd's postinst creates squashfuse's system user" grep -q 'adduser --system .*_rocker-squashfuse' "$T/ctl/postinst"
check "librocker-client0 ships a symbols file" \
        bash -c "dpkg-deb --ctrl-tarfile '$T/librocker-client0_${ver}_${arch}.deb' | tar -t | grep -q symbols"
check "librocker-client0 holds only the .so.0" \
        bash -c "[ \"\$(dpkg-deb -c '$T/librocker-client0_${ver}_${arch}.deb' | grep -c 'librocker_client\\.so\$')\" = 0 ]"

# ---- 4. install --------------------------------------------------------------
stage=install
say "apt-get install$debs"
dpkg-query -W -f='${Package}\n' | sort >"$T/pkgs.before"
# shellcheck disable=SC2086
(cd "$T" && apt-get install -y -qq --no-install-recommends $debs) >>"$T/apt.log" 2>&1 ||
        { dpkg-query -W -f='${Package}\n' | sort >"$T/pkgs.after"
          new_pkgs=$(comm -13 "$T/pkgs.before" "$T/pkgs.after" | tr '\n' ' '); exit 1; }
dpkg-query -W -f='${Package}\n' | sort >"$T/pkgs.after"
new_pkgs=$(comm -13 "$T/pkgs.before" "$T/pkgs.after" | tr '\n' ' ')
say "installed: $new_pkgs"

# ---- 5. the installed files -------------------------------------------------
stage=check
say "installed files"
for p in $PKGS; do check "$p is installed" installed "$p"; done
check "ldconfig finds librocker_client.so.0" bash -c "ldconfig -p | grep -q 'librocker_client\\.so\\.0 .*/$multiarch/librocker_client\\.so\\.0'"
check "pkg-config --libs rocker_client is -lrocker_client" bash -c 'o=$(pkg-config --libs rocker_client | xargs); echo "got: $o"; [ "$o" = "-lrocker_client" ]'
check "pkg-config --cflags rocker_client is empty (/usr/include)" bash -c 'o=$(pkg-config --cflags rocker_client | xargs); echo "got: $o"; [ -z "$o" ]'
check "pkg-config --modversion rocker_client is $upver" bash -c "[ \"\$(pkg-config --modversion rocker_client)\" = $upver ]"
check "headers in /usr/include/rocker" test -f /usr/include/rocker/rocker.h -a -f /usr/include/rocker/err_no.h
check "CMake package" test -f "/usr/lib/$multiarch/cmake/rocker/rockerConfig.cmake"
check "/usr/sbin/rockerd --version is rockerd $upver" bash -c "[ \"\$(/usr/sbin/rockerd --version)\" = 'rockerd $upver' ]"
check "rocker --version is rocker $upver" bash -c "[ \"\$(rocker --version)\" = 'rocker $upver' ]"
check "man -w rockerd librocker_client rocker rockerd.conf" man -w rockerd librocker_client rocker rockerd.conf
check "man -w ROCKER_enter_rocker (alias of librocker_client.3)" man -w ROCKER_enter_rocker
man_clean() {  # SECTION NAME: the installed page renders without a groff warning
        local f w
        f=$(man -w "$1" "$2") || return 1
        w=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$f" 2>&1 >/dev/null)
        [ -z "$w" ] || { echo "$f: $w"; return 1; }
}
for m in "8 rockerd" "3 librocker_client" "5 rockerd.conf" "1 rocker"; do
        # shellcheck disable=SC2086
        check "man $m renders without warnings" man_clean $m
done
check "units in /lib/systemd/system" test -f /lib/systemd/system/rockerd.service -a -f /lib/systemd/system/rockerd.socket
check "rockerd.service runs /usr/sbin/rockerd" grep -qx 'ExecStart=/usr/sbin/rockerd' /lib/systemd/system/rockerd.service
check "tmpfiles.d entry" test -f /usr/lib/tmpfiles.d/rocker.conf
check "example config in /etc/rocker" test -f /etc/rocker/rockerd.conf.example
check "/etc/rocker/apps.d exists" test -d /etc/rocker/apps.d
check "the postinst made the system user _rocker-squashfuse" getent passwd _rocker-squashfuse
printf '[Daemon]\nNoSuchKey=1\n' >"$T/bad.conf"
check "the installed rockerd reads its config (--config: a bad key stops it)" bash -c \
        "! /usr/sbin/rockerd --config '$T/bad.conf' --socket '$T/bad.sock' --state-dir '$T/bad.state' 2>'$T/bad.err' &&
         grep -q 'bad configuration: $T/bad.conf:2: unknown key NoSuchKey' '$T/bad.err'"
check "installation started no rockerd (no /run/rocker/rockerd.sock)" test ! -e /run/rocker/rockerd.sock
if command -v systemd-tmpfiles >/dev/null; then
        check "the postinst made /run/rocker/state (tmpfiles.d)" test -d /run/rocker/state
fi

# ---- 6. the seed example against the installed package -------------------
say "seed example: pkg-config and find_package"
# shellcheck disable=SC2046
check "cc seed_example.c \$(pkg-config --cflags --libs rocker_client)" \
        cc -Wall -Wextra -Werror -o "$T/seed" "$T/src/examples/seed_example.c" $(pkg-config --cflags --libs rocker_client)
check "it links the installed /usr/lib/$multiarch/librocker_client.so.0" \
        bash -c "ldd '$T/seed' | grep -q '=> /.*lib/$multiarch/librocker_client\\.so\\.0'"
check "find_package(rocker) from a separate project" bash -c \
        "cmake -S '$T/src/tests/install/consumer' -B '$T/consumer' -DSEED_EXAMPLE='$T/src/examples/seed_example.c' &&
         cmake --build '$T/consumer'"

say "rockerd --socket $T/sock --state-dir $T/state"
mkdir -p "$T/image/bin"
echo "hello from the packaged rocker" >"$T/image/README"
cp /bin/cat "$T/image/bin/"
mksquashfs "$T/image" "$T/app.squashfs" -noappend -quiet -all-root >/dev/null
# Its socket is made before it starts and passed as systemd would: once the
# FIFO says so, it takes connections (no wait for the daemon itself).
mkfifo "$T/listening"
"$src/tests/integration/evwait.py" exec-rockerd "$T/sock" "$T/listening" \
        /usr/sbin/rockerd --socket "$T/sock" --state-dir "$T/state" 2>"$T/rockerd.log" &
daemon=$!
check "the installed rockerd listens on $T/sock" "$src/tests/integration/evwait.py" line "$T/listening" 20
export ROCKER_SOCKET="$T/sock"

if "$T/seed" "$T/app.squashfs" /var/your_APP/execdir "$T/data" >"$T/seed.out" 2>&1; then seed_rc=0; else seed_rc=$?; fi
sed 's/^/   | /' "$T/seed.out"
check "seed_example exits 0" test "$seed_rc" -eq 0
check "the app runs under the guard as PID 1" grep -q 'PID 1 is: 1 (rk-' "$T/seed.out"
check "the image is at /var/your_APP/execdir" grep -q 'image mounted at /var/your_APP/execdir: .*README' "$T/seed.out"
check "the app's write landed in the data dir" test -f "$T/data/overlay/var/upper/tmp/your_APP-was-here"
if [ "$had_var_tmp_file" = no ]; then
        check "... and not on the host" test ! -e /var/tmp/your_APP-was-here
fi
if [ "$had_var_app" = no ]; then
        check "the exec dir was made in the rocker's /var overlay, not on the host" test ! -e /var/your_APP
fi
if [ -x "$T/consumer/seed_example_cmake" ]; then
        check "the find_package build runs too" bash -c \
                "'$T/consumer/seed_example_cmake' '$T/app.squashfs' /var/your_APP/execdir '$T/data2' | grep -q 'app exited with status 0'"
fi
check "rocker run (the installed CLI) reads the image" bash -c \
        "[ \"\$(rocker run --image '$T/app.squashfs' --exec-dir /opt/your_APP --data-dir '$T/data3' --overlay /opt -- /opt/your_APP/bin/cat /opt/your_APP/README)\" = 'hello from the packaged rocker' ]"
check "rocker ps: no rocker left" bash -c '[ "$(rocker ps --json)" = "[]" ]'
check "rockerd stops on SIGTERM with status 0" stop_daemon
unset ROCKER_SOCKET

# ---- 7. purge -------------------------------------------------------------
stage=purge
say "apt-get purge -y $new_pkgs"
check "apt-get purge" purge_ours
for p in $PKGS; do check "$p is gone" bash -c "! dpkg-query -W -f='\${Status}' $p 2>/dev/null | grep -q installed"; done
check "/usr/sbin/rockerd is gone" test ! -e /usr/sbin/rockerd
check "ldconfig no longer finds librocker_client.so.0" bash -c "! ldconfig -p | grep -q librocker_client"
check "/etc/rocker is gone" test ! -e /etc/rocker
check "no enablement symlink is left" bash -c "! find /etc/systemd/system -name 'rockerd.*' | grep -q ."

echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
