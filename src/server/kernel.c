/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kernel.h"
#include "macro.h"
#include "util.h"

int kernel_parse_forced(const char *value, KernelFeatures *f, const char **ret_bad, size_t *ret_bad_len) {
        const char *p = value;

        if (!value)
                return 0;
        while (*p) {
                size_t n = strcspn(p, ",");

                if (n == 3 && !strncmp(p, "all", n))
                        f->image_staging = f->bind_remount = true;
                else if (n == 13 && !strncmp(p, "image-staging", n))
                        f->image_staging = true;
                else if (n == 12 && !strncmp(p, "bind-remount", n))
                        f->bind_remount = true;
                else if (n == 12 && !strncmp(p, "cloexec-walk", n))
                        ;  /* the client library's: close_range(CLOSE_RANGE_CLOEXEC) is 5.11 */
                else if (n > 0) {
                        *ret_bad = p;
                        *ret_bad_len = n;
                        return -EINVAL;
                }
                p += n;
                if (*p == ',')
                        p++;
        }
        return 0;
}

/* A syscall that exists answers anything but ENOSYS to these arguments. */
static bool syscall_exists(long r) {
        return r >= 0 || errno != ENOSYS;
}

/* The floor: what rocker is built on and has no fallback for. Each probe
 * calls the feature with harmless arguments. */
static int probe_floor(RkError *err) {
        _cleanup_close_ int self = -EBADF, fd = -EBADF;
        const char *missing = NULL, *since = NULL;
        long r;

        self = (int) syscall(SYS_pidfd_open, getpid(), 0);
        if (self < 0) {
                missing = "pidfd_open";
                since = "5.3";
        } else if (!syscall_exists(syscall(SYS_clone3, NULL, 0))) {
                missing = "clone3 with CLONE_PIDFD";
                since = "5.3";
        } else if ((fd = openat2_fd(AT_FDCWD, "/", O_PATH, RESOLVE_NO_SYMLINKS)) < 0) {
                missing = "openat2";
                since = "5.6";
        } else if (!syscall_exists(syscall(SYS_fsopen, NULL, 0))) {
                missing = "fsopen/fsmount (the new mount API)";
                since = "5.2";
        } else if (setns(self, CLONE_NEWUTS) < 0) {
                /* Joining our own UTS namespace again changes nothing;
                 * before 5.8 a pidfd is not a namespace fd (EINVAL). */
                missing = "setns() with a pidfd";
                since = "5.8";
        } else if (!syscall_exists(r = syscall(SYS_close_range, ~0U, ~0U, 0))) {
                /* LOOP_CONFIGURE came in 5.8 with setns(pidfd): a kernel
                 * with close_range (5.9) has it. */
                missing = "close_range";
                since = "5.9";
        }
        if (missing) {
                return rk_error(err, ENOSYS, "this kernel lacks %s (Linux %s); rocker needs Linux 5.10 or later, the oldest "
                                "long-term kernel that has everything it uses", missing, since);
        }
        return 0;
}

/* Linux 6.15 can clone a detached mount (an fsmount() fd); before, EINVAL. */
static bool probe_detached_clone(void) {
        _cleanup_close_ int fs = -EBADF, tree = -EBADF, clone = -EBADF;

        fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
        if (fs < 0 || fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return false;
        tree = fsmount(fs, FSMOUNT_CLOEXEC, 0);
        if (tree < 0)
                return false;
        clone = open_tree(tree, "", OPEN_TREE_CLONE | AT_EMPTY_PATH | OPEN_TREE_CLOEXEC);
        return clone >= 0;
}

/* mount_setattr came in Linux 5.12: an fd of -1 is EBADF where it exists. */
static bool probe_mount_setattr(void) {
        struct mount_attr attr = {};

        return syscall_exists(syscall(SYS_mount_setattr, -1, "", AT_EMPTY_PATH, &attr, sizeof attr));
}

int kernel_probe(KernelFeatures *ret, RkError *err) {
        KernelFeatures f = {};
        const char *forced = getenv(KERNEL_FALLBACK_ENV), *bad = NULL;
        struct utsname u;
        size_t bad_len = 0;
        int r;

        if (uname(&u) == 0)
                snprintf(f.release, sizeof f.release, "%s", u.release);
        r = probe_floor(err);
        if (r < 0)
                return r;
        f.image_staging = !probe_detached_clone();
        f.bind_remount = !probe_mount_setattr();
        if (kernel_parse_forced(forced, &f, &bad, &bad_len) < 0) {
                return rk_error(err, EINVAL, "%s: unknown fallback \"%.*s\" (known: all, image-staging, bind-remount, cloexec-walk)",
                                KERNEL_FALLBACK_ENV, (int) bad_len, bad);
        }
        *ret = f;
        return 0;
}

const MountOps *kernel_mount_ops(const KernelFeatures *f) {
        return f->bind_remount ? &mountops_remount : &mountops_setattr;
}

void kernel_describe(const KernelFeatures *f, char *buf, size_t size) {
        snprintf(buf, size, "kernel %s: image %s, overlay layers as /proc/self/fd strings, mount flags by %s",
                 f->release[0] ? f->release : "(unknown)",
                 f->image_staging ? "clones from a staging mount namespace" : "clones from detached mounts",
                 f->bind_remount ? "bind remounts" : "mount_setattr");
}
