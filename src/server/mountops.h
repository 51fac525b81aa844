/* SPDX-License-Identifier: MIT */
/*
 * Changing mount flags, by the mechanism the kernel offers (picked once at
 * start, kernel.h): mount_setattr() from Linux 5.12, bind remounts of one
 * mount at a time before (the way bubblewrap's bind-mount.c does it). Both
 * change only the mount's read-only flag and keep its other flags (nosuid,
 * nodev, noexec, atime, nosymfollow) as they are.
 */
#ifndef ROCKER_MOUNTOPS_H
#define ROCKER_MOUNTOPS_H

#include <stdbool.h>

typedef struct MountOps {
        const char *name;
        /* Sets (ro) or clears the read-only flag of the one mount whose root
         * target (an O_PATH fd) is. 0 or -errno. */
        int (*set_readonly)(int target, bool ro);
        /* Makes the mount at path and every mount below it read-only. A
         * mount no path reaches (covered by another) cannot be changed by a
         * bind remount; it cannot be reached from the rocker either, whose
         * processes have no capability to uncover it. 0 or -errno. */
        int (*set_readonly_tree)(const char *path);
} MountOps;

extern const MountOps mountops_setattr;
extern const MountOps mountops_remount;

/* An O_PATH fd of path, refusing a symlink in any component (the final one
 * too). fd or -errno (-ELOOP for a symlink). */
int mount_open_target(const char *path);

/* The mount ID of the mount fd is on (statx STATX_MNT_ID, 5.8). */
int mount_id_of(int fd, int *ret_id);

/* A new, detached mount of a file system of type with the string options
 * opts (name, value, ..., NULL; may be NULL) and the MOUNT_ATTR_* attrs.
 * The mount fd or -errno. */
int mount_new_fs(const char *type, const char *const *opts, unsigned attrs);

/* Attaches the detached mount mnt onto name in dir_fd (not following a
 * symlink there). 0 or -errno. */
int mount_attach_at(int mnt, int dir_fd, const char *name);

#endif
