/* SPDX-License-Identifier: MIT */
/*
 * The kernel backend of the image cache: an image file checked, then
 * attached to an autoclear loop device and mounted with the kernel's
 * squashfs, detached. Everything here reads a client-named file: a
 * worker's job (worker.h), never the event loop's.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "image.h"
#include "macro.h"
#include "util.h"

#define SQUASHFS_MAGIC_LE "hsqs"
#define SQUASHFS_SUPERBLOCK_SIZE 96
#define LOOP_ATTACH_TRIES 16

int image_open(const char *path, bool no_symlinks, ImageId *ret_id, RkError *err) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        /* O_NONBLOCK: a FIFO swapped in must not hang the worker. */
        fd = openat2_fd(AT_FDCWD, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY,
                        no_symlinks ? RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS : 0);
        if (fd < 0) {
                r = fd;
                return rk_error(err, r, "app_pkg_path: \"%.256s\": %s", path,
                                r != -ELOOP ? strerror(-r) : no_symlinks ? "a symlink on the way (the app's ImageDirs= "
                                "allow none)" : "is a symlink");
        }
        return image_check_fd(TAKE_FD(fd), path, ret_id, err);
}

bool image_fd_trusted(int fd) {
        struct statfs sfs;
        struct stat st;

        if (fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0)
                return false;
        return st.st_uid == 0 && !(st.st_mode & (S_IWGRP | S_IWOTH)) && sfs.f_type != FUSE_SUPER_MAGIC;
}

int image_check_fd(int image_fd, const char *path, ImageId *ret_id, RkError *err) {
        _cleanup_close_ int fd = image_fd;
        char magic[4];
        struct stat st;
        ssize_t n;
        int r;

        if (fstat(fd, &st) < 0) {
                r = negative_errno();
                return rk_error(err, r, "app_pkg_path: \"%.256s\": %s", path, strerror(-r));
        }
        if (!S_ISREG(st.st_mode)) {
                return rk_error(err, EINVAL, "app_pkg_path: \"%.256s\" is not a regular file", path);
        }
        if (st.st_size < SQUASHFS_SUPERBLOCK_SIZE) {
                return rk_error(err, EINVAL, "app_pkg_path: \"%.256s\" is too small to be a squashfs image", path);
        }
        n = pread(fd, magic, sizeof magic, 0);
        if (n != (ssize_t) sizeof magic || memcmp(magic, SQUASHFS_MAGIC_LE, sizeof magic) != 0) {
                return rk_error(err, EINVAL, "app_pkg_path: \"%.256s\" is not a squashfs image", path);
        }
        *ret_id = (ImageId) { .dev = st.st_dev, .ino = st.st_ino, .size = st.st_size, .mtime = st.st_mtim };
        return TAKE_FD(fd);
}

/* Attaches image_fd to a free loop device, read-only and autoclear: the
 * device detaches itself when its last user (the mount) lets go. */
static int loop_attach(int image_fd, char *ret_dev, size_t devlen) {
        _cleanup_close_ int ctl = -EBADF;
        struct loop_config cfg = {
                .fd = (unsigned) image_fd,
                .info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR,
        };

        ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        if (ctl < 0)
                return negative_errno();
        for (int i = 0; i < LOOP_ATTACH_TRIES; i++) {
                _cleanup_close_ int loop = -EBADF;
                int nr = ioctl(ctl, LOOP_CTL_GET_FREE);

                if (nr < 0)
                        return negative_errno();
                snprintf(ret_dev, devlen, "/dev/loop%d", nr);
                loop = open(ret_dev, O_RDONLY | O_CLOEXEC);
                if (loop < 0)
                        return negative_errno();
                if (ioctl(loop, LOOP_CONFIGURE, &cfg) == 0)
                        return TAKE_FD(loop);
                if (errno != EBUSY)
                        return negative_errno();
                /* another process took that device between GET_FREE and us */
        }
        return -EBUSY;
}

int image_mount_kernel(int image_fd, RkError *err) {
        _cleanup_close_ int loop = -EBADF, fs = -EBADF;
        char dev[64], log[256];
        int r, tree;

        loop = loop_attach(image_fd, dev, sizeof dev);
        if (loop < 0) {
                return rk_error(err, loop, "app_pkg_path: cannot attach a loop device: %s", strerror(-loop));
        }
        fs = fsopen("squashfs", FSOPEN_CLOEXEC);
        if (fs < 0) {
                r = negative_errno();
                return rk_error(err, r, "app_pkg_path: squashfs is not available: %s", strerror(-r));
        }
        if (fsconfig(fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "source", dev, 0) < 0 ||
            fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
                r = negative_errno();
                fs_context_log(fs, log, sizeof log);
                return rk_error(err, r, "app_pkg_path: not a mountable squashfs image: %s%s%s", strerror(-r),
                                log[0] ? ": " : "", log);
        }
        tree = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (tree < 0) {
                r = negative_errno();
                return rk_error(err, r, "app_pkg_path: cannot mount the image: %s", strerror(-r));
        }
        /* The superblock holds the loop device now; our fd may go, and with
         * autoclear the device goes with the last mount. */
        return tree;
}

bool image_kernel_unavailable(int error) {
        /* no loop devices or no kernel squashfs here */
        return error == -ENOENT || error == -ENODEV || error == -ENXIO;
}
