/* SPDX-License-Identifier: MIT */
/* Running the caller's callback inside a rocker. */
#ifndef ROCKER_JOIN_H
#define ROCKER_JOIN_H

#include <stdbool.h>
#include <sys/types.h>

#include <rocker/err_no.h>

#include "error.h"

/* Forks a helper that joins the namespaces of the guard behind pidfd and
 * creates, with CLONE_PARENT, the app process: a child of the caller, which
 * drops to uid/gid (no groups, no capabilities, no_new_privs, fds >= 3
 * close-on-exec, cwd "/", own session) and exits with app(app_args). The
 * helper is reaped here. If the rocker has a cgroup of its own (named after
 * guard_name), the app is created in it. close_in_app is an fd the app must
 * not keep (the daemon connection), or -1. The new process's PID inside is
 * the guard's PID outside with JOIN_AS_GUARD_PID (the app of a new rocker),
 * else random, where the kernel allows it (join.c). On success
 * *ret_app_pid is the app's PID. Returns ROCKER_ERR_success, or
 * enter_rocker_failed, app_exec_failed or sys with err filled (the thread's
 * error text is left alone: this also runs in rockerd, spawn.c). */
ROCKER_ERR join_and_spawn(int pidfd, const char *guard_name, uid_t uid, gid_t gid, int (*app)(void *),
                          void *app_args, int close_in_app, unsigned flags, pid_t *ret_app_pid, RkError *err);

/* join_and_spawn() flags */
enum {
        JOIN_AS_GUARD_PID = 1 << 0,       /* the app of a new rocker: its PID is the guard's outside */
        JOIN_USER_NAMESPACES = 1 << 1,    /* its filter lets it make user namespaces (the policy's) */
};

#endif
