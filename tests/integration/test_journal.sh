#!/bin/bash
# rockerd's structured journal fields, with journald played by this script:
# a datagram socket at /run/systemd/journal/socket (only where no journald
# owns that path), rockerd started with JOURNAL_STREAM set, one rocker built
# and killed; the native-protocol entries must carry APP_ID, GUARD_NAME,
# GUARD_PID, PEER_PID, PEER_UID and PRIORITY.
#   test_journal.sh ROCKERD SEED_EXAMPLE
set -euo pipefail
rockerd=$1 seed=$2
evwait=$(dirname "$0")/evwait.py
[ "$(id -u)" -eq 0 ] || exit 77
sock=/run/systemd/journal/socket
if [ -e "$sock" ] || [ -e /run/systemd/journal ]; then
        echo "a journal already owns /run/systemd/journal: skipped"
        exit 77
fi

T=$(mktemp -d /tmp/rocker-journal.XXXXXX)
daemon="" listener=""
cleanup() {
        [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
        [ -n "$listener" ] && kill "$listener" 2>/dev/null && wait "$listener" 2>/dev/null || true
        rm -rf /run/systemd/journal "$T"
        rmdir /run/systemd 2>/dev/null || true
}
trap cleanup EXIT

mkdir -p /run/systemd/journal
mkfifo "$T/bound"
python3 - "$sock" "$T/entries" "$T/bound" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
fd = os.open(sys.argv[3], os.O_WRONLY)  # waits for the reader below
os.write(fd, b"bound\n")
os.close(fd)
with open(sys.argv[2], "w") as out:
    while True:
        data = s.recv(65536)
        out.write(data.decode(errors="replace").replace("\n", "|") + "\n")
        out.flush()
PY
listener=$!
"$evwait" line "$T/bound" 20 >/dev/null

mkdir -p "$T/image"
echo journal > "$T/image/README"
mksquashfs "$T/image" "$T/app.squashfs" -noappend -quiet -all-root >/dev/null
mkfifo "$T/listening"
JOURNAL_STREAM=8:1 "$evwait" exec-rockerd "$T/sock" "$T/listening" \
        "$rockerd" --socket "$T/sock" --state-dir "$T/state" 2>"$T/stderr" &
daemon=$!
"$evwait" line "$T/listening" 20 >/dev/null
ROCKER_SOCKET="$T/sock" "$seed" "$T/app.squashfs" "$T/exec" "$T/data" >"$T/out"
name=$(sed -n 's/.*rocker guard \(rk-[a-z0-9]*\) .*/\1/p' "$T/out")
# rockerd logs the end once it has handled the guard's exit: a line in a
# file, no event for it; a fixed-interval look, within a 10 s bound.
for _ in $(seq 200); do grep -q "ended" "$T/entries" 2>/dev/null && break; sleep 0.05; done

fail=0
check() {
        if grep -q -- "$1" "$T/entries"; then echo "ok: $2"; else echo "FAIL: $2"; fail=1; fi
}
check "MESSAGE=rocker $name started.*|PRIORITY=6|APP_ID=1000|GUARD_NAME=$name|GUARD_PID=[0-9]*|PEER_PID=[0-9]*|PEER_UID=0" \
      "the start of $name carries its fields"
check "MESSAGE=rocker $name (guard pid [0-9]*, app 1000) ended.*|APP_ID=1000|GUARD_NAME=$name" "its end too"
echo "stderr kept only what has no fields:"; sed 's/^/   | /' "$T/stderr"
if grep -q "started:" "$T/stderr"; then echo "FAIL: the structured line also went to stderr"; fail=1; fi
exit $fail
