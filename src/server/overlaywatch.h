/* SPDX-License-Identifier: MIT */
/*
 * Whether a rocker's overlays still exist. An fd opened in an overlay and
 * passed out of the rocker keeps that overlay's superblock alive after the
 * guard and every process of the rocker have exited; a relaunch on the same
 * data dir would then put a second overlay on a live upper dir. rockerd
 * watches the root inode of each overlay with inotify: the kernel sends
 * IN_IGNORED when the superblock is destroyed, and a watch does not keep the
 * superblock alive. One inotify instance serves every rocker (the per-user
 * limit on instances is small, 128 by default; on watches it is large).
 */
#ifndef ROCKER_OVERLAYWATCH_H
#define ROCKER_OVERLAYWATCH_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "plan.h"

/* Adds a watch on the root of each of plan's overlays as the guard sees
 * them (/proc/<guard>/root/<dir>, resolved inside that root, no symlinks),
 * after checking that each is an overlayfs; then checks through guard_pidfd
 * that guard is still the process the PID named. ret_wds[i] gets overlay
 * i's watch descriptor. 0, or -errno with err set and no watch left. */
int overlay_watch_add(int inotify_fd, pid_t guard, int guard_pidfd, const Plan *plan, int *ret_wds, RkError *err);

/* For a rocker adopted from an earlier rockerd, whose state record does not
 * list its overlays: each directory under <data_dir>/overlay names a host
 * dir that was overlaid by some rocker of this data dir (docs/data-dir.md
 * §2); those where the guard's tree has an overlayfs mounted (a mount root,
 * so that the app cannot offer an inode of its own) are watched, up to max.
 * *ret_n gets the number of watches. 0, or -errno with err set and no watch
 * left. */
int overlay_watch_adopt(int inotify_fd, pid_t guard, int guard_pidfd, const char *data_dir, int *ret_wds,
                        size_t max, size_t *ret_n, RkError *err);

/* Removes the watches of wds that are >= 0. */
void overlay_watch_remove(int inotify_fd, const int *wds, size_t n);

#endif
