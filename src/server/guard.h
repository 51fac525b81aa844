/* SPDX-License-Identifier: MIT */
/*
 * The guard: PID 1 of a rocker. It runs in the child rockerd clone3()s into
 * new mount, pid, uts, ipc and cgroup namespaces, builds the rocker's mount
 * tree from a validated Plan, takes its name, drops every capability but
 * CAP_KILL, reports to rockerd over a socket, and then only reaps orphans
 * until it is killed (SIGKILL: at once) or stopped (SIGTERM, SIGINT, SIGHUP:
 * SIGTERM to every process of the rocker, a grace period, then SIGKILL).
 */
#ifndef ROCKER_GUARD_H
#define ROCKER_GUARD_H

#include <stdint.h>

#include "error.h"
#include "mountops.h"
#include "plan.h"
#include "proto.h"

/* A report's state: the rocker is built and runs; the build failed (err
 * says how); once it runs, the guard received a stop signal and stops its
 * rocker gracefully, within stop_grace_ms. */
enum {
        GUARD_REPORT_READY = 0,
        GUARD_REPORT_STOPPING = 1,
        GUARD_REPORT_FAILED = 2,
};

/* The guard's exit status when the grace period ended before every process
 * of the rocker had exited (they were SIGKILLed); 0 when all had. */
#define GUARD_EXIT_STOP_FORCED 3

/* What the guard tells rockerd over the status socket: once, when built (or
 * failed); then once more if it is asked to stop. */
typedef struct GuardReport {
        int32_t state;                   /* GUARD_REPORT_* */
        uint32_t stop_grace_ms;          /* with GUARD_REPORT_STOPPING */
        RkError err;                     /* with GUARD_REPORT_FAILED: the errno of the step that failed and
                                          * what it was, for the client and the log */
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
