/* SPDX-License-Identifier: MIT */
/*
 * The image cache: each squashfs image is mounted once (kernel squashfs on an
 * autoclear loop device, or squashfuse, as a detached mount made by a
 * worker: image-loop.c, image-fuse.c) however many
 * rockers use it, keyed by the image file's identity (device, inode, size,
 * mtime: an image replaced by rename() is a new image). Each rocker gets its
 * own clone of the detached mount (before Linux 6.15: of the mount attached
 * in rockerd's staging namespace, staging.h); the cache entry, and with it
 * the loop device, goes away when its last rocker has ended.
 */
#ifndef ROCKER_IMAGE_H
#define ROCKER_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>
#include <systemd/sd-event.h>

#include "error.h"

typedef struct Image Image;
typedef struct ImageCache ImageCache;

typedef enum ImageBackend {
        IMAGE_BACKEND_AUTO,        /* kernel squashfs; squashfuse where that is unavailable */
        IMAGE_BACKEND_KERNEL,      /* kernel squashfs on a loop device */
        IMAGE_BACKEND_SQUASHFUSE,  /* squashfuse (FUSE 3), supervised by rockerd */
} ImageBackend;

/* staging_ns: keep every image mount attached in a staging mount namespace
 * (staging.h) and clone it there, for kernels that cannot clone a detached
 * mount (before 6.15). */
int image_cache_new(bool staging_ns, sd_event *event, ImageCache **ret);
ImageCache *image_cache_free(ImageCache *c);

/* squashfuse: found at this absolute path, never through PATH. */
#define SQUASHFUSE_PATH "/usr/bin/squashfuse"
/* Who squashfuse runs as until image_cache_set_squashfuse() says
 * otherwise: nobody/nogroup. */
#define SQUASHFUSE_DEFAULT_UID 65534
#define SQUASHFUSE_DEFAULT_GID 65534

/* Which squashfuse the cache starts (path: absolute; NULL: SQUASHFUSE_PATH)
 * and as what uid and gid (never 0: -EPERM). 0 or -errno. */
int image_cache_set_squashfuse(ImageCache *c, const char *path, uid_t uid, gid_t gid);
size_t image_cache_size(const ImageCache *c);

/* What the cache is keyed by: an image replaced by rename() is a new one. */
typedef struct ImageId {
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime;
} ImageId;

/* Opens path without following a final symlink (nor any, with
 * no_symlinks), checks it is a regular file with a squashfs superblock and
 * returns its fd (read-only, close-on-exec) with its identity in *ret_id.
 * fd or -errno with err set. Reads a client-named file, which may hang: a
 * worker's job (worker.h), never the event loop's. */
int image_open(const char *path, bool no_symlinks, ImageId *ret_id, RkError *err);

/* The same checks for an image already opened (image_fd: taken, closed
 * unless returned), e.g. as a non-root peer (policy.c); path names it in
 * messages. fd or -errno with err set. */
int image_check_fd(int image_fd, const char *path, ImageId *ret_id, RkError *err);

/* Whether the image open as fd may go to the kernel's squashfs driver for
 * a caller who is not root: a file of root's that nobody else may write,
 * not served by FUSE (whose daemon answers stat() and read() as it
 * likes). Anything else is mounted by squashfuse, unprivileged. */
bool image_fd_trusted(int fd);

/* Mounts the squashfs in image_fd with the kernel, on an autoclear loop
 * device, as a detached read-only mount: its fd, or -errno with err set.
 * Reads the image: a worker's job. Nothing is left behind if the worker is
 * killed half-way (the loop device clears itself with its last fd). */
int image_mount_kernel(int image_fd, RkError *err);

/* True of a image_mount_kernel() error that IMAGE_BACKEND_AUTO answers by
 * trying squashfuse (no loop devices, no kernel squashfs). */
bool image_kernel_unavailable(int error);

/* The live cache entry of the image with identity id that backend may use,
 * with one more reference, or NULL. Touches no file. */
Image *image_cache_find(ImageCache *c, const ImageId *id, ImageBackend backend);

/* Mounts the squashfs in image_fd with squashfuse, as the cache c says
 * (SquashfusePath=, SquashfuseUser=): opens /dev/fuse, mounts a FUSE
 * filesystem on it (detached: read-only, nosuid, nodev, allow_other,
 * default_permissions), starts squashfuse on that connection as a child of
 * rockerd (worker_spawn_child(): its pidfd goes back with the worker's
 * reply) and waits up to 5 s until it has taken the kernel's first request
 * (it does once it has opened and checked the image). Returns the detached
 * mount's fd, or -errno with err set (squashfuse, if started, killed; the
 * loop reaps it). Reads the image and waits on squashfuse: a build
 * worker's job, never the event loop's. Nothing is left behind if the
 * worker is killed half-way (the mount goes with its last fd, squashfuse is
 * known to the loop before it runs). */
int image_mount_fuse(const ImageCache *c, int image_fd, RkError *err);

/* Adds an image mounted by a worker to the cache, with one reference:
 * backend is what mounted it (KERNEL: image_mount_kernel(), SQUASHFUSE:
 * image_mount_fuse()), tree (taken) its detached mount, fuse_pidfd (taken)
 * the pidfd of the squashfuse serving it, or -EBADF. Touches no file and
 * waits for nothing. 0 or -errno with err set (squashfuse then stopped). */
int image_cache_add(ImageCache *c, const char *path, const ImageId *id, ImageBackend backend, int tree,
                    int fuse_pidfd, Image **ret, RkError *err);

/* A new detached, read-only, nosuid, nodev clone of the image's mount, to be
 * attached by a guard with move_mount(). Close-on-exec. fd or -errno. */
int image_clone(Image *img);

/* Drops one reference; the last one unmounts the image. Returns NULL. */
Image *image_release(Image *img);

const char *image_path(const Image *img);

/* Parses "auto", "kernel", "squashfuse". 0 or -EINVAL. */
int image_backend_from_string(const char *s, ImageBackend *ret);

#endif
