/* SPDX-License-Identifier: MIT */
/*
 * A rocker's private /dev (dev.c): what every rocker gets, and the host
 * device groups an app's policy may add (Devices= in rockerd.conf(5)).
 */
#ifndef ROCKER_DEV_H
#define ROCKER_DEV_H

#include <stdbool.h>

#include "plan.h"

/* The default size of a rocker's /dev/shm (DevShmSize=). */
#define DEV_SHM_SIZE_DEFAULT (512ULL * 1024 * 1024)

/* The host paths of device group name ("dri", "snd", "video", "input",
 * "kvm"): a NULL-terminated list, static. 0 or -ENOENT. */
int dev_group_paths(const char *name, const char *const **ret);

/* Whether path may be named in Devices=: "/dev/<name>" one level below
 * /dev, or "/dev/<prefix>*"; never pts or shm, which the rocker has of
 * its own. */
bool dev_path_is_valid(const char *path);

/* In the guard, after the host tree was made read-only: mounts the private
 * /dev over the host's. 0, or -errno with *ret_step naming what failed. */
int dev_make_private(const Plan *p, const char **ret_step);

#endif
