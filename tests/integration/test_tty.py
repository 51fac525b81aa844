#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""rocker run -t and rocker enter -t, driven through a terminal the test
owns (a pty pair, rocker's controlling terminal): CMD gets a terminal of its
own with the size of ours, sees window-size changes, Ctrl-C reaches it as
SIGINT, its exit status comes back, and our terminal is not its terminal.

usage: test_tty.py ROCKER ROCKERD
Every wait has a bound (select on the pty, waitpid with a deadline)."""
import fcntl
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time

BOUND = 20.0
checks = failed = 0


def check(what, ok, detail=""):
    global checks, failed
    checks += 1
    if ok:
        print(f"ok: {what}")
    else:
        failed += 1
        print(f"FAIL: {what}" + (f"\n    | {detail}" if detail else ""))


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Term:
    """A terminal the test owns; rocker runs with it as stdin/out/err and as
    its controlling terminal (so the kernel sends it SIGWINCH)."""

    def __init__(self, argv, rows=33, cols=101):
        self.master, slave = os.openpty()
        set_size(self.master, rows, cols)
        self.slave_rdev = os.fstat(slave).st_rdev

        def ctty():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, preexec_fn=ctty,
                                     close_fds=True)
        os.close(slave)
        self.out = b""

    def expect(self, text, bound=BOUND):
        """Reads until text appears; True if it did within bound."""
        end = time.monotonic() + bound
        while text.encode() not in self.out:
            left = end - time.monotonic()
            if left <= 0:
                return False
            r, _, _ = select.select([self.master], [], [], left)
            if not r:
                return False
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return False
            if not data:
                return False
            self.out += data
        return True

    def send(self, data):
        os.write(self.master, data)

    def wait(self, bound=BOUND):
        end = time.monotonic() + bound
        while time.monotonic() < end:
            # keep draining, or a full pty would block rocker
            r, _, _ = select.select([self.master], [], [], 0.05)
            if r:
                try:
                    self.out += os.read(self.master, 4096)
                except OSError:
                    pass
            rc = self.proc.poll()
            if rc is not None:
                return rc
        self.proc.kill()
        self.proc.wait()
        return None


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    rocker, rockerd = sys.argv[1], sys.argv[2]
    if os.geteuid() != 0:
        print("SKIP: needs root")
        return 77
    if not shutil.which("mksquashfs"):
        print("SKIP: mksquashfs not found")
        return 77
    tmp = tempfile.mkdtemp(prefix="rocker-tty-test.", dir="/tmp")
    os.chmod(tmp, 0o755)
    daemon = None
    try:
        os.makedirs(f"{tmp}/img")
        with open(f"{tmp}/img/README", "w") as f:
            f.write("tty test\n")
        subprocess.run(["mksquashfs", f"{tmp}/img", f"{tmp}/app.squashfs", "-quiet", "-all-root", "-noappend"],
                       check=True, stdout=subprocess.DEVNULL)
        sock = f"{tmp}/sock"
        # The socket exists and listens before rockerd runs (passed as
        # systemd does): nothing waits for rockerd to be up.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.bind(sock)
        s.listen(16)

        def pass_socket():
            if s.fileno() != 3:
                os.dup2(s.fileno(), 3)
            os.set_inheritable(3, True)
            os.environ["LISTEN_FDS"] = "1"
            os.environ["LISTEN_PID"] = str(os.getpid())

        mounts0 = len(open("/proc/self/mountinfo").read().splitlines())
        log = open(f"{tmp}/rockerd.log", "w")
        daemon = subprocess.Popen([rockerd, "--socket", sock, "--state-dir", f"{tmp}/state"],
                                  stdout=log, stderr=log, preexec_fn=pass_socket, close_fds=False)
        s.close()
        env = dict(os.environ, ROCKER_SOCKET=sock)
        os.environ["ROCKER_SOCKET"] = sock
        run = [rocker, "run", "-t", "--image", f"{tmp}/app.squashfs", "--exec-dir", f"{tmp}/exec",
               "--data-dir", f"{tmp}/data", "--uid", "65534", "--gid", "65534", "--"]
        script = ('stty size; echo "ctty=$(cut -d" " -f7 /proc/self/stat)"; '
                  'trap "echo got-INT; exit 7" INT; echo ready; '
                  'while read line; do if [ "$line" = size ]; then stty size; else echo "line:$line"; fi; done; '
                  'exit 9')
        t = Term(run + ["/bin/sh", "-c", script])
        check("run -t: CMD starts on a terminal", t.expect("ready"), t.out.decode(errors="replace"))
        check("run -t: CMD's terminal has our size (33 101)", b"33 101" in t.out, t.out.decode(errors="replace"))
        ctty = [l for l in t.out.decode(errors="replace").splitlines() if l.startswith("ctty=")]
        check("run -t: CMD has a controlling terminal, not ours",
              bool(ctty) and ctty[0] not in ("ctty=0", f"ctty={t.slave_rdev}"), f"{ctty} ours={t.slave_rdev}")
        t.send(b"hello\r")
        check("run -t: typed input reaches CMD", t.expect("line:hello"), t.out.decode(errors="replace"))
        set_size(t.master, 40, 120)  # the kernel sends rocker SIGWINCH
        # rocker passes it on when it takes the signal: ask until it shows
        shown = False
        end = time.monotonic() + BOUND
        while not shown and time.monotonic() < end:
            t.send(b"size\r")
            shown = t.expect("40 120", bound=1.0)
        check("run -t: a window-size change reaches CMD (40 120)", shown, t.out.decode(errors="replace"))
        t.send(b"\x03")  # Ctrl-C: SIGINT to CMD through its own terminal
        check("run -t: Ctrl-C reaches CMD as SIGINT", t.expect("got-INT"), t.out.decode(errors="replace"))
        check("run -t: CMD's exit status comes back (7)", t.wait() == 7, t.out.decode(errors="replace"))

        # enter -t: a kept rocker, a shell in it
        keep = subprocess.run([rocker, "run", "--keep", "--image", f"{tmp}/app.squashfs", "--exec-dir",
                               f"{tmp}/exec", "--data-dir", f"{tmp}/data2", "--uid", "65534", "--gid", "65534",
                               "--", "/bin/true"], capture_output=True, text=True, env=env, timeout=BOUND)
        name = keep.stdout.split()[0] if keep.returncode == 0 and keep.stdout else None
        check("a kept rocker to enter", name is not None, keep.stderr)
        if name:
            t = Term([rocker, "enter", "-t", name, "--uid", "65534", "--", "/bin/sh", "-c",
                      "stty size; read x; echo got:$x; exit 5"], rows=25, cols=90)
            check("enter -t: CMD's terminal has our size (25 90)", t.expect("25 90"), t.out.decode(errors="replace"))
            t.send(b"yes\r")
            check("enter -t: input reaches CMD", t.expect("got:yes"), t.out.decode(errors="replace"))
            check("enter -t: CMD's exit status comes back (5)", t.wait() == 5, t.out.decode(errors="replace"))
            stop = subprocess.run([rocker, "stop", "--timeout", "5", name], capture_output=True, text=True,
                                  env=env, timeout=BOUND + 10)
            check("the kept rocker stops", stop.returncode == 0, stop.stderr)
        # nothing left: no guard of this rockerd, the mount table as before
        guards = subprocess.run(["pgrep", "-P", str(daemon.pid)], capture_output=True, text=True).stdout.split()
        check("no guard left", not guards, " ".join(guards))
        check("the mount table as before", len(open("/proc/self/mountinfo").read().splitlines()) == mounts0)
    finally:
        if daemon:
            daemon.terminate()
            try:
                daemon.wait(timeout=BOUND)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        if failed:
            try:
                print(open(f"{tmp}/rockerd.log").read())
            except OSError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"tty: {checks - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
