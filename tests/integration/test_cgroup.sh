#!/bin/bash
# SPDX-License-Identifier: MIT
#
# A cgroup per rocker on the host the suite runs on, and what rockerd does
# where limits cannot be applied (docs/cgroups.md). The development and CI
# machines are containers with cgroup v1 controllers and a controller-less
# cgroup v2 hierarchy (hybrid): rockers get a cgroup of their own there
# (CPU time, grouping), limits are unavailable. Real limits are checked in
# the systemd guest (tests/kernels/systemd.d/).
#
# Usage: test_cgroup.sh ROCKER ROCKERD
set -u

ROCKER=${1:?usage: test_cgroup.sh ROCKER ROCKERD}
ROCKERD=${2:?usage: test_cgroup.sh ROCKER ROCKERD}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
skip_unless_root "rockerd mounts and makes cgroups" mksquashfs python3

T=$(mktemp -d /tmp/rocker-cgroup-test.XXXXXX) || exit 1
chmod 755 "$T"
IMG=$T/app.squashfs
EXEC=$T/exec
DAEMON=""
KEPT_PIDS=()

# The cgroup v2 mount, as rockerd finds it.
CGROOT=""
for d in /sys/fs/cgroup /sys/fs/cgroup/unified; do
        if [ "$(stat -f -c %T "$d" 2>/dev/null)" = cgroup2fs ]; then
                CGROOT=$d
                break
        fi
done

pid_gone() { [ ! -e "/proc/$1" ]; }

start_daemon() {  # start_daemon [rockerd options...]
        "$ROCKERD" --socket "$T/sock" --state-dir "$T/state" "$@" 2>"$T/rockerd.log" &
        DAEMON=$!
        if ! wait_until test -S "$T/sock"; then
                echo "rockerd did not start:"
                cat "$T/rockerd.log"
                exit 1
        fi
}
stop_daemon() {
        kill -TERM "$DAEMON" 2>/dev/null
        wait "$DAEMON" 2>/dev/null
        DAEMON=""
        rm -f "$T/sock"
}

cleanup() {
        local rc=$? leaks=0

        trap - EXIT INT TERM
        for p in "${KEPT_PIDS[@]}"; do
                if [ -r "/proc/$p/comm" ] && grep -q '^rk-' "/proc/$p/comm" 2>/dev/null; then
                        kill -KILL "$p" 2>/dev/null
                fi
        done
        for p in "${KEPT_PIDS[@]}"; do
                wait_until pid_gone "$p" || echo "cleanup: guard $p did not end"
        done
        [ -n "$DAEMON" ] && stop_daemon
        if ! wait_until eval '! grep -q " ${T}[/ ]" /proc/self/mountinfo'; then
                echo "LEAK: mounts under $T"
                leaks=1
        fi
        # Every cgroup a rockerd of this test made is named after one of
        # the guards it started (guard names are unique).
        for n in "${KEPT_NAMES[@]}"; do
                if [ -n "$CGROOT" ] && ls -d "$CGROOT"/rocker-*-"$n" 2>/dev/null; then
                        echo "LEAK: the cgroup of rocker $n"
                        leaks=1
                fi
        done
        if [ "$FAILED" -ne 0 ] && [ -s "$T/rockerd.log" ]; then
                echo "rockerd's last log:"
                sed 's/^/    | /' "$T/rockerd.log"
        fi
        rm -rf "$T"
        [ "$leaks" -ne 0 ] && [ "$rc" -eq 0 ] && rc=1
        [ "$FAILED" -ne 0 ] && [ "$rc" -eq 0 ] && rc=1
        exit "$rc"
}
KEPT_NAMES=()
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir -p "$T/image/bin" "$T/apps.d"
printf '#!/bin/sh\necho hi\n' >"$T/image/bin/hi"
chmod 755 "$T/image/bin/hi"
mksquashfs "$T/image" "$IMG" -noappend -quiet -all-root >/dev/null || exit 1

# keep APP_ID DATA: run --keep, records the guard in NAME / GPID.
keep() {
        rk run --keep --app-id "$1" --image "$IMG" --exec-dir "$EXEC" --data-dir "$T/$2" -- true
        read -r NAME GPID _ <"$T/out"
        NAME=${NAME:-} GPID=${GPID:-0}
        if [ "$GPID" -gt 0 ] 2>/dev/null; then
                KEPT_PIDS+=("$GPID")
                KEPT_NAMES+=("$NAME")
        fi
}

# ps_json PYTHON-EXPR: true if EXPR holds for the entry r of guard $NAME.
ps_entry() {
        "$ROCKER" ps --json >"$T/ps.json" 2>"$T/err" && python3 -c '
import json, sys
name = sys.argv[1]
rs = [r for r in json.load(open(sys.argv[2])) if r["guard"] == name]
sys.exit(not (len(rs) == 1 and eval(sys.argv[3], {"r": rs[0]})))' "$NAME" "$T/ps.json" "$1"
}

HAS_MEMORY=no
[ -n "$CGROOT" ] && grep -qw memory "$CGROOT/cgroup.controllers" && HAS_MEMORY=yes

# --- 1. a rockerd with the host's cgroups, limits configured for app 77 ------------
cat >"$T/rockerd.conf" <<CONF
[Daemon]
AppsDir=$T/apps.d
CONF
printf '[Resources]\nMemoryMax=64M\n' >"$T/apps.d/77.conf"
start_daemon --config "$T/rockerd.conf"
export ROCKER_SOCKET=$T/sock

check "rockerd says once at start what resource control it has" \
        eval '[ "$(grep -c "resource control:" "$T/rockerd.log")" -eq 1 ]'

keep 5 data-5
expect_rc 0 "run --keep of an app without limits"
if [ -n "$CGROOT" ]; then
        CG=$(sed -n 's/^0:://p' "/proc/$GPID/cgroup")
        check "the guard is in its own cgroup, rocker-5-<guard name> ($CG)" \
                eval '[[ $CG == */rocker-5-$NAME ]]'
        check "... which exists in the hierarchy" test -d "$CGROOT$CG"
        check "ps --json names the cgroup and its CPU time" \
                ps_entry 'r["cgroup"] == "'"$CG"'" and r["cpu_usec"] >= 0'
        rk enter "$NAME" -- cat /proc/self/cgroup
        expect_rc 0 "enter"
        check "... the app is in the rocker's cgroup, the root of its cgroup namespace" \
                grep -qx '0::/' "$T/out"
        rk run --app-id 5 --image "$IMG" --exec-dir "$EXEC" --data-dir "$T/data-5b" -- cat /proc/self/cgroup
        expect_rc 0 "run"
        check "... its app too" grep -qx '0::/' "$T/out"
        if [ "$HAS_MEMORY" = no ]; then
                check "ps --json has no memory figure and says why" \
                        ps_entry 'r["memory_bytes"] == -1 and "memory controller" in r["cgroup_note"]'
                rk ps
                check "ps's table says why MEM is unknown" grep -q '^note: .*memory controller' "$T/out"
        fi
        kill -KILL "$GPID"
        check "the cgroup is removed when the rocker ends" wait_until test ! -d "$CGROOT$CG"
else
        check "ps --json: no cgroup, and why" \
                ps_entry 'r["cgroup"] is None and "cgroup v2" in r["cgroup_note"]'
        kill -KILL "$GPID"
fi

if [ "$HAS_MEMORY" = no ]; then
        rk run --app-id 77 --image "$IMG" --exec-dir "$EXEC" --data-dir "$T/data-77" -- true
        expect_rc 125 "an app with MemoryMax= is refused where limits are unavailable"
        check "... saying which limit, why, and what to do" \
                grep -q 'MemoryMax=.*cannot be applied: .*LimitsBestEffort=yes' "$T/err"
fi

if [ "$HAS_MEMORY" = yes ]; then
        # A cgroup v2 host with controllers (the kernel matrix's plain
        # guests): the limits are written, and hold.
        keep 77 data-77
        expect_rc 0 "run --keep of an app with MemoryMax=64M"
        CG=$(sed -n 's/^0:://p' "/proc/$GPID/cgroup")
        check "... its cgroup has memory.max 64M" grep -qx 67108864 "$CGROOT$CG/memory.max"
        if grep -qw memory "$CGROOT$CG/../cgroup.subtree_control" 2>/dev/null; then
                rk enter "$NAME" -- /usr/bin/tail /dev/zero
                expect_rc 137 "a memory hog in it is OOM-killed"
                check "... the guard lives on (OOMPolicy=continue)" grep -qx "$NAME" "/proc/$GPID/comm"
                check "... ps shows its memory" ps_entry 'r["memory_bytes"] > 0 and r["cgroup_note"] is None'
        fi
        kill -KILL "$GPID"
        check "... its cgroup is removed at the end" wait_until test ! -d "$CGROOT$CG"
fi

# --- 2. adopted across a restart, with its cgroup -----------------------------------
keep 6 data-6
expect_rc 0 "run --keep before a restart"
CG=$(sed -n 's/^0:://p' "/proc/$GPID/cgroup")
stop_daemon
start_daemon --config "$T/rockerd.conf"
if [ -n "$CGROOT" ]; then
        check "the restarted rockerd adopts the rocker with its cgroup" \
                ps_entry 'r["cgroup"] == "'"$CG"'"'
        check "... which was kept" test -d "$CGROOT$CG"
        kill -KILL "$GPID"
        check "... and removes it when the rocker ends" wait_until test ! -d "$CGROOT$CG"
else
        kill -KILL "$GPID"
fi
stop_daemon

# A rocker that ends while no rockerd runs: the next one removes its cgroup
# with its record.
if [ -n "$CGROOT" ]; then
        start_daemon --config "$T/rockerd.conf"
        keep 7 data-7
        expect_rc 0 "run --keep, then rockerd stops"
        CG=$(sed -n 's/^0:://p' "/proc/$GPID/cgroup")
        stop_daemon
        kill -KILL "$GPID"
        wait_until pid_gone "$GPID"
        check "... the cgroup of the rocker that ended meanwhile is still there" test -d "$CGROOT$CG"
        start_daemon --config "$T/rockerd.conf"
        check "... until the next rockerd drops its record" wait_until test ! -d "$CGROOT$CG"
        stop_daemon
fi

# --- 3. best effort --------------------------------------------------------------
if [ "$HAS_MEMORY" = no ]; then
        printf '[Resources]\nLimitsBestEffort=yes\n' >>"$T/rockerd.conf"
        start_daemon --config "$T/rockerd.conf"
        rk run --app-id 77 --image "$IMG" --exec-dir "$EXEC" --data-dir "$T/data-77" -- "$EXEC/bin/hi"
        expect_rc 0 "with LimitsBestEffort=yes the app with MemoryMax= runs"
        check "... and rockerd logs that it runs without its limits" \
                grep -q 'runs without its limits (MemoryMax=' "$T/rockerd.log"
        stop_daemon
fi

# --- 4. Cgroups=no ------------------------------------------------------------------
printf '[Daemon]\nAppsDir=%s/apps.d\n[Resources]\nCgroups=no\n' "$T" >"$T/rockerd-no.conf"
start_daemon --config "$T/rockerd-no.conf"
keep 8 data-8
expect_rc 0 "Cgroups=no: run --keep"
check "... no cgroup of its own, and ps says why" \
        ps_entry 'r["cgroup"] is None and "Cgroups=no" in r["cgroup_note"] and r["cpu_usec"] == -1'
rk run --app-id 77 --image "$IMG" --exec-dir "$EXEC" --data-dir "$T/data-77" -- true
expect_rc 125 "Cgroups=no: an app with limits is refused"
kill -KILL "$GPID"
stop_daemon

# --- 5. invalid values stop rockerd with the file and line -------------------------
bad_conf() {  # bad_conf WHAT FILE-TO-NAME LINE
        local rc
        timeout 20 "$ROCKERD" --socket "$T/sock-bad" --state-dir "$T/state-bad" --config "$T/bad.conf" \
                >"$T/out" 2>"$T/err"
        rc=$?
        RC=$rc
        if [ "$rc" -ne 0 ] && grep -q "$2:$3: " "$T/err"; then
                pass "$1 stops rockerd ($(head -n1 "$T/err"))"
        else
                fail "$1: exit $rc, expected a failure naming $2:$3"
                show
        fi
}
printf '[Daemon]\nAppsDir=%s/apps-bad\n\n[Resources]\nMemoryMax=64Q\n' "$T" >"$T/bad.conf"
mkdir -p "$T/apps-bad"
bad_conf "MemoryMax=64Q in rockerd.conf" "$T/bad.conf" 5
check "... saying what a good value is" grep -q 'expected bytes' "$T/err"
printf '[Resources]\nCgroups=sometimes\n' >"$T/bad.conf"
bad_conf "Cgroups=sometimes" "$T/bad.conf" 2
printf '[Resources]\nLimitsBestEffort=maybe\n' >"$T/bad.conf"
bad_conf "LimitsBestEffort=maybe" "$T/bad.conf" 2
printf '[Daemon]\nAppsDir=%s/apps-bad\n' "$T" >"$T/bad.conf"
printf '[Rocker]\nPrivateNetwork=no\n[Resources]\nTasksMax=0\n' >"$T/apps-bad/12.conf"
bad_conf "TasksMax=0 in an app's file" "$T/apps-bad/12.conf" 4
printf '[Resources]\nCPUQuota=20\n' >"$T/apps-bad/12.conf"
bad_conf "CPUQuota=20 (no %)" "$T/apps-bad/12.conf" 2
printf '[Resources]\nOOMPolicy=stop\n' >"$T/apps-bad/12.conf"
bad_conf "OOMPolicy=stop" "$T/apps-bad/12.conf" 2
printf '[Resources]\nMemoryLimit=1G\n' >"$T/apps-bad/12.conf"
bad_conf "an unknown key in [Resources]" "$T/apps-bad/12.conf" 2
check "no rockerd of these is left listening" test ! -S "$T/sock-bad"

[ "$FAILED" -eq 0 ] && echo "all cgroup checks passed"
