#!/bin/bash
# SPDX-License-Identifier: MIT
#
# rockerd under socket activation, without systemd as PID 1: this script
# plays systemd's part the way rockerd.socket and rockerd.service set it up.
# A listening AF_UNIX SOCK_SEQPACKET socket is passed as fd 3 (LISTEN_FDS=1,
# LISTEN_PID = the pid that execs rockerd, not close-on-exec, O_NONBLOCK as
# NonBlocking=yes asks), and NOTIFY_SOCKET names an AF_UNIX SOCK_DGRAM socket
# whose messages are recorded with the sender's pid, as systemd checks it for
# NotifyAccess=main. Then:
#
#   - the generated units pass `systemd-analyze verify` (when it exists)
#   - a stream socket passed as fd 3 makes rockerd fail, clearly, at once
#   - READY=1 and STATUS= arrive from rockerd's pid
#   - rockerd says it uses the socket passed by systemd
#   - the seed's example runs through the passed socket
#   - SIGTERM: STOPPING=1, exit status 0
#   - nothing is left: no mount under the temp dir, no loop device on the
#     image, no guard we caused
#
#   test_activation.sh ROCKERD SEED_EXAMPLE
#
# Exit 0 on success, 1 on failure, 77 when it cannot run here (not root,
# missing tools). ROCKER_UNIT_DIR names the directory of the generated units
# (the build tree's systemd/); without it they are looked for beside ROCKERD.
# wait_for evaluates its condition later, hence the single quotes; cleanup()
# runs from the EXIT trap.
# shellcheck disable=SC2016,SC2317

set -u

ROCKERD=${1:?usage: test_activation.sh ROCKERD SEED_EXAMPLE}
SEED=${2:?usage: test_activation.sh ROCKERD SEED_EXAMPLE}

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (rockerd mounts and clones namespaces)"
for tool in python3 mksquashfs losetup timeout; do
        command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done
[ -x "$ROCKERD" ] || { echo "FAIL: $ROCKERD is not executable"; exit 1; }
[ -x "$SEED" ] || { echo "FAIL: $SEED is not executable"; exit 1; }

T=$(mktemp -d /tmp/rocker-activation.XXXXXX) || exit 1
chmod 0755 "$T"   # the app (uid 1000) lists the image mounted under it
IMAGE=$T/app.squashfs
failures=0
act_pid=""        # the python "systemd" of the current case
seed_pid=""       # timeout(1) running seed_example
guards=""         # "pid:name" of every guard rockerd reported

# --- helpers -------------------------------------------------------------

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# comm of pid, empty if it is gone
comm_of() { cat "/proc/$1/comm" 2>/dev/null; }

# Waits (up to $2 tenths of a second) for the shell condition $1.
wait_for() {
        local i
        for ((i = 0; i < $2; i++)); do
                eval "$1" && return 0
                sleep 0.1
        done
        eval "$1"
}

# Mounts whose mount point lies under $T, as this (the host's) namespace sees them.
mounts_under_t() { awk -v t="$T" '$5 == t || index($5, t "/") == 1 { print $5 }' /proc/self/mountinfo; }

# Guards named in rockerd's log, as "pid:name".
collect_guards() {
        local log=$1
        [ -f "$log" ] || return 0
        guards="$guards $(sed -n 's/.*rocker \(rk-[a-z0-9]*\) started: guard pid \([0-9]*\),.*/\2:\1/p' "$log" | tr '\n' ' ')"
}

# Guards that are still alive (same pid, same name: a reused pid is not ours).
live_guards() {
        local g
        for g in $guards; do
                [ "$(comm_of "${g%%:*}")" = "${g#*:}" ] && echo "$g"
        done
}

# Stops the current case's rockerd and its python parent: by pid only, and
# only while the pid still runs what we started.
stop_case() {
        local rpid=""
        [ -f "$T/case/rockerd.pid" ] && rpid=$(cat "$T/case/rockerd.pid")
        if [ -n "$rpid" ] && [ "$(comm_of "$rpid")" = rockerd ]; then
                kill -TERM "$rpid" 2>/dev/null
                wait_for '[ "$(comm_of "$rpid")" != rockerd ]' 50 || kill -KILL "$rpid" 2>/dev/null
        fi
        if [ -n "$act_pid" ]; then
                wait_for '! kill -0 "$act_pid" 2>/dev/null' 30 || kill -KILL "$act_pid" 2>/dev/null
                wait "$act_pid" 2>/dev/null
                act_pid=""
        fi
}

cleanup() {
        local g m dev
        if [ -n "$seed_pid" ]; then
                kill -TERM "$seed_pid" 2>/dev/null   # timeout(1) passes it on
                wait "$seed_pid" 2>/dev/null
        fi
        stop_case
        collect_guards "$T/case/rockerd.log"
        for g in $(live_guards); do
                echo "cleanup: killing guard ${g#*:} (pid ${g%%:*})"
                kill -KILL "${g%%:*}" 2>/dev/null
        done
        # Mounts or loop devices here mean a bug (already reported); undo them.
        for m in $(mounts_under_t | sort -r); do
                echo "cleanup: unmounting $m"
                umount -l "$m" 2>/dev/null
        done
        for dev in $(losetup -j "$IMAGE" 2>/dev/null | cut -d: -f1); do
                echo "cleanup: detaching $dev"
                losetup -d "$dev" 2>/dev/null
        done
        if [ -z "$(mounts_under_t)" ]; then
                rm -rf "$T"
        else
                echo "cleanup: $T still has mounts; left in place"
        fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# The "systemd" of one case: creates the sockets, forks, and in the child
# puts the listening socket on fd 3 and execs rockerd with the activation
# environment. The parent records every notification as "<sender pid> <line>"
# and, once rockerd is gone, its exit status.
cat > "$T/activate.py" <<'EOF'
import ctypes, os, select, signal, socket, struct, sys

PR_SET_PDEATHSIG = 1
libc = ctypes.CDLL(None, use_errno=True)
# Should the test itself be killed outright (ctest's timeout), this helper
# dies with it, and rockerd gets SIGTERM from its own parent-death signal.
libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

kind, sock_path, notify_path, case_dir = sys.argv[1:5]
argv = sys.argv[5:]   # rockerd and its arguments
stype = {"seqpacket": socket.SOCK_SEQPACKET, "stream": socket.SOCK_STREAM}[kind]

listener = socket.socket(socket.AF_UNIX, stype)
listener.bind(sock_path)
os.chmod(sock_path, 0o666)             # SocketMode=0666
listener.listen(socket.SOMAXCONN)      # Backlog= defaults to SOMAXCONN
listener.setblocking(False)            # NonBlocking=yes in rockerd.service

notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
notify.bind(notify_path)
notify.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)

log = open(os.path.join(case_dir, "rockerd.log"), "wb")
pid = os.fork()
if pid == 0:
    try:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)   # kept across execve
        # dup2() leaves the new fd without FD_CLOEXEC, as systemd passes it.
        if listener.fileno() != 3:
            os.dup2(listener.fileno(), 3, inheritable=True)
        else:
            os.set_inheritable(3, True)
        os.dup2(os.open("/dev/null", os.O_RDONLY), 0)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        os.closerange(4, os.sysconf("SC_OPEN_MAX"))   # only the passed fds
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "LISTEN_FDS": "1",
            "LISTEN_PID": str(os.getpid()),   # the pid that execs rockerd
            "LISTEN_FDNAMES": "rockerd.socket",
            "NOTIFY_SOCKET": notify_path,
        }
        os.execve(argv[0], argv, env)
    finally:
        os._exit(127)

listener.close()   # systemd keeps its copy; the test needs none
with open(os.path.join(case_dir, "rockerd.pid"), "w") as f:
    f.write("%d\n" % pid)

out = open(os.path.join(case_dir, "notify.log"), "w")
ucred_size = struct.calcsize("3i")

def drain():
    while True:
        try:
            data, anc, _, _ = notify.recvmsg(4096, socket.CMSG_SPACE(ucred_size), socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        sender = -1
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                sender = struct.unpack("3i", cdata[:ucred_size])[0]
        for line in data.decode(errors="replace").split("\n"):
            if line:
                out.write("%d %s\n" % (sender, line))
        out.flush()

status = None
while status is None:
    select.select([notify], [], [], 0.1)
    drain()
    wpid, st = os.waitpid(pid, os.WNOHANG)
    if wpid == pid:
        status = st
drain()
with open(os.path.join(case_dir, "exit"), "w") as f:
    if os.WIFEXITED(status):
        f.write("exit %d\n" % os.WEXITSTATUS(status))
    else:
        f.write("signal %d\n" % os.WTERMSIG(status))
EOF

# Starts one case: a fresh case dir, sockets in it, rockerd exec'ed.
start_case() {
        rm -rf "$T/case"
        mkdir -p "$T/case"
        # The state dir is the only option: /run/rocker is not the test's to use.
        python3 "$T/activate.py" "$1" "$T/case/rockerd.sock" "$T/case/notify.sock" "$T/case" \
                "$ROCKERD" --state-dir "$T/case/state" &
        act_pid=$!
        wait_for '[ -s "$T/case/rockerd.pid" ]' 50 || { fail "the activation helper did not start rockerd"; return 1; }
        RPID=$(cat "$T/case/rockerd.pid")
}

show_case() {
        echo "--- rockerd's log:"; cat "$T/case/rockerd.log" 2>/dev/null
        echo "--- notifications (sender pid, assignment):"; cat "$T/case/notify.log" 2>/dev/null
        echo "---"
}

# --- 1. the generated units ----------------------------------------------

unit_dir=${ROCKER_UNIT_DIR:-$(dirname "$ROCKERD")/systemd}
if ! command -v systemd-analyze >/dev/null 2>&1; then
        echo "note: systemd-analyze not installed: units not verified"
elif [ ! -f "$unit_dir/rockerd.service" ] || [ ! -f "$unit_dir/rockerd.socket" ]; then
        fail "generated units not found in $unit_dir (set ROCKER_UNIT_DIR)"
else
        # verify checks that ExecStart= exists: point it at the rockerd under test.
        mkdir -p "$T/units"
        sed "s|^ExecStart=.*|ExecStart=$ROCKERD|" "$unit_dir/rockerd.service" > "$T/units/rockerd.service"
        cp "$unit_dir/rockerd.socket" "$T/units/"
        # It exits 0 on unknown keys and bad values: any output is a failure.
        out=$(cd "$T/units" && systemd-analyze verify --man=no ./rockerd.socket ./rockerd.service 2>&1)
        rc=$?
        if [ $rc -ne 0 ] || [ -n "$out" ]; then
                fail "systemd-analyze verify (exit $rc):"; echo "$out"
        else
                ok "systemd-analyze verify: rockerd.socket and rockerd.service are clean"
        fi
        grep -q '^ExecStart=/.*/rockerd$' "$unit_dir/rockerd.service" ||
                fail "rockerd.service: ExecStart= was not configured: $(grep ExecStart= "$unit_dir/rockerd.service")"
fi

# --- 2. a stream socket is refused ---------------------------------------

echo "== LISTEN_FDS=1 with a SOCK_STREAM socket"
if start_case stream; then
        if ! wait_for '[ -s "$T/case/exit" ]' 100; then
                fail "rockerd still runs with a stream socket on fd 3"
                show_case
        else
                st=$(cat "$T/case/exit")
                if [ "$st" = "exit 0" ] || [ "${st#signal}" != "$st" ]; then
                        fail "rockerd with a stream socket: $st, expected a non-zero exit"
                else
                        ok "rockerd refuses a stream socket ($st)"
                fi
                if grep -q "not a listening AF_UNIX SOCK_SEQPACKET socket" "$T/case/rockerd.log"; then
                        ok "it says why: $(head -n 3 "$T/case/rockerd.log" | tr '\n' ' ')"
                else
                        fail "no clear message about the socket's type"; show_case
                fi
                grep -q "listening on" "$T/case/rockerd.log" &&
                        fail "rockerd fell back to binding a socket of its own"
                grep -q " READY=1$" "$T/case/notify.log" 2>/dev/null &&
                        fail "rockerd said READY=1 without a usable socket"
        fi
        stop_case
fi

# --- 3. the real thing -----------------------------------------------------

echo "== LISTEN_FDS=1 with a listening SOCK_SEQPACKET socket"
mkdir -p "$T/image/bin"
echo "hello from the activation test's image" > "$T/image/README"
cp /bin/true "$T/image/bin/"
if ! mksquashfs "$T/image" "$IMAGE" -noappend -all-root -no-progress >/dev/null 2>&1; then
        fail "mksquashfs failed"
        exit 1
fi

if start_case seqpacket; then
        if wait_for 'grep -q "^$RPID READY=1$" "$T/case/notify.log" 2>/dev/null' 100; then
                ok "READY=1 from rockerd (pid $RPID)"
        else
                fail "no READY=1 from pid $RPID"; show_case
        fi
        if wait_for 'grep -q "^$RPID STATUS=." "$T/case/notify.log" 2>/dev/null' 50; then
                ok "$(grep -m1 "^$RPID STATUS=" "$T/case/notify.log" | cut -d' ' -f2-)"
        else
                fail "no STATUS= from pid $RPID"
        fi
        if grep -q "using the socket passed by systemd" "$T/case/rockerd.log"; then
                ok "rockerd uses the socket passed by systemd"
        else
                fail "rockerd did not log \"using the socket passed by systemd\""; show_case
        fi

        echo "-- seed_example through the passed socket"
        # In the background: a trapped signal interrupts `wait`, not a
        # foreground child.
        ROCKER_SOCKET=$T/case/rockerd.sock timeout 60 "$SEED" "$IMAGE" "$T/execdir" "$T/datadir" \
                > "$T/seed.log" 2>&1 &
        seed_pid=$!
        wait "$seed_pid"
        rc=$?
        seed_pid=""
        sed 's/^/   | /' "$T/seed.log"
        if [ $rc -eq 0 ] && grep -q "^\[launcher\] app exited with status 0" "$T/seed.log" &&
           grep -q "^\[app\] image mounted at $T/execdir:.* README" "$T/seed.log"; then
                ok "seed_example ran in a rocker through the passed socket, and saw its image"
        else
                fail "seed_example exited with $rc"; show_case
        fi
        # The example kills its guard; wait for rockerd to see the rocker end.
        collect_guards "$T/case/rockerd.log"
        if [ -z "$guards" ]; then
                fail "rockerd logged no started rocker"
        else
                name=${guards# }; name=${name%% *}; name=${name#*:}
                if wait_for 'grep -q "rocker $name .* ended" "$T/case/rockerd.log"' 100; then
                        ok "rocker $name ended"
                else
                        fail "rockerd did not see rocker $name end"
                fi
        fi

        echo "-- SIGTERM"
        kill -TERM "$RPID"
        if wait_for '[ -s "$T/case/exit" ]' 100; then
                st=$(cat "$T/case/exit")
                if [ "$st" = "exit 0" ]; then ok "rockerd exited 0 on SIGTERM"; else fail "rockerd on SIGTERM: $st"; fi
        else
                fail "rockerd did not exit within 10 s of SIGTERM"
        fi
        if grep -q "^$RPID STOPPING=1$" "$T/case/notify.log"; then
                ok "STOPPING=1 from rockerd"
        else
                fail "no STOPPING=1 from rockerd"
        fi
        if grep -v -q "^$RPID " "$T/case/notify.log"; then
                fail "notifications from another pid than rockerd's (NotifyAccess=main drops them):"
                grep -v "^$RPID " "$T/case/notify.log"
        fi
        stop_case
        show_case
fi

# --- 4. nothing left behind --------------------------------------------------

echo "== leftovers"
m=$(mounts_under_t)
if [ -z "$m" ]; then ok "no mount under $T"; else fail "mounts left under $T:"; echo "$m"; fi
# Autoclear detaches the loop device when its last mount goes: allow it a moment.
if wait_for '[ -z "$(losetup -j "$IMAGE" 2>/dev/null)" ]' 50; then
        ok "no loop device bound to $IMAGE"
else
        fail "loop devices still bound to the image:"; losetup -j "$IMAGE"
fi
left=$(live_guards)
if [ -z "$left" ]; then
        ok "no guard of ours alive (${guards:- none})"
else
        fail "guards still alive: $left"
fi

if [ $failures -ne 0 ]; then
        echo "$failures failure(s)"
        exit 1
fi
echo "all activation checks passed"
exit 0
