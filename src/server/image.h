/* SPDX-License-Identifier: MIT */
/*
 * The image cache: each squashfs image is mounted once (kernel squashfs on an
 * autoclear loop device, as a detached mount made with fsmount()) however many
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
#include <systemd/sd-event.h>

typedef struct Image Image;
typedef struct ImageCache ImageCache;

typedef enum ImageBackend {
        IMAGE_BACKEND_AUTO,        /* kernel squashfs; squashfuse where that is unavailable */
        IMAGE_BACKEND_KERNEL,      /* kernel squashfs on a loop device */
        IMAGE_BACKEND_SQUASHFUSE,  /* squashfuse (FUSE 3), supervised by rockerd */
} ImageBackend;

/* staging_dir: where squashfuse mounts an image for a moment, before its
 * mount is detached (rockerd's own, root 0700). staging_ns: keep every image
 * mount attached in a staging mount namespace (staging.h) and clone it
 * there, for kernels that cannot clone a detached mount (before 6.15). */
int image_cache_new(const char *staging_dir, bool staging_ns, sd_event *event, ImageCache **ret);
ImageCache *image_cache_free(ImageCache *c);
size_t image_cache_size(const ImageCache *c);

/* Opens path without following a final symlink (nor any, with
 * no_symlinks), checks it is a regular squashfs file and returns the cache
 * entry for it with one more reference, mounting it if it is new. 0 or
 * -errno with err set. */
int image_acquire(ImageCache *c, const char *path, ImageBackend backend, bool no_symlinks, Image **ret, char *err,
                  size_t errlen);

/* The same for an image already opened (image_fd: taken, closed in every
 * case), e.g. by a child running as a non-root peer (policy.c); path names
 * it in messages and the cache. */
int image_acquire_fd(ImageCache *c, int image_fd, const char *path, ImageBackend backend, Image **ret, char *err,
                     size_t errlen);

/* A new detached, read-only, nosuid, nodev clone of the image's mount, to be
 * attached by a guard with move_mount(). Close-on-exec. fd or -errno. */
int image_clone(Image *img);

/* Drops one reference; the last one unmounts the image. Returns NULL. */
Image *image_release(Image *img);

const char *image_path(const Image *img);

/* Parses "auto", "kernel", "squashfuse". 0 or -EINVAL. */
int image_backend_from_string(const char *s, ImageBackend *ret);

#endif
