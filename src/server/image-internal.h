/* SPDX-License-Identifier: MIT */
/*
 * Shared by the image cache (image.c) and its squashfuse backend
 * (image-fuse.c, which reads the cache's squashfuse settings in a worker's
 * copy of rockerd's memory): the cache's and an entry's fields. The kernel
 * backend (image-loop.c) needs none of them.
 */
#ifndef ROCKER_IMAGE_INTERNAL_H
#define ROCKER_IMAGE_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>
#include <systemd/sd-event.h>

#include "image.h"
#include "list.h"
#include "staging.h"

typedef struct Retiree Retiree;

struct Image {
        ImageCache *cache;
        LIST_FIELDS(Image, images);
        unsigned refs;
        ImageBackend backend;   /* KERNEL or SQUASHFUSE: what it was mounted with */
        pid_t fuse_pid;         /* squashfuse serving it (for logs), or 0 */
        int fuse_pidfd;          /* its pidfd (it is rockerd's child), or -EBADF */
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime;
        int tree_fd;            /* the mount every rocker clones: detached, or attached in the staging namespace */
        unsigned slot;          /* its place in the staging namespace, with staged */
        bool staged;
        char *path;             /* as first asked for, for logs */
        bool dead;              /* its squashfuse has exited: never handed out again */
};

struct ImageCache {
        LIST_HEAD(Image, images);
        size_t n;
        Staging *staging;       /* image mounts stay attached there (kernels before 6.15); NULL: kept detached */
        sd_event *event;        /* NULL: squashfuse is stopped synchronously */
        LIST_HEAD(Retiree, retirees);
        char *squashfuse_path;  /* NULL: SQUASHFUSE_PATH */
        uid_t fuse_uid;         /* what squashfuse runs as (image_cache_set_squashfuse()) */
        gid_t fuse_gid;
};

#endif
