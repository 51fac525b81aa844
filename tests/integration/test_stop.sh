#!/bin/bash
# SPDX-License-Identifier: MIT
# Stopping rockers (rocker stop, rocker kill --signal TERM, SIGTERM to the
# guard) and what rocker run leaves behind, against a private rockerd with a
# short StopTimeoutSec=; and the environment rocker run gives CMD.
#
# Usage: test_stop.sh ROCKER ROCKERD     (root only; exits 77 to be skipped)
#
# Every wait is on an event, bounded: a line in a FIFO the app writes, a
# pidfd (evwait.py), or rocker's own return; never a fixed sleep.
# shellcheck disable=SC2016
set -u

ROCKER=${1:?usage: test_stop.sh ROCKER ROCKERD}
ROCKERD=${2:?usage: test_stop.sh ROCKER ROCKERD}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
skip_unless_root "rockerd serves root peers only" mksquashfs python3

T=$(mktemp -d /tmp/rocker-stop-test.XXXXXX) || exit 1
chmod 755 "$T"
mkdir -m 1777 "$T/shared"
IMG=$T/app.squashfs
EXEC=/opt/stoptest
DAEMON=""
GRACE=1         # StopTimeoutSec= of this rockerd, seconds
BOUND=20        # how long any event may take, on the slowest machine

now_ms() { date +%s%3N; }

# A FIFO the apps (another uid) write their "ready" lines to.
fifo() {
        rm -f "$T/shared/$1"
        mkfifo -m 666 "$T/shared/$1"
}
# The first line written to FIFO $1 (the app writes its guard's name, read
# from /proc/1/comm inside the rocker, once its TERM handler is set).
ready_line() { "$EVWAIT" line "$T/shared/$1" "$BOUND"; }

listed_ours() {
        "$ROCKER" ps --json | python3 -c '
import json, sys
sys.exit(0 if any(r["image"] == sys.argv[1] for r in json.load(sys.stdin)) else 1)' "$IMG"
}

# The guard pid of rocker $1, as rockerd lists it.
guard_pid() {
        "$ROCKER" ps --json | python3 -c '
import json, sys
print(next((r["pid"] for r in json.load(sys.stdin) if r["guard"] == sys.argv[1]), 0))' "$1"
}

cleanup() {
        local rc=$? leaks=0

        trap - EXIT INT TERM
        if [ -n "$DAEMON" ]; then
                "$ROCKER" ps --json 2>/dev/null | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    if r["image"] == sys.argv[1]:
        print(r["pid"])' "$IMG" 2>/dev/null | while read -r p; do
                        echo "cleanup: killing leftover rocker $p"
                        "$ROCKER" kill "$p" 2>/dev/null
                        "$EVWAIT" gone "$p" "$BOUND"
                done
                kill -TERM "$DAEMON" 2>/dev/null
                "$EVWAIT" gone "$DAEMON" "$BOUND" || echo "cleanup: rockerd did not stop"
        fi
        # Loop devices are released asynchronously, after the last unmount;
        # no event tells it: look, at a fixed interval, within a bound.
        for _ in $(seq 200); do
                [ -z "$(losetup -j "$IMG" 2>/dev/null)" ] && break
                sleep 0.05
        done
        if grep -q " ${T}[/ ]" /proc/self/mountinfo; then
                echo "LEAK: mounts under $T:"
                grep " ${T}[/ ]" /proc/self/mountinfo
                leaks=1
        fi
        if [ -n "$(losetup -j "$IMG" 2>/dev/null)" ]; then
                echo "LEAK: loop devices on $IMG"
                leaks=1
        fi
        if [ "$FAILED" -ne 0 ] && [ -s "$T/rockerd.log" ]; then
                echo "rockerd's log:"
                sed 's/^/    | /' "$T/rockerd.log"
        fi
        rm -rf "$T"
        [ "$leaks" -ne 0 ] && [ "$rc" -eq 0 ] && rc=1
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir -p "$T/image/bin"
# app FIFO WORD: saves WORD in /var/tmp/gen on TERM; says it is up (its
# guard's name) on FIFO once its handler is set.
cat >"$T/image/bin/app" <<'APP'
#!/bin/sh
trap 'echo "$2" >/var/tmp/gen; exit 0' TERM
cat /proc/1/comm >"$1"
sleep 1000 & wait
APP
# stubborn FIFO: ignores TERM.
cat >"$T/image/bin/stubborn" <<'APP'
#!/bin/sh
trap '' TERM
cat /proc/1/comm >"$1"
while :; do sleep 1000; done
APP
# family FIFO: three children and a daemon (own session, its parent gone, so
# reparented to the guard), each saving /var/tmp/<its name> on TERM; says it
# is up once all four have their handler set (lines on FIFO.up).
cat >"$T/image/bin/family" <<'APP'
#!/bin/sh
case $1 in
child)
        trap 'echo "$2" >/var/tmp/"$2"; exit 0' TERM
        echo up >"$3"
        sleep 1000 & wait
        exit 0;;
daemon)
        setsid "$0" child daemon "$2" </dev/null >/dev/null 2>&1 &
        exit 0;;
esac
exec 3<>"$1.up"
for i in 1 2 3; do "$0" child child$i "$1.up" & done
"$0" daemon "$1.up"
for i in 1 2 3 4; do read -r _ <&3; done
trap 'wait; echo parent >/var/tmp/parent; exit 0' TERM
cat /proc/1/comm >"$1"
sleep 1000 & wait
APP
chmod 755 "$T/image/bin/"*
mksquashfs "$T/image" "$IMG" -noappend -quiet -all-root >/dev/null || { echo "mksquashfs failed"; exit 1; }

printf '[Rocker]\nStopTimeoutSec=%s\n' "$GRACE" >"$T/rockerd.conf"
mkdir -p "$T/apps.d"
printf '[Daemon]\nAppsDir=%s\n' "$T/apps.d" >>"$T/rockerd.conf"
# App 7 overrides the grace: 1min 30s, longer than any check waits.
printf '[Rocker]\nStopTimeoutSec=1min 30s\n' >"$T/apps.d/7.conf"
DAEMON=$("$EVWAIT" rockerd "$T/sock" "$ROCKERD" --config "$T/rockerd.conf" --socket "$T/sock" \
        --state-dir "$T/state" 2>"$T/rockerd.log") || { echo "rockerd did not start"; exit 1; }
export ROCKER_SOCKET=$T/sock
RUN=(run --uid 1000 --gid 1000 --image "$IMG" --exec-dir "$EXEC" --overlay /var)

# --- 1. an app whose TERM handler saves its state ------------------------------------
# App 7: its grace (90 s) is far longer than any machine takes to run the
# handler, so that a slow one is never cut short by it; the stop must still
# end well before the grace (within BOUND), i.e. when the app did.
fifo ready1
"$ROCKER" "${RUN[@]}" --app-id 7 --data-dir "$T/data1" -- "$EXEC/bin/app" "$T/shared/ready1" saved >"$T/run1.out" 2>&1 &
RUN1=$!
NAME=$(ready_line ready1)
check "the app is up (it named its guard: $NAME)" eval '[[ $NAME == rk-* ]]'
start=$(now_ms)
rk stop "$NAME"
elapsed=$(($(now_ms) - start))
expect_rc 0 "rocker stop $NAME"
check "... the app's TERM handler saved its state in the data dir" \
        grep -qx saved "$T/data1/overlay/var/upper/tmp/gen"
check "... when the app ended, not at the grace's end (${elapsed} ms < ${BOUND}000 ms, grace 90 s)" \
        test "$elapsed" -lt "${BOUND}000"
check "... and rockerd no longer lists it" eval '! listed_ours'
"$EVWAIT" gone "$RUN1" "$BOUND"
wait "$RUN1"
RC=$?
expect_rc 0 "rocker run of that app ends with its exit status"
check "rockerd says it stopped gracefully" grep -q "$NAME .*ended: stopped gracefully" "$T/rockerd.log"

# --- 2. an app that ignores TERM: SIGKILLed after the grace ------------------------
fifo ready2
"$ROCKER" "${RUN[@]}" --data-dir "$T/data2" -- "$EXEC/bin/stubborn" "$T/shared/ready2" >/dev/null 2>&1 &
RUN2=$!
NAME=$(ready_line ready2)
start=$(now_ms)
rk stop "$NAME"
elapsed=$(($(now_ms) - start))
expect_rc 0 "rocker stop of an app that ignores TERM"
check "... took the grace: $elapsed ms >= $((GRACE * 1000 - 50)) ms" test "$elapsed" -ge $((GRACE * 1000 - 50))
check "... and not much more: $elapsed ms < $((GRACE + 10))000 ms" test "$elapsed" -lt $((GRACE + 10))000
wait "$RUN2"
RC=$?
expect_rc 137 "the app died of SIGKILL"
check "rockerd says what was left was SIGKILLed" grep -q "$NAME .*SIGKILLed after the grace" "$T/rockerd.log"

# --- 3. children and a daemonised grandchild: all get TERM, all end ------------------
fifo ready3
fifo ready3.up
"$ROCKER" "${RUN[@]}" --data-dir "$T/data3" -- "$EXEC/bin/family" "$T/shared/ready3" >/dev/null 2>&1 &
RUN3=$!
NAME=$(ready_line ready3)
GPID=$(guard_pid "$NAME")
check "the guard keeps CAP_KILL alone (effective, permitted), bounding set empty" eval '
        grep -qx "CapEff:[[:space:]]*0000000000000020" /proc/$GPID/status &&
        grep -qx "CapPrm:[[:space:]]*0000000000000020" /proc/$GPID/status &&
        grep -qx "CapBnd:[[:space:]]*0000000000000000" /proc/$GPID/status'
rk stop --timeout 30 "$NAME"
expect_rc 0 "rocker stop --timeout 30 of an app with children and a daemon"
for f in child1 child2 child3 daemon parent; do
        check "... $f got TERM and saved" test -s "$T/data3/overlay/var/upper/tmp/$f"
done
check "... the guard is gone" eval '[ ! -e /proc/$GPID ] || ! grep -qx "$NAME" /proc/$GPID/comm'
check "... nothing of the rocker is left" eval '! listed_ours'
wait "$RUN3"

# --- 4. stopping a rocker that is gone ------------------------------------------------
rk stop "$NAME"
expect_rc 125 "rocker stop of a rocker already gone"
check "... says so in one line" eval '[ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "no such rocker" "$T/err"'
rk stop "$GPID"
expect_rc 125 "rocker stop of a gone guard's pid"
rk stop rk-nosuchguard000 "$NAME"
expect_rc 125 "rocker stop of two unknown rockers"
check "... tells both" eval '[ "$(wc -l <"$T/err")" -eq 2 ]'

# --- 5. rocker kill --signal TERM is a graceful stop; a relaunch waits for it ----------
fifo ready5
"$ROCKER" "${RUN[@]}" --data-dir "$T/data5" -- "$EXEC/bin/app" "$T/shared/ready5" one >/dev/null 2>&1 &
RUN5=$!
NAME=$(ready_line ready5)
rk kill --signal TERM "$NAME"
expect_rc 0 "rocker kill --signal TERM"
check "... the TERM handler ran" grep -qx one "$T/data5/overlay/var/upper/tmp/gen"
check "... and it is gone" eval '! listed_ours'
wait "$RUN5"

# A relaunch on the same data dir, sent right after SIGTERM to the guard
# (the launcher's own handle): it waits for the old rocker to be gone, and
# sees what its TERM handler saved.
fifo ready6
"$ROCKER" "${RUN[@]}" --app-id 7 --data-dir "$T/data5" -- "$EXEC/bin/app" "$T/shared/ready6" two >/dev/null 2>&1 &
RUN6=$!
NAME=$(ready_line ready6)
GPID=$(guard_pid "$NAME")
kill -TERM "$GPID"
rk "${RUN[@]}" --data-dir "$T/data5" -- cat /var/tmp/gen
expect_rc 0 "a relaunch racing a stop on the same data dir waits for it"
check "... and reads what the stopped app saved" grep -qx two "$T/out"
wait "$RUN6"

# --- 6. rocker run returns once its rocker is gone -----------------------------------
left=0
for i in $(seq 100); do
        "$ROCKER" run --image "$IMG" --exec-dir "$EXEC" --data-dir "$T/data-loop" -- /bin/true || left=$((left + 1000))
        [ "$("$ROCKER" ps --json)" = "[]" ] || left=$((left + 1))
done
check "100 x rocker run /bin/true, each followed by rocker ps --json: '[]' every time ($left)" test "$left" -eq 0

# --- 7. CMD's environment matches its uid ----------------------------------------------
IFS=: read -r pw_name _ pw_uid _ _ pw_dir pw_shell < <(getent passwd daemon)
rk run --uid daemon --image "$IMG" --exec-dir "$EXEC" --data-dir "$T/data-env" -- \
        sh -c 'echo "$HOME|$USER|$LOGNAME|$SHELL"'
expect_rc 0 "run --uid daemon"
check "... HOME, USER, LOGNAME, SHELL from its passwd entry" grep -qx "$pw_dir|$pw_name|$pw_name|$pw_shell" "$T/out"
[ "$pw_uid" -gt 0 ] || fail "getent passwd daemon"
rk run --uid 54321 --gid 54321 --image "$IMG" --exec-dir "$EXEC" --data-dir "$T/data-env" -- \
        sh -c 'echo "$HOME|$USER|$LOGNAME"'
check "run --uid with no passwd entry: HOME=/, USER=LOGNAME=the uid" grep -qx "/|54321|54321" "$T/out"
HOME=/caller USER=caller rk run --uid daemon --keep-env --image "$IMG" --exec-dir "$EXEC" \
        --data-dir "$T/data-env" -- sh -c 'echo "$HOME|$USER"'
check "run --keep-env keeps the caller's" grep -qx "/caller|caller" "$T/out"
rk run --uid daemon --setenv HOME=/elsewhere --setenv FOO=a=b --image "$IMG" --exec-dir "$EXEC" \
        --data-dir "$T/data-env" -- sh -c 'echo "$HOME|$FOO|$USER"'
check "run --setenv sets and overrides" grep -qx "/elsewhere|a=b|$pw_name" "$T/out"
rk run --setenv NOEQUALS --image "$IMG" --exec-dir "$EXEC" --data-dir "$T/data-env" -- true
expect_rc 2 "run --setenv without = is a usage error"

echo "$CHECKS checks, $FAILED failed"
[ "$FAILED" -eq 0 ]
