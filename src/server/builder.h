/* SPDX-License-Identifier: MIT */
/* Starting a guard: clone3() into the rocker's new namespaces. */
#ifndef ROCKER_BUILDER_H
#define ROCKER_BUILDER_H

#include <stdbool.h>
#include <sys/types.h>

#include "mountops.h"
#include "plan.h"

typedef struct Spawned {
        pid_t pid;       /* the guard, in rockerd's pid namespace */
        int pidfd;       /* close-on-exec */
        int status_fd;   /* rockerd's end of the status socket: one GuardReport comes */
} Spawned;

/* Clones the guard into new mount, pid, uts, ipc and cgroup namespaces; the
 * child runs guard_run() with image_fd (which the caller still closes). The
 * parent returns at once: the build goes on in the child and its outcome
 * arrives on ret->status_fd. With cgroup_fd (else -EBADF) the guard is born
 * in that cgroup (CLONE_INTO_CGROUP); with wait_go it first waits for one
 * byte on its status socket (rockerd sends it once the guard is in its
 * systemd scope). Either way its cgroup namespace is rooted at its own
 * cgroup. 0 or -errno. */
int builder_spawn(const Plan *plan, const MountOps *mnt, const char *name, int image_fd, int cgroup_fd,
                  bool wait_go, Spawned *ret);

#endif
