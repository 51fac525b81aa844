#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Runs inside a kernel-matrix guest (scripts/kernel-matrix.sh), from the
# project disk mounted at /mnt/rocker-project by rocker-matrix-stage.
#
#   guest-run.sh plain     PID 1 of a guest without systemd: mounts the basic
#                          file systems, runs ctest in the project's build dir
#   guest-run.sh systemd   from rocker-matrix.service under systemd: installs
#                          the .debs, runs every check in systemd.d/
#
# Output goes to the console (ttyS0); the results channel (ttyS1) gets the
# test output and, last, one machine-readable line the host parses:
#   ROCKER-MATRIX-RESULT mode=M kernel=RELEASE total=N passed=P failed=F seconds=S failed_names=A,B
# Then the guest powers off.
set -u
mode=${1:-plain}
P=/mnt/rocker-project
# shellcheck source=/dev/null
. "$P/env"
out=/dev/ttyS1
[ -c "$out" ] || out=/dev/console
start=$(date +%s)
kver=$(uname -r)

power_off() {
        sync
        if [ "$mode" = plain ]; then
                echo o >/proc/sysrq-trigger
                sleep 60
        fi
        # systemd mode: rocker-matrix.service's ExecStopPost powers off.
        exit 0
}

result() {  # TOTAL PASSED FAILED NAMES
        printf 'ROCKER-MATRIX-RESULT mode=%s kernel=%s total=%s passed=%s failed=%s seconds=%s failed_names=%s\n' \
                "$mode" "$kver" "$1" "$2" "$3" "$(( $(date +%s) - start ))" "${4:--}" >"$out"
}

# The source and build trees at their absolute paths (ctest files hold them).
bind_trees() {
        mkdir -p "$SRC"
        mount --bind "$P/tree$SRC" "$SRC"
        case $BUILD/ in
        "$SRC"/*) ;;
        *) mkdir -p "$BUILD"; mount --bind "$P/tree$BUILD" "$BUILD" ;;
        esac
}

plain() {
        # What systemd would have set up: /run, /dev/pts, /dev/shm, cgroup2.
        mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
        mkdir -p /dev/pts /dev/shm
        mount -t devpts -o gid=5,mode=620,ptmxmode=000 devpts /dev/pts
        mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
        mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null || true
        ln -sf /proc/self/fd /dev/fd 2>/dev/null || true
        ln -sf /proc/self/fd/0 /dev/stdin; ln -sf /proc/self/fd/1 /dev/stdout; ln -sf /proc/self/fd/2 /dev/stderr
        hostname rocker-matrix
        ip link set lo up 2>/dev/null || true
        # The suites use loop devices, squashfs, overlayfs and FUSE; without
        # udev nothing loads them on first use of /dev/loop-control or /dev/fuse.
        for m in loop squashfs overlay fuse; do modprobe "$m" 2>/dev/null || true; done
        bind_trees
        echo "== $kver: ctest ${CTEST_ARGS:-(all suites)} in $BUILD" | tee "$out"
        cd "$BUILD" || { result 0 0 0 no-build-dir; power_off; }
        # shellcheck disable=SC2086
        ctest --output-on-failure $CTEST_ARGS 2>&1 | tee /tmp/ctest.log >"$out"
        local total failed names
        total=$(sed -n 's/.*tests passed, [0-9]* tests\{0,1\} failed out of \([0-9]*\).*/\1/p' /tmp/ctest.log | tail -n1)
        failed=$(sed -n 's/.*tests passed, \([0-9]*\) tests\{0,1\} failed out of.*/\1/p' /tmp/ctest.log | tail -n1)
        [ -n "$total" ] || total=0
        [ -n "$failed" ] || failed=$total
        names=$(sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) (.*/\1/p' /tmp/ctest.log | paste -sd, -)
        result "$total" "$((total - failed))" "$failed" "$names"
        power_off
}

systemd_checks() {
        exec >/dev/console 2>&1
        local W=/var/tmp/rocker-matrix passed=0 failed=0 names="" f name
        rm -rf "$W"
        mkdir -p "$W"
        bind_trees
        echo "== $kver: systemd $(systemctl --version | head -n1 | cut -d' ' -f2), $(stat -f -c %T /sys/fs/cgroup)" | tee "$out"
        # Shared by the checks (they run in file name order, each in its own
        # bash): the .debs, the seed example, a test image.
        export MATRIX_DEBS=$P/debs MATRIX_SEED=$P/seed_example MATRIX_WORK=$W MATRIX_SRC=$SRC MATRIX_BUILD=$BUILD MATRIX_BENCH=${BENCH:-}
        mkdir -p "$W/image/bin"
        echo "hello from the systemd guest" >"$W/image/README"
        cp /bin/cat /bin/sleep "$W/image/bin/"
        mksquashfs "$W/image" "$W/app.squashfs" -noappend -quiet -all-root >/dev/null
        export MATRIX_IMAGE=$W/app.squashfs
        # bash -e does not stop on a failing "! CMD": checks write "not CMD".
        not() { if "$@"; then return 1; fi; }
        export -f not
        for f in "$P"/systemd.d/*.sh; do
                name=$(basename "$f" .sh)
                rc=0
                timeout 300 bash -eu "$f" >"$W/$name.log" 2>&1 || rc=$?
                if [ "$rc" -eq 77 ]; then  # not run here; its last line says why
                        echo "skip $name: $(tail -n1 "$W/$name.log")" | tee -a "$out"
                elif [ "$rc" -eq 0 ]; then
                        passed=$((passed + 1))
                        echo "ok   $name" | tee -a "$out"
                        # what the check measured, for the host's report
                        { grep -a '^figure: ' "$W/$name.log" || true; } | sed 's/^/     /' | tee -a "$out"
                else
                        failed=$((failed + 1))
                        names="$names${names:+,}$name"
                        echo "FAIL $name" | tee -a "$out"
                        tail -n 25 "$W/$name.log" | sed 's/^/     | /' | tee -a "$out"
                fi
        done
        echo "systemd guest: $passed passed, $failed failed" | tee -a "$out"
        result "$((passed + failed))" "$passed" "$failed" "$names"
        power_off
}

case $mode in
plain) plain ;;
systemd) systemd_checks ;;
*) echo "guest-run.sh: unknown mode $mode" >"$out"; result 0 0 0 bad-mode; power_off ;;
esac
