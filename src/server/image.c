/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "log.h"
#include "macro.h"

#define SQUASHFS_MAGIC_LE "hsqs"
#define SQUASHFS_SUPERBLOCK_SIZE 96
#define LOOP_ATTACH_TRIES 16

struct Image {
        ImageCache *cache;
        Image *next, *prev;
        unsigned refs;
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime;
        int tree_fd;            /* the detached mount every rocker clones */
        char *path;             /* as first asked for, for logs */
};

struct ImageCache {
        Image *head;
        size_t n;
};

int image_cache_new(ImageCache **ret) {
        ImageCache *c = calloc(1, sizeof *c);

        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

static void image_free(Image *img) {
        ImageCache *c = img->cache;

        if (img->prev)
                img->prev->next = img->next;
        else
                c->head = img->next;
        if (img->next)
                img->next->prev = img->prev;
        c->n--;
        log_info("image %s released", img->path);
        safe_close(img->tree_fd);
        free(img->path);
        free(img);
}

ImageCache *image_cache_free(ImageCache *c) {
        if (!c)
                return NULL;
        while (c->head)
                image_free(c->head);
        free(c);
        return NULL;
}

size_t image_cache_size(const ImageCache *c) {
        return c->n;
}

const char *image_path(const Image *img) {
        return img->path;
}

/* The fs context's own log says why a mount failed ("squashfs: bad magic"…). */
static void read_fs_log(int fs_fd, char *buf, size_t size) {
        ssize_t n;

        buf[0] = '\0';
        n = read(fs_fd, buf, size - 1);
        if (n > 0) {
                buf[n] = '\0';
                buf[strcspn(buf, "\n")] = '\0';
                /* the kernel prefixes a level letter: "e squashfs: ..." */
                if ((buf[0] == 'e' || buf[0] == 'w' || buf[0] == 'i') && buf[1] == ' ')
                        memmove(buf, buf + 2, strlen(buf + 2) + 1);
        } else
                buf[0] = '\0';
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

/* Mounts the squashfs in image_fd as a detached read-only mount. */
static int image_mount(int image_fd, char *err, size_t errlen) {
        _cleanup_close_ int loop = -EBADF, fs = -EBADF;
        char dev[64], log[256];
        int r, tree;

        loop = loop_attach(image_fd, dev, sizeof dev);
        if (loop < 0) {
                snprintf(err, errlen, "app_pkg_path: cannot attach a loop device: %s", strerror(-loop));
                return loop;
        }
        fs = fsopen("squashfs", FSOPEN_CLOEXEC);
        if (fs < 0) {
                r = negative_errno();
                snprintf(err, errlen, "app_pkg_path: squashfs is not available: %s", strerror(-r));
                return r;
        }
        if (fsconfig(fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "source", dev, 0) < 0 ||
            fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
                r = negative_errno();
                read_fs_log(fs, log, sizeof log);
                snprintf(err, errlen, "app_pkg_path: not a mountable squashfs image: %s%s%s", strerror(-r),
                         log[0] ? ": " : "", log);
                return r;
        }
        tree = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (tree < 0) {
                r = negative_errno();
                snprintf(err, errlen, "app_pkg_path: cannot mount the image: %s", strerror(-r));
                return r;
        }
        /* The superblock holds the loop device now; our fd may go, and with
         * autoclear the device goes with the last mount. */
        return tree;
}

int image_acquire(ImageCache *c, const char *path, Image **ret, char *err, size_t errlen) {
        _cleanup_close_ int fd = -EBADF;
        char magic[4];
        struct stat st;
        Image *img;
        ssize_t n;
        int r;

        /* O_NONBLOCK: a FIFO swapped in must not hang the daemon. */
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
                r = negative_errno();
                snprintf(err, errlen, "app_pkg_path: \"%.256s\": %s", path,
                         r == -ELOOP ? "is a symlink" : strerror(-r));
                return r;
        }
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode)) {
                snprintf(err, errlen, "app_pkg_path: \"%.256s\" is not a regular file", path);
                return -EINVAL;
        }

        for (img = c->head; img; img = img->next)
                if (img->dev == st.st_dev && img->ino == st.st_ino && img->size == st.st_size &&
                    img->mtime.tv_sec == st.st_mtim.tv_sec && img->mtime.tv_nsec == st.st_mtim.tv_nsec) {
                        img->refs++;
                        *ret = img;
                        return 0;
                }

        if (st.st_size < SQUASHFS_SUPERBLOCK_SIZE) {
                snprintf(err, errlen, "app_pkg_path: \"%.256s\" is too small to be a squashfs image", path);
                return -EINVAL;
        }
        n = pread(fd, magic, sizeof magic, 0);
        if (n != (ssize_t) sizeof magic || memcmp(magic, SQUASHFS_MAGIC_LE, sizeof magic) != 0) {
                snprintf(err, errlen, "app_pkg_path: \"%.256s\" is not a squashfs image", path);
                return -EINVAL;
        }

        img = calloc(1, sizeof *img);
        if (!img)
                return -ENOMEM;
        img->path = strdup(path);
        if (!img->path) {
                free(img);
                return -ENOMEM;
        }
        img->tree_fd = image_mount(fd, err, errlen);
        if (img->tree_fd < 0) {
                r = img->tree_fd;
                free(img->path);
                free(img);
                return r;
        }
        img->cache = c;
        img->refs = 1;
        img->dev = st.st_dev;
        img->ino = st.st_ino;
        img->size = st.st_size;
        img->mtime = st.st_mtim;
        img->next = c->head;
        if (c->head)
                c->head->prev = img;
        c->head = img;
        c->n++;
        log_info("image %s mounted (dev %lu, inode %lu)", path, (unsigned long) st.st_dev,
                 (unsigned long) st.st_ino);
        *ret = img;
        return 0;
}

int image_clone(Image *img) {
        int fd = open_tree(img->tree_fd, "", OPEN_TREE_CLONE | AT_EMPTY_PATH | OPEN_TREE_CLOEXEC);

        return fd < 0 ? negative_errno() : fd;
}

Image *image_release(Image *img) {
        if (img && --img->refs == 0)
                image_free(img);
        return NULL;
}
