/* SPDX-License-Identifier: MIT */
/* A rocker's private /run/user (rundir.c). */
#ifndef ROCKER_RUNDIR_H
#define ROCKER_RUNDIR_H

#include "plan.h"

/* In the guard, after the host tree was made read-only: mounts a tmpfs over
 * /run/user holding only /run/user/<uid> with the sockets p names and its
 * session bus. 0, or -errno with *ret_step naming what failed. */
int rundir_make_private(const Plan *p, const char **ret_step);

#endif
