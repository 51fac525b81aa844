#!/bin/bash
# rockerd's structured journal fields, with journald played by this script:
# a datagram socket at /run/systemd/journal/socket (only where no journald
# owns that path), rockerd started with JOURNAL_STREAM set, one rocker built
# and killed; the native-protocol entries must carry APP_ID, GUARD_NAME,
# GUARD_PID, PEER_PID, PEER_UID and PRIORITY.
#   test_journal.sh ROCKERD SEED_EXAMPLE
set -euo pipefail
rockerd=$1 seed=$2
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
python3 - "$sock" "$T/entries" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "w") as out:
    while True:
        data = s.recv(65536)
        out.write(data.decode(errors="replace").replace("\n", "|") + "\n")
        out.flush()
PY
listener=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.02; done

mkdir -p "$T/image"
echo journal > "$T/image/README"
mksquashfs "$T/image" "$T/app.squashfs" -noappend -quiet -all-root >/dev/null
JOURNAL_STREAM=8:1 "$rockerd" --socket "$T/sock" --state-dir "$T/state" 2>"$T/stderr" &
daemon=$!
for _ in $(seq 200); do [ -S "$T/sock" ] && break; sleep 0.02; done
ROCKER_SOCKET="$T/sock" "$seed" "$T/app.squashfs" "$T/exec" "$T/data" >"$T/out"
name=$(sed -n 's/.*rocker guard \(rk-[a-z0-9]*\) .*/\1/p' "$T/out")
for _ in $(seq 100); do grep -q "ended" "$T/entries" 2>/dev/null && break; sleep 0.05; done

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
