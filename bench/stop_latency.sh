#!/bin/bash
# SPDX-License-Identifier: MIT
# How long a graceful stop takes, against a private rockerd:
#  - TERM handled: the app exits in its SIGTERM handler; time from
#    `rocker stop` to its return (the rocker gone: guard exited, rockerd no
#    longer lists it), N stops;
#  - TERM ignored: the app ignores SIGTERM; StopTimeoutSec=1; time to the
#    forced kill (`rocker stop` returning), 3 stops.
# One table: count, median, p99 (nearest rank), min and max of each.
#
#   bench/stop_latency.sh BUILD_DIR [N]     (root; under the itest lock:
#   flock /tmp/rocker-itest.lock bench/stop_latency.sh build-test 20)
set -eu
build=$(cd "${1:?usage: stop_latency.sh BUILD_DIR [N]}" && pwd)
n=${2:-20}
src=$(cd "$(dirname "$0")/.." && pwd)
evwait=$src/tests/integration/evwait.py
rocker=$build/src/cli/rocker
T=$(mktemp -d /tmp/rocker-stop-bench.XXXXXX)
chmod 755 "$T"
mkdir -m 1777 "$T/shared"
daemon=""
cleanup() {
        if [ -n "$daemon" ]; then
                kill -TERM "$daemon" 2>/dev/null
                "$evwait" gone "$daemon" 20 || true
        fi
        rm -rf "$T"
}
trap cleanup EXIT

mkdir -p "$T/image/bin"
cat >"$T/image/bin/app" <<'APP'
#!/bin/sh
trap "$2" TERM
cat /proc/1/comm >"$1"
while :; do sleep 1000 & wait; done
APP
chmod 755 "$T/image/bin/app"
mksquashfs "$T/image" "$T/app.squashfs" -noappend -quiet -all-root >/dev/null
printf '[Rocker]\nStopTimeoutSec=1\n' >"$T/rockerd.conf"
daemon=$("$evwait" rockerd "$T/sock" "$build/rockerd" --config "$T/rockerd.conf" --socket "$T/sock" \
        --state-dir "$T/state" 2>"$T/rockerd.log")
export ROCKER_SOCKET=$T/sock

# one_stop TRAP: starts the app with TRAP as its TERM handler, stops it,
# prints the ms `rocker stop` took.
one_stop() {
        local name t0 t1
        rm -f "$T/shared/ready"
        mkfifo -m 666 "$T/shared/ready"
        "$rocker" run --uid 1000 --gid 1000 --image "$T/app.squashfs" --exec-dir /opt/bench \
                --data-dir "$T/data" -- /opt/bench/bin/app "$T/shared/ready" "$1" >/dev/null 2>&1 &
        name=$("$evwait" line "$T/shared/ready" 20)
        t0=$(date +%s%N)
        "$rocker" stop "$name"
        t1=$(date +%s%N)
        wait $! || true
        echo $(((t1 - t0) / 1000))
}

# stats WHAT: one table row from the microseconds on stdin: count, median,
# p99 (nearest rank), min and max, in ms.
stats() {
        sort -n | awk -v what="$1" '{ v[NR] = $1 } END {
                m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                r = int(NR * 0.99); if (r < NR * 0.99) r++
                printf "%-52s %5d %9.1f %9.1f %9.1f %9.1f\n", what, NR, m / 1000, v[r] / 1000, v[1] / 1000, v[NR] / 1000 }'
}

printf '%-52s %5s %9s %9s %9s %9s\n' "rocker stop NAME -> returns (rocker gone)" n "median ms" "p99 ms" "min ms" "max ms"
for _ in $(seq "$n"); do one_stop 'exit 0'; done | stats "TERM handled (the app exits in its handler)"
for _ in 1 2 3; do one_stop ''; done | stats "TERM ignored, StopTimeoutSec=1 (to the forced kill)"
