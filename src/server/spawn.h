/* SPDX-License-Identifier: MIT */
/*
 * A spawn request's app (issue 17): rockerd, not the caller, creates the app
 * process inside a rocker it has just built, with the caller's stdio.
 */
#ifndef ROCKER_SPAWN_H
#define ROCKER_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <sys/types.h>

#include "error.h"

/* What a spawn request asks to run; owned (spawn_request_done()). */
typedef struct SpawnRequest {
        char **argv;      /* NULL-terminated; argv[0] is the program's path inside the rocker */
        char **envp;      /* NULL-terminated */
        int stdio[3];     /* the caller's stdin, stdout, stderr (SCM_RIGHTS), or -EBADF */
} SpawnRequest;

void spawn_request_init(SpawnRequest *s);
void spawn_request_done(SpawnRequest *s);

/* Takes the fds a spawn request brought: exactly three (their type is the
 * caller's business: they are only dup'ed into the app). Takes fds[0..n)
 * in every case. 0, or -EBADMSG with a reason in err. */
int spawn_request_take_stdio(SpawnRequest *s, int *fds, size_t n, RkError *err);

/* Creates the app inside the rocker whose guard is guard_pidfd, exactly as
 * the library does for ROCKER_enter_rocker() (join.c: its namespaces and
 * cgroup, uid/gid with no groups, no capabilities, no_new_privs, the
 * seccomp filter, its own session, fds >= 3 closed on exec), with stdio
 * as fds 0-2 and every signal unblocked and at its default, then execs
 * argv with envp. as_guard_pid: the app of a new rocker (its PID inside is
 * the guard's outside), else a process joining a live one. The app is
 * rockerd's child: *ret_pidfd is its pidfd, for
 * the loop to reap it. 0, or -errno with a reason in err. */
int spawn_app(int guard_pidfd, const char *guard_name, uid_t uid, gid_t gid, bool user_namespaces,
              bool as_guard_pid, const SpawnRequest *s, pid_t *ret_pid, int *ret_pidfd, RkError *err);

/* A waitpid()-style status from a waitid() siginfo. */
int spawn_wait_status(const siginfo_t *si);

#endif
