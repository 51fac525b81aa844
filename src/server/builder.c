/* SPDX-License-Identifier: MIT */
#include <errno.h>
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

int builder_spawn(const Plan *plan, const MountOps *mnt, const char *name, int image_fd, Spawned *ret) {
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

        /* No CLONE_VM and no stack: the child continues here on a copy of
         * our memory, like fork(). rockerd is single-threaded, so no lock is
         * held by a thread that does not exist in the child. */
        pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid < 0)
                return negative_errno();
        if (pid == 0)
                guard_run(plan, mnt, name, image_fd, status_child);

        ret->pid = (pid_t) pid;
        ret->pidfd = pidfd;
        ret->status_fd = TAKE_FD(status_parent);
        return 0;
}
