/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "builder.h"
#include "guard.h"
#include "macro.h"

#define ROCKER_CLONE_FLAGS (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP)

/* In the child, before the guard runs: wait for rockerd's go (the systemd
 * backend moves the guard into its scope meanwhile), then root a cgroup
 * namespace at the rocker's own cgroup, which the guard is in by now: the
 * rocker sees "/" as its cgroup, and nothing above it. */
static void enter_own_cgroup(int status_fd, bool wait_go) {
        char go;

        if (wait_go) {
                int fl = fcntl(status_fd, F_GETFL);

                /* the socketpair was made non-blocking for rockerd's end */
                if (fl < 0 || fcntl(status_fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
                        _exit(1);
                if (recv(status_fd, &go, 1, 0) != 1)
                        _exit(1);  /* rockerd gave up on this rocker, or died */
                if (fcntl(status_fd, F_SETFL, fl) < 0)
                        _exit(1);
        }
        if (unshare(CLONE_NEWCGROUP) < 0) {
                GuardReport rep = { .state = GUARD_REPORT_FAILED };

                (void) rk_error(&rep.err, errno, "unshare the cgroup namespace: %m");
                (void) send(status_fd, &rep, sizeof rep, MSG_NOSIGNAL);
                _exit(1);
        }
}

int builder_spawn(const Plan *plan, const MountOps *mnt, const char *name, int image_fd, int cgroup_fd,
                  bool wait_go, Spawned *ret) {
        _cleanup_close_ int status_parent = -EBADF, status_child = -EBADF;
        int pair[2], pidfd = -EBADF;
        struct clone_args args;
        long pid;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0)
                return negative_errno();
        status_parent = pair[0];
        status_child = pair[1];

        memset(&args, 0, sizeof args);
        args.flags = ROCKER_CLONE_FLAGS | CLONE_PIDFD | (plan->private_network ? CLONE_NEWNET : 0);
        args.pidfd = (uint64_t) (uintptr_t) &pidfd;
        args.exit_signal = SIGCHLD;
        if (cgroup_fd >= 0) {
                /* Born in the rocker's cgroup: nothing of it ever runs
                 * in rockerd's (Linux 5.7). */
                args.flags |= CLONE_INTO_CGROUP;
                args.cgroup = (uint64_t) cgroup_fd;
        }
        if (cgroup_fd >= 0 || wait_go)
                /* the namespace comes once the guard is in its cgroup */
                args.flags &= ~(uint64_t) CLONE_NEWCGROUP;

        /* No CLONE_VM and no stack: the child continues here on a copy of
         * our memory, like fork(). rockerd is single-threaded, so no lock is
         * held by a thread that does not exist in the child. */
        pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                if (cgroup_fd >= 0 || wait_go)
                        enter_own_cgroup(status_child, wait_go);
                guard_run(plan, mnt, name, image_fd, status_child);
        }

        ret->pid = (pid_t) pid;
        ret->pidfd = pidfd;
        ret->status_fd = TAKE_FD(status_parent);
        return 0;
}
