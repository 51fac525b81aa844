/* SPDX-License-Identifier: MIT */
/*
 * The guard: PID 1 of a rocker. It runs in the child rockerd clone3()s into
 * new mount, pid, uts, ipc and cgroup namespaces, builds the rocker's mount
 * tree from a validated Plan, takes its name, drops every capability, reports
 * to rockerd over a socket, and then only reaps orphans until it is killed.
 */
#ifndef ROCKER_GUARD_H
#define ROCKER_GUARD_H

#include <stdint.h>

#include "mountops.h"
#include "plan.h"
#include "proto.h"

/* What the guard tells rockerd once, over the status socket. */
typedef struct GuardReport {
        int32_t error;                   /* 0 ready, else -errno */
        char text[PROTO_ERROR_MAX - 64]; /* what failed, for the client and the log */
} GuardReport;

/* rockerd's argv area (argv[0] up to the end of its last argument), which a
 * guard overwrites with its name. Set by main() before any guard exists. */
extern char *guard_cmdline_area;
extern size_t guard_cmdline_size;

/* Runs in the cloned child; never returns. mnt changes mount flags (the
 * mechanism picked at start), image_fd is the rocker's own clone of the
 * image, status_fd the guard's end of the status socket. */
_Noreturn void guard_run(const Plan *plan, const MountOps *mnt, const char *name, int image_fd, int status_fd);

#endif
