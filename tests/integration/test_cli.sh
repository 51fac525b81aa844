#!/bin/bash
# SPDX-License-Identifier: MIT
# The rocker command-line tool against a private rockerd and a real squashfs
# image: run, enter, ps, kill, exit statuses, error lines, and no leftovers.
#
# Usage: test_cli.sh ROCKER ROCKERD     (root only; exits 77 to be skipped)
#
# Conditions given to check/eval are single-quoted on purpose: they expand
# when checked, as do the scripts run by sh -c inside a rocker.
# shellcheck disable=SC2016
set -u

ROCKER=${1:?usage: test_cli.sh ROCKER ROCKERD}
ROCKERD=${2:?usage: test_cli.sh ROCKER ROCKERD}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
skip_unless_root "rockerd serves root peers only" mksquashfs

# Everything the test creates lives in $T. The apps run as an unprivileged
# user: $T must be traversable, and $T/shared writable, by them.
T=$(mktemp -d /tmp/rocker-cli-test.XXXXXX) || exit 1
chmod 755 "$T"
mkdir -m 1777 "$T/shared"
IMG=$T/app.squashfs
EXEC=$T/exec
DAEMON=""
KEPT_PIDS=()

# One line on stderr, "rocker: ...".
one_error_line() {
        [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q '^rocker: ' "$T/err"
}

# wait_until (lib.sh) only for mounts and loop devices going away;
# processes are waited for on pidfds (pid_gone), apps tell they are up
# through a FIFO.

# pid_gone PID: waits on a pidfd (up to 20 s) for PID to exit.
pid_gone() {
        "$EVWAIT" gone "$1" 20
}

cleanup() {
        local rc=$? leaks=0

        trap - EXIT INT TERM
        # Our guards, by pid, name-checked: a pid reused meanwhile is spared.
        for p in "${KEPT_PIDS[@]}"; do
                if [ -r "/proc/$p/comm" ] && grep -q '^rk-' "/proc/$p/comm" 2>/dev/null; then
                        "$ROCKER" kill "$p" 2>/dev/null
                fi
        done
        # Any rocker still running from our image (a failed check may have
        # left one the test did not record).
        if [ -n "$DAEMON" ]; then
                "$ROCKER" ps --json 2>/dev/null | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    if r["image"].startswith(sys.argv[1] + "/"):
        print(r["pid"])' "$T" 2>/dev/null | while read -r p; do
                        echo "cleanup: killing leftover rocker $p"
                        "$ROCKER" kill "$p" 2>/dev/null
                done
        fi
        for p in "${KEPT_PIDS[@]}"; do
                pid_gone "$p" || echo "cleanup: guard $p did not end"
        done
        if [ -n "$DAEMON" ]; then
                kill -TERM "$DAEMON" 2>/dev/null
                pid_gone "$DAEMON" || echo "cleanup: rockerd did not stop"
        fi
        # The kernel tears mounts and loop devices down asynchronously.
        if ! wait_until eval '! grep -q " ${T}[/ ]" /proc/self/mountinfo'; then
                echo "LEAK: mounts under $T:"
                grep " ${T}[/ ]" /proc/self/mountinfo
                leaks=1
        fi
        if ! wait_until eval '[ -z "$(losetup -j "$IMG" 2>/dev/null)" ]'; then
                echo "LEAK: loop devices on $IMG:"
                losetup -j "$IMG"
                leaks=1
        fi
        if [ "$FAILED" -ne 0 ] && [ -s "$T/rockerd.log" ]; then
                echo "rockerd's log:"
                sed 's/^/    | /' "$T/rockerd.log"
        fi
        rm -rf "$T"
        if [ "$leaks" -ne 0 ] && [ "$rc" -eq 0 ]; then
                rc=1
        fi
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- the app image --------------------------------------------------------------
mkdir -p "$T/image/bin"
cat >"$T/image/bin/hello" <<'EOF'
#!/bin/sh
echo "hello from the image"
cat /proc/1/comm
EOF
chmod 755 "$T/image/bin/hello"
echo "not a program" >"$T/image/bin/data"
chmod 644 "$T/image/bin/data"
mksquashfs "$T/image" "$IMG" -noappend -quiet -all-root >/dev/null || {
        echo "mksquashfs failed"
        exit 1
}

# --- a private rockerd ---------------------------------------------------------
# Its socket is made (and passed, as systemd would) before it starts: it
# takes connections as soon as this returns, no wait for it to be up.
if ! DAEMON=$("$EVWAIT" rockerd "$T/sock" "$ROCKERD" --socket "$T/sock" --state-dir "$T/state" \
        2>"$T/rockerd.log"); then
        echo "rockerd did not start:"
        cat "$T/rockerd.log"
        exit 1
fi
export ROCKER_SOCKET=$T/sock

RUN=(run --image "$IMG" --exec-dir "$EXEC" --data-dir "$T/data")

# --- help, version, usage errors --------------------------------------------------
rk --help
expect_rc 0 "--help"
check "--help prints the usage on stdout" grep -q '^Usage: rocker' "$T/out"
check "--help lists the commands" grep -q 'enter' "$T/out"

rk --version
expect_rc 0 "--version"
check "--version prints 'rocker X.Y.Z'" grep -Eqx 'rocker [0-9]+\.[0-9]+\.[0-9]+' "$T/out"

rk run --help
expect_rc 0 "run --help"
check "run --help documents --keep" grep -q -- '--keep' "$T/out"

rk run --exec-dir "$EXEC" --data-dir "$T/data" -- true
expect_rc 2 "run without --image is a usage error"
check "... in one line" one_error_line
check "... naming --image and pointing at the help" grep -q -- "--image.*rocker run --help" "$T/err"

rk run --image "$IMG" --exec-dir "$EXEC" --data-dir "$T/data"
expect_rc 2 "run without a command is a usage error"

rk run --bogus
expect_rc 2 "run with an unknown option is a usage error"
check "... in one line" one_error_line

rk frobnicate
expect_rc 2 "an unknown command is a usage error"

rk kill not-a-guard
expect_rc 2 "kill with neither a name nor a pid is a usage error"

# --- run: output and exit status -------------------------------------------------
rk "${RUN[@]}" -- "$EXEC/bin/hello"
expect_rc 0 "run the image's hello"
check "run prints the app's output" grep -qx 'hello from the image' "$T/out"
check "PID 1 of the rocker is a guard" grep -q '^rk-' "$T/out"

rk "${RUN[@]}" -- sh -c 'exit 7'
expect_rc 7 "run forwards the exit status"

rk "${RUN[@]}" -- sh -c 'kill -TERM $$'
expect_rc 143 "run forwards a death by signal as 128+N"

rk "${RUN[@]}" -- /nonexistent/command
expect_rc 127 "run of a missing command"
check "... says so in one line" one_error_line

rk "${RUN[@]}" -- "$EXEC/bin/data"
expect_rc 126 "run of a non-executable file"
check "... says so in one line" one_error_line

rk "${RUN[@]}" --uid 1234 --gid 4321 -- sh -c 'echo $(id -u):$(id -g)'
expect_rc 0 "run --uid --gid"
check "... runs CMD as 1234:4321" grep -qx '1234:4321' "$T/out"

env -u SUDO_UID -u SUDO_GID "$ROCKER" "${RUN[@]}" -- id -u >"$T/out" 2>"$T/err"
RC=$?
expect_rc 0 "run with no --uid and no SUDO_UID"
check "... runs CMD as nobody" grep -qx 65534 "$T/out"

# Nothing is left behind by run without --keep.
rk ps --json
check "no rocker left after run" python3 -c 'import json,sys; sys.exit(len(json.load(sys.stdin)) != 0)' <"$T/out"

# --- signals reach CMD ---------------------------------------------------------
mkfifo -m 666 "$T/shared/ready"
"$ROCKER" run --image "$IMG" --exec-dir "$EXEC" --data-dir "$T/data-fwd" -- \
        sh -c "trap 'exit 9' TERM; echo up >$T/shared/ready; sleep 30 & wait" >"$T/fwd.out" 2>&1 &
FWD=$!
if "$EVWAIT" line "$T/shared/ready" 20 >/dev/null; then
        kill -TERM "$FWD"
        wait "$FWD"
        RC=$?
        expect_rc 9 "SIGTERM to rocker run is forwarded to CMD"
        rk ps
        check "... and its rocker is gone" eval '! grep -q "$T/data-fwd" "$T/out"'
else
        fail "the signal-forwarding app did not start"
        kill -TERM "$FWD"
        wait "$FWD"
fi

# --- run --keep, ps, enter, kill ---------------------------------------------------
rk run --keep --image "$IMG" --exec-dir "$EXEC" --data-dir "$T/data-keep" -- true
expect_rc 0 "run --keep"
read -r NAME GPID _ <"$T/out"
NAME=${NAME:-} GPID=${GPID:-0}
[ "$GPID" -gt 0 ] 2>/dev/null && KEPT_PIDS+=("$GPID")
check "run --keep prints the guard's name and pid" eval '[[ $NAME == rk-* && $GPID -gt 0 ]]'
check "... and the guard lives" test -e "/proc/$GPID"
check "... with that name" grep -qx "$NAME" "/proc/$GPID/comm"

rk ps
expect_rc 0 "ps"
check "ps prints a header" eval 'head -n1 "$T/out" | grep -Eq "^GUARD +PID +APP +UID +AGE +MEM +CPU +IMAGE +DATA DIR$"'
check "ps lists the kept rocker (name and pid)" \
        grep -Eq "^$NAME +$GPID +0 +[0-9]+ +[0-9]+[smhd].* $IMG +$T/data-keep\$" "$T/out"

rk ps --json
expect_rc 0 "ps --json"
if command -v python3 >/dev/null; then
        check "ps --json is valid JSON" python3 -c 'import json,sys; json.load(sys.stdin)' <"$T/out"
        check "ps --json lists the kept rocker" python3 -c '
import json, sys
name, pid, image, data = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
l = json.load(sys.stdin)
sys.exit(not any(r["guard"] == name and r["pid"] == pid and r["image"] == image and
                 r["data_dir"] == data and isinstance(r["age_ms"], int) for r in l))' \
                "$NAME" "$GPID" "$IMG" "$T/data-keep" <"$T/out"
fi

rk enter "$NAME" -- cat /proc/1/comm
expect_rc 0 "enter by name"
check "... runs inside the rocker (PID 1 is the guard)" grep -qx "$NAME" "$T/out"

rk enter "$GPID" -- cat /proc/1/comm
expect_rc 0 "enter by pid"
check "... runs inside the rocker (PID 1 is the guard)" grep -qx "$NAME" "$T/out"

rk enter "$NAME" -- sh -c 'exit 5'
expect_rc 5 "enter forwards the exit status"

rk enter "$NAME" -- /nonexistent/command
expect_rc 127 "enter of a missing command"

rk enter --uid 1234 "$NAME" --gid 4321 -- sh -c 'echo $(id -u):$(id -g)'
expect_rc 0 "enter --uid before and --gid after the guard"
check "... runs CMD as 1234:4321" grep -qx '1234:4321' "$T/out"

rk enter "$NAME" id -u
expect_rc 0 "enter without --"
check "... runs CMD as nobody or \$SUDO_UID" grep -qx "${SUDO_UID:-65534}" "$T/out"

check "the rocker outlives enter" test -e "/proc/$GPID"

rk enter 1 -- true
expect_rc 125 "enter of a pid that is no guard"
check "... says so in one line" one_error_line

rk kill "$NAME"
expect_rc 0 "kill by name"
check "... ends the guard" pid_gone "$GPID"
rk ps
check "... and ps no longer lists it" eval '! grep -q "^$NAME " "$T/out"'

rk kill "$NAME"
expect_rc 125 "kill of a rocker already gone"

rk kill rk-nosuchguard000
expect_rc 125 "kill of an unknown guard"
check "... fails in one line" one_error_line

# kill by pid, with a chosen signal.
rk run --keep --image "$IMG" --exec-dir "$EXEC" --data-dir "$T/data-keep" -- true
read -r _ GPID2 _ <"$T/out"
GPID2=${GPID2:-0}
[ "$GPID2" -gt 0 ] 2>/dev/null && KEPT_PIDS+=("$GPID2")
rk kill --signal SIGKILL "$GPID2"
expect_rc 0 "kill --signal SIGKILL by pid"
check "... ends the guard" pid_gone "$GPID2"

rk kill --signal NOTASIGNAL "$GPID2"
expect_rc 2 "kill with a bad --signal is a usage error"

# --- the daemon is away -----------------------------------------------------------
ROCKER_SOCKET=$T/no-such-socket "$ROCKER" ps >"$T/out" 2>"$T/err"
RC=$?
expect_rc 125 "ps without rockerd"
check "... fails in one line" one_error_line

echo "$CHECKS checks, $FAILED failed"
[ "$FAILED" -eq 0 ]
