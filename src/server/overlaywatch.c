/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "macro.h"
#include "overlaywatch.h"
#include "util.h"

#ifndef OVERLAYFS_SUPER_MAGIC
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#endif

void overlay_watch_remove(int inotify_fd, const int *wds, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (wds[i] >= 0)
                        (void) inotify_rm_watch(inotify_fd, wds[i]);
}

/* Called before the guard's report reaches its client: no untrusted process
 * exists in the rocker yet, the tree under /proc/<guard>/root is the guard's
 * work. Resolved inside that root anyway, refusing symlinks, and checked to
 * be an overlayfs, so that a watch always sits on the overlay's own inode. */
static int watch_one(int inotify_fd, int root_fd, const char *dir, bool mount_root, int *ret_wd) {
        _cleanup_close_ int fd = -EBADF;
        char path[64];
        struct statfs sfs;
        int wd;

        fd = openat2_fd(root_fd, dir, O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        if (fd < 0)
                return fd;
        if (fstatfs(fd, &sfs) < 0)
                return -errno;
        if (sfs.f_type != OVERLAYFS_SUPER_MAGIC)
                return -EMEDIUMTYPE;
        if (mount_root) {
                struct statx stx;

                /* STATX_ATTR_MOUNT_ROOT: Linux 5.8 */
                if (statx(fd, "", AT_EMPTY_PATH, 0, &stx) < 0)
                        return -errno;
                if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) ||
                    !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
                        return -EMEDIUMTYPE;
        }
        /* The very inode fd names. IN_UNMOUNT alone: no event until the
         * superblock goes (then IN_UNMOUNT and IN_IGNORED). */
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        wd = inotify_add_watch(inotify_fd, path, IN_UNMOUNT);
        if (wd < 0)
                return -errno;
        *ret_wd = wd;
        return 0;
}

int overlay_watch_add(int inotify_fd, pid_t guard, int guard_pidfd, const Plan *plan, int *ret_wds, RkError *err) {
        _cleanup_close_ int root_fd = -EBADF;
        int wds[PROTO_OVERLAY_MAX];
        char path[64];
        size_t i;
        int k = 0;

        snprintf(path, sizeof path, "/proc/%d/root", (int) guard);
        root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0) {
                k = -errno;
                return rk_error(err, k, "cannot watch the overlays: open %s: %s", path, strerror(-k));
        }
        for (i = 0; i < plan->n_overlays; i++) {
                k = watch_one(inotify_fd, root_fd, plan->overlays[i].dir, false, &wds[i]);
                if (k < 0) {
                        (void) rk_error(err, k, "cannot watch the overlay at %s: %s%s", plan->overlays[i].dir,
                                        k == -EMEDIUMTYPE ? "not an overlayfs in the rocker" : strerror(-k),
                                        k == -ENOSPC ? " (fs.inotify.max_user_watches)" : "");
                        break;
                }
        }
        /* A PID is only a name: the watches are the guard's if the process
         * the pidfd holds is still alive, so the PID was not reused. */
        if (k >= 0 && pidfd_send_signal(guard_pidfd, 0, NULL, 0) < 0) {
                k = -errno;
                (void) rk_error(err, k, "the guard ended while its overlays were watched: %s", strerror(-k));
        }
        if (k < 0) {
                overlay_watch_remove(inotify_fd, wds, i);
                return k;
        }
        memcpy(ret_wds, wds, plan->n_overlays * sizeof wds[0]);
        return 0;
}

/* The host dir a name under <data>/overlay stands for: path_escape()
 * reversed. -EINVAL if name is not one it makes. */
static int path_unescape(const char *name, char *ret, size_t size) {
        size_t o = 0;

        if (size < 2)
                return -ENAMETOOLONG;
        ret[o++] = '/';
        for (const char *p = name; *p; p++) {
                char c = *p;

                if (c == '-')
                        c = '/';
                else if (c == '\\') {
                        char hex[3] = { p[1] == 'x' ? p[2] : 0, p[1] == 'x' && p[2] ? p[3] : 0, 0 };
                        char *end;

                        c = (char) strtoul(hex, &end, 16);
                        if (!hex[0] || !hex[1] || *end)
                                return -EINVAL;
                        p += 3;
                }
                if (o + 1 >= size)
                        return -ENAMETOOLONG;
                ret[o++] = c;
        }
        ret[o] = '\0';
        return 0;
}

int overlay_watch_adopt(int inotify_fd, pid_t guard, int guard_pidfd, const char *data_dir, int *ret_wds,
                        size_t max, size_t *ret_n, RkError *err) {
        _cleanup_close_ int root_fd = -EBADF;
        char path[PROTO_PATH_MAX + 64], dir[PROTO_PATH_MAX + 1];
        int wds[PROTO_OVERLAY_MAX];
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        size_t n = 0;
        int k = 0;

        snprintf(path, sizeof path, "/proc/%d/root", (int) guard);
        root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root_fd < 0) {
                k = -errno;
                return rk_error(err, k, "cannot watch the overlays: open %s: %s", path, strerror(-k));
        }
        snprintf(path, sizeof path, "%s/overlay", data_dir);
        d = opendir(path);
        if (!d) {
                k = -errno;
                return rk_error(err, k, "cannot watch the overlays: open %s: %s", path, strerror(-k));
        }
        while ((de = readdir(d)) && n < max && n < PROTO_OVERLAY_MAX) {
                if (de->d_name[0] == '.' || path_unescape(de->d_name, dir, sizeof dir) < 0)
                        continue;
                k = watch_one(inotify_fd, root_fd, dir, true, &wds[n]);
                if (k >= 0) {
                        /* two names of one overlay give the same wd */
                        bool dup = false;
                        for (size_t i = 0; i < n; i++)
                                dup = dup || wds[i] == wds[n];
                        n += !dup;
                        continue;
                }
                if (k == -ENOENT || k == -ENOTDIR || k == -EMEDIUMTYPE || k == -ELOOP)
                        continue;  /* not overlaid in this rocker */
                (void) rk_error(err, k, "cannot watch the overlay at %s: %s", dir, strerror(-k));
                break;
        }
        if (k >= 0 || k == -ENOENT || k == -ENOTDIR || k == -EMEDIUMTYPE || k == -ELOOP)
                k = 0;
        if (k == 0 && pidfd_send_signal(guard_pidfd, 0, NULL, 0) < 0) {
                k = -errno;
                (void) rk_error(err, k, "the guard ended while its overlays were watched: %s", strerror(-k));
        }
        if (k < 0) {
                overlay_watch_remove(inotify_fd, wds, n);
                return k;
        }
        memcpy(ret_wds, wds, n * sizeof wds[0]);
        *ret_n = n;
        return 0;
}
