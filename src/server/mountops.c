/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "macro.h"
#include "mountinfo.h"
#include "mountops.h"
#include "util.h"

int mount_open_target(const char *path) {
        int fd = openat2_fd(AT_FDCWD, path, O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        struct statx stx;

        if (fd < 0)
                return fd;
        /* O_PATH|O_NOFOLLOW opens a final symlink itself: refused too. The
         * type is the inode's, known to the VFS: a file system is never
         * asked (AT_STATX_DONT_SYNC), so that a hung FUSE or NFS mount at
         * path does not hang its caller (a guard making it writable). */
        if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_TYPE, &stx) < 0) {
                int r = negative_errno();
                close(fd);
                return r;
        }
        if (S_ISLNK(stx.stx_mode)) {
                close(fd);
                return -ELOOP;
        }
        return fd;
}

int mount_id_of(int fd, int *ret_id) {
        struct statx stx;

        /* The mount ID is the VFS's: the file system is not asked. */
        if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) < 0)
                return negative_errno();
        if (!(stx.stx_mask & STATX_MNT_ID))
                return -EOPNOTSUPP;
        *ret_id = (int) stx.stx_mnt_id;
        return 0;
}

/* ---- mount_setattr (5.12) ----------------------------------------------- */

static int setattr_set_readonly(int target, bool ro) {
        struct mount_attr attr = {
                .attr_set = ro ? MOUNT_ATTR_RDONLY : 0,
                .attr_clr = ro ? 0 : MOUNT_ATTR_RDONLY,
        };

        return mount_setattr(target, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0 ? negative_errno() : 0;
}

static int setattr_set_readonly_tree(const char *path) {
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
        _cleanup_close_ int target = mount_open_target(path);

        if (target < 0)
                return target;
        return mount_setattr(target, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0 ? negative_errno() : 0;
}

const MountOps mountops_setattr = {
        .name = "mount_setattr",
        .set_readonly = setattr_set_readonly,
        .set_readonly_tree = setattr_set_readonly_tree,
};

/* ---- bind remounts (any kernel) -------------------------------------------- */

/* A bind remount changes the per-mount flags to exactly those given: the
 * others (flags, MS_* from mountinfo: never statvfs(), which asks the file
 * system and waits on a hung one) are given again, so that only read-only
 * changes. Through /proc/self/fd/N: the very mount opened, no path again. */
static int remount_with_flags(int target, bool ro, unsigned long flags) {
        char path[32];

        snprintf(path, sizeof path, "/proc/self/fd/%d", target);
        if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | (ro ? MS_RDONLY : 0) | flags, NULL) < 0)
                return negative_errno();
        return 0;
}

static int remount_set_readonly(int target, bool ro) {
        MountTable t = {};
        const MountEntry *e;
        int id, r;

        r = mount_id_of(target, &id);
        if (r < 0)
                return r;
        r = mount_table_read(&t);
        if (r < 0)
                return r;
        e = mount_table_find(&t, id);
        r = e ? remount_with_flags(target, ro, e->flags) : -ENOENT;
        mount_table_done(&t);
        return r;
}

/* Every mount at or below path, one by one from mountinfo. Each is opened
 * by its mount point refusing symlinks and changed only if the mount found
 * there is that very mount (same ID): a mount covered by another, or whose
 * path now leads elsewhere, is left alone (see mountops.h). */
static int remount_set_readonly_tree(const char *path) {
        MountTable t = {};
        int r = mount_table_read(&t);

        if (r < 0)
                return r;
        for (size_t i = 0; i < t.n && r >= 0; i++) {
                const MountEntry *e = &t.entries[i];
                _cleanup_close_ int target = -EBADF;
                int id;

                if (e->ro || !path_contains(path, e->mount_point))
                        continue;
                target = mount_open_target(e->mount_point);
                if (target < 0 || mount_id_of(target, &id) < 0 || id != e->id)
                        continue;
                r = remount_with_flags(target, true, e->flags);
        }
        mount_table_done(&t);
        return r;
}

const MountOps mountops_remount = {
        .name = "bind remounts",
        .set_readonly = remount_set_readonly,
        .set_readonly_tree = remount_set_readonly_tree,
};

int mount_new_fs(const char *type, const char *const *opts, unsigned attrs) {
        _cleanup_close_ int fs = fsopen(type, FSOPEN_CLOEXEC);
        int mnt;

        if (fs < 0)
                return negative_errno();
        for (size_t i = 0; opts && opts[i]; i += 2)
                if (fsconfig(fs, FSCONFIG_SET_STRING, opts[i], opts[i + 1], 0) < 0)
                        return negative_errno();
        if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return negative_errno();
        mnt = fsmount(fs, FSMOUNT_CLOEXEC, attrs);
        return mnt < 0 ? negative_errno() : mnt;
}

int mount_attach_at(int mnt, int dir_fd, const char *name) {
        _cleanup_close_ int target = openat(dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

        if (target < 0)
                return negative_errno();
        if (move_mount(mnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return negative_errno();
        return 0;
}
