#!/bin/bash
# SPDX-License-Identifier: MIT
# The rocker command-line tool as a normal user allowed by AllowUsers= (issue
# 17; allowed here by AllowGroups=): run and enter go through rockerd's spawn requests; ps, stop and kill
# see and end the user's own rockers only; exit statuses are forwarded as for
# root. The user is created here (a unique name) and removed at the end.
#
# Usage: test_cli_user.sh ROCKER ROCKERD     (root only; exits 77 to be skipped)
# shellcheck disable=SC2016
set -u

ROCKER=${1:?usage: test_cli_user.sh ROCKER ROCKERD}
ROCKERD=${2:?usage: test_cli_user.sh ROCKER ROCKERD}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
skip_unless_root "rockerd mounts, and the user is made here" mksquashfs useradd userdel setpriv

T=$(mktemp -d /tmp/rocker-cli-user.XXXXXX) || exit 1
chmod 755 "$T"
U=rkcli$$
DAEMON=""
BG=()

# as_user ARGS...: rocker as $U; stdout in $T/out, stderr in $T/err, status in $RC.
as_user() {
        setpriv --reuid="$U" --regid="$U" --init-groups "$ROCKER" "$@" >"$T/out" 2>"$T/err"
        RC=$?
}
# The user's live rockers, as it sees them: "NAME PID" lines.
user_rockers() {
        setpriv --reuid="$U" --regid="$U" --init-groups "$ROCKER" ps --json 2>/dev/null |
                python3 -c 'import json,sys
for r in json.load(sys.stdin): print(r["guard"], r["pid"])'
}

cleanup() {
        local rc=$? leaks=0

        trap - EXIT INT TERM
        for p in "${BG[@]}"; do
                kill -TERM "$p" 2>/dev/null
        done
        if [ -n "$DAEMON" ]; then
                "$ROCKER" ps --json 2>/dev/null | python3 -c 'import json,sys
for r in json.load(sys.stdin):
    if r["image"].startswith(sys.argv[1] + "/"): print(r["pid"])' "$T" | while read -r p; do
                        "$ROCKER" kill "$p" 2>/dev/null
                done
                for p in "${BG[@]}"; do
                        wait "$p" 2>/dev/null
                done
                kill -TERM "$DAEMON" 2>/dev/null
                "$EVWAIT" gone "$DAEMON" 20 || echo "cleanup: rockerd did not stop"
        fi
        userdel "$U" >/dev/null 2>&1
        if ! wait_until eval '! grep -q " ${T}[/ ]" /proc/self/mountinfo'; then
                echo "LEAK: mounts under $T"
                leaks=1
        fi
        if ! wait_until eval '[ -z "$(losetup -j "$T/app.squashfs" 2>/dev/null)" ]'; then
                echo "LEAK: loop devices"
                leaks=1
        fi
        if [ "$FAILED" -ne 0 ] && [ -s "$T/rockerd.log" ]; then
                echo "rockerd's log:"
                tail -n 40 "$T/rockerd.log" | sed 's/^/    | /'
        fi
        rm -rf "$T"
        [ "$leaks" -ne 0 ] && [ "$rc" -eq 0 ] && rc=1
        [ "$FAILED" -ne 0 ] && [ "$rc" -eq 0 ] && rc=1
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

useradd -M -U -s /bin/sh "$U" || { echo "useradd failed"; exit 1; }
UID_=$(id -u "$U")
GID_=$(id -g "$U")

mkdir -p "$T/image/bin"
printf '#!/bin/sh\necho "hello from the image"\n' >"$T/image/bin/hello"
chmod 755 "$T/image/bin/hello"
mksquashfs "$T/image" "$T/app.squashfs" -noappend -quiet -all-root >/dev/null || exit 1
chmod 644 "$T/app.squashfs"
mkdir -m 0755 "$T/ovl"                         # overlaid; the exec dirs lie under it
for d in d1 d2 d3 d4; do
        mkdir -m 0700 "$T/$d" && chown "$U:$U" "$T/$d"
done
# By its group (useradd -U made one of its name): test_spawn_user covers AllowUsers=.
printf '[Policy]\nAllowGroups=%s\nMaxRockersPerUser=4\n' "$U" >"$T/rockerd.conf"

if ! DAEMON=$("$EVWAIT" rockerd "$T/sock" "$ROCKERD" --socket "$T/sock" --state-dir "$T/state" \
        --config "$T/rockerd.conf" 2>"$T/rockerd.log"); then
        echo "rockerd did not start:"
        cat "$T/rockerd.log"
        exit 1
fi
chmod 0666 "$T/sock"   # as rockerd.socket's SocketMode=0666: the user must connect
export ROCKER_SOCKET=$T/sock
RUN=(run --image "$T/app.squashfs" --overlay "$T/ovl")

# --- run ----------------------------------------------------------------------
as_user "${RUN[@]}" --exec-dir "$T/ovl/e1" --data-dir "$T/d1" -- "$T/ovl/e1/bin/hello"
expect_rc 0 "run as $U: the image's hello"
check "... prints the app's output" grep -qx 'hello from the image' "$T/out"

as_user "${RUN[@]}" --exec-dir "$T/ovl/e1" --data-dir "$T/d1" -- sh -c 'echo $(id -u):$(id -g); exit 7'
expect_rc 7 "run as $U forwards the exit status"
check "... CMD runs as the user (a PATH lookup inside)" grep -qx "$UID_:$GID_" "$T/out"

as_user "${RUN[@]}" --exec-dir "$T/ovl/e1" --data-dir "$T/d1" -- sh -c 'kill -TERM $$'
expect_rc 143 "run as $U forwards a death by signal as 128+N"

as_user "${RUN[@]}" --exec-dir "$T/ovl/e1" --data-dir "$T/d1" --uid 1 -- true
expect_rc 125 "run as $U for another uid is refused by rockerd"
check "... saying why" grep -q "not the caller's own" "$T/err"

as_user "${RUN[@]}" --exec-dir "$T/nope" --data-dir "$T/d1" -- true
check "run as $U with an exec dir that does not exist is refused" grep -q "rockerd creates no host directory" "$T/err"

# --- a live rocker of the user's: ps, enter, stop; another: kill ------------------
setpriv --reuid="$U" --regid="$U" --init-groups "$ROCKER" "${RUN[@]}" --exec-dir "$T/ovl/e2" --data-dir "$T/d2" \
        -- sleep 60 >"$T/bg1.out" 2>&1 &
BG1=$!
BG+=("$BG1")
"$ROCKER" run --keep --image "$T/app.squashfs" --exec-dir "$T/rootexec" --data-dir "$T/rootdata" -- true \
        >"$T/root.out" 2>&1
read -r RNAME RPID _ <"$T/root.out"
check "root has a rocker of its own" test -n "${RNAME:-}"
check "ps as $U lists its rocker" wait_until eval '[ "$(user_rockers | wc -l)" -eq 1 ]'
read -r NAME GPID _ < <(user_rockers)
check "... and not root's" eval '! user_rockers | grep -q "${RNAME:-none}"'

as_user enter "$NAME" -- cat /proc/1/comm
expect_rc 0 "enter as $U into its own rocker"
check "... runs inside it (PID 1 is its guard)" grep -qx "$NAME" "$T/out"
as_user enter "$NAME" -- sh -c 'exit 5'
expect_rc 5 "enter as $U forwards the exit status"
# Root's rocker is not listed to the user: by name it does not exist; by
# pid rockerd refuses.
as_user kill "$RNAME"
check "kill as $U of root's rocker by name: no such rocker" grep -q "no such rocker" "$T/err"
as_user enter "$RPID" -- true
check "enter as $U into root's rocker is refused" grep -q "not yours" "$T/err"
as_user kill "$RPID"
check "kill as $U of root's rocker is refused" grep -q "not yours" "$T/err"
as_user stop "$RPID"
check "stop as $U of root's rocker is refused" grep -q "not yours" "$T/err"
check "... and root's rocker lives" test -e "/proc/$RPID"

as_user stop "$NAME"
expect_rc 0 "stop as $U of its own rocker"
wait "$BG1"
RC=$?
expect_rc 143 "... its rocker run ends with CMD's SIGTERM"

setpriv --reuid="$U" --regid="$U" --init-groups "$ROCKER" "${RUN[@]}" --exec-dir "$T/ovl/e3" --data-dir "$T/d3" \
        -- sleep 60 >"$T/bg2.out" 2>&1 &
BG2=$!
BG+=("$BG2")
check "a second rocker of $U" wait_until eval '[ "$(user_rockers | wc -l)" -eq 1 ]'
read -r NAME GPID _ < <(user_rockers)
as_user kill "$NAME"
expect_rc 0 "kill as $U of its own rocker"
wait "$BG2"
RC=$?
expect_rc 137 "... its rocker run ends with SIGKILL"
check "no rocker of $U is left" wait_until eval '[ "$(user_rockers | wc -l)" -eq 0 ]'

"$ROCKER" kill "$RNAME" >/dev/null 2>&1
"$EVWAIT" gone "$RPID" 20 >/dev/null || fail "root's rocker did not end"

echo "$FAILED failed"
