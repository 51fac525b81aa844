#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Waits on events for the shell tests, never on a fixed sleep.

  evwait.py rockerd SOCK ROCKERD [ARGS...]
      Starts ROCKERD with a listening socket at SOCK passed the way systemd
      passes it (LISTEN_FDS): SOCK accepts connections as soon as this
      returns, so nothing has to wait for rockerd to be up. Prints its pid.
  evwait.py exec-rockerd SOCK FIFO ROCKERD [ARGS...]
      The same, but becomes ROCKERD (exec, same pid: run it in the background
      and it stays the shell's child, whose status `wait` gets); writes a
      line to FIFO once SOCK listens (read it with "evwait.py line").
  evwait.py gone PID SECONDS
      Waits, on a pidfd, for process PID to exit. Exit 0 once it has, 1 if it
      still runs after SECONDS.
  evwait.py line FIFO SECONDS
      Prints the first line written to FIFO, within SECONDS (exit 1 if none).
"""
import os
import select
import socket
import sys
import time


def pass_as_fd3(s):
    """Makes s fd 3, inherited across exec. os.dup2() onto itself is a
    no-op that leaves the fd close-on-exec (a socket is born so in Python):
    when s already is fd 3, mark it inheritable instead."""
    if s.fileno() != 3:
        os.dup2(s.fileno(), 3)
    os.set_inheritable(3, True)


def start_rockerd(sock_path, argv):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(sock_path)
    s.listen(128)
    pid = os.fork()
    if pid == 0:
        pass_as_fd3(s)
        # Not our stdout: a $(evwait.py rockerd ...) would wait for its end.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.environ["LISTEN_FDS"] = "1"
        os.environ["LISTEN_PID"] = str(os.getpid())
        os.environ.pop("NOTIFY_SOCKET", None)
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    print(pid)
    return 0


def exec_rockerd(sock_path, fifo, argv):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(sock_path)
    s.listen(128)
    # Blocks until the reader ("evwait.py line FIFO") opens it: a FIFO keeps
    # no data once nobody holds it open.
    fd = os.open(fifo, os.O_WRONLY)
    os.write(fd, b"listening\n")
    os.close(fd)
    pass_as_fd3(s)
    os.environ["LISTEN_FDS"] = "1"
    os.environ["LISTEN_PID"] = str(os.getpid())
    os.environ.pop("NOTIFY_SOCKET", None)
    os.execv(argv[0], argv)


def wait_gone(pid, seconds):
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return 0
    r, _, _ = select.select([fd], [], [], seconds)
    return 0 if r else 1


def read_line(path, seconds):
    # O_RDWR: opening does not block waiting for a writer.
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    deadline = time.monotonic() + seconds
    buf = b""
    while b"\n" not in buf:
        r, _, _ = select.select([fd], [], [], max(0, deadline - time.monotonic()))
        if not r:
            return 1
        buf += os.read(fd, 4096)
    sys.stdout.write(buf.split(b"\n", 1)[0].decode() + "\n")
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "rockerd":
        return start_rockerd(sys.argv[2], sys.argv[3:])
    if cmd == "exec-rockerd":
        return exec_rockerd(sys.argv[2], sys.argv[3], sys.argv[4:])
    if cmd == "gone":
        return wait_gone(int(sys.argv[2]), float(sys.argv[3]))
    if cmd == "line":
        return read_line(sys.argv[2], float(sys.argv[3]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
