/* SPDX-License-Identifier: MIT */
/*
 * The one capability drop: the guard's (it keeps CAP_KILL, stays root) and
 * every app process's (it keeps nothing, becomes the app's user) are the
 * same ordered steps, so they are written once, here, with libcap.
 */
#ifndef ROCKER_CAPS_H
#define ROCKER_CAPS_H

#include <sys/capability.h>
#include <sys/types.h>

/* Whom the process becomes while it drops: uid and gid, with no
 * supplementary groups. */
typedef struct CapsUser {
        uid_t uid;
        gid_t gid;
} CapsUser;

/* Leaves the calling process exactly the capabilities of keep (effective
 * and permitted as keep has them; inheritable as keep has them, in practice
 * none), an empty bounding set, an empty ambient set and no_new_privs, in
 * the order the kernel requires:
 *
 *   1. the bounding set emptied, up to the running kernel's last
 *      capability (not the headers'): it needs CAP_SETPCAP, so first;
 *   2. the ambient set cleared;
 *   3. with user: supplementary groups cleared, then the gid, then the uid
 *      (real, effective, saved); they need CAP_SETGID and CAP_SETUID, so
 *      before 4. Raw system calls: glibc's wrappers would try to
 *      synchronise threads that a process made by a raw clone() does not
 *      have. Leaving uid 0 empties the permitted set by itself, unless the
 *      caller had set keep-caps; 4 empties it either way;
 *   4. the process's sets become keep (cap_set_proc());
 *   5. no_new_privs: no execve() can give any of it back (with an empty
 *      bounding set, not even a setuid-root binary or file capabilities,
 *      which is why the securebits need no change).
 *
 * Async-signal-safe (the library calls it in a raw clone of a possibly
 * multi-threaded caller): keep must be made before, e.g. by cap_init();
 * nothing here allocates. Returns 0, or -errno with *ret_step (if not
 * NULL) naming the step that failed (a static string); the process is then
 * half-dropped and must not go on to run anything untrusted. */
int caps_drop(cap_t keep, const CapsUser *user, const char **ret_step);

#endif
