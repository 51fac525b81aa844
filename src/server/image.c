/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/wait.h>

#include <systemd/sd-event.h>

#include "image-internal.h"
#include "util.h"
#include "log.h"
#include "macro.h"

/* A squashfuse told to stop, reaped when it exits (SIGKILL after 2 s):
 * the event loop never waits for it. */
struct Retiree {
        LIST_FIELDS(Retiree, retirees);
        ImageCache *cache;
        int pidfd;
        sd_event_source *exit_source;
        sd_event_source *kill_timer;
};

int image_cache_new(bool staging_ns, sd_event *event, ImageCache **ret) {
        ImageCache *c = calloc(1, sizeof *c);
        int r;

        if (!c)
                return -ENOMEM;
        if (staging_ns) {
                r = staging_new(&c->staging);
                if (r < 0) {
                        free(c);
                        return r;
                }
        }
        c->event = event ? sd_event_ref(event) : NULL;
        c->fuse_uid = SQUASHFUSE_DEFAULT_UID;
        c->fuse_gid = SQUASHFUSE_DEFAULT_GID;
        *ret = c;
        return 0;
}

int image_cache_set_squashfuse(ImageCache *c, const char *path, uid_t uid, gid_t gid) {
        char *copy = NULL;

        if (uid == 0 || gid == 0)
                return -EPERM;  /* the point is that it is not root */
        if (path) {
                copy = strdup(path);
                if (!copy)
                        return -ENOMEM;
        }
        free(c->squashfuse_path);
        c->squashfuse_path = copy;
        c->fuse_uid = uid;
        c->fuse_gid = gid;
        return 0;
}

int image_backend_from_string(const char *s, ImageBackend *ret) {
        if (!strcmp(s, "auto"))
                *ret = IMAGE_BACKEND_AUTO;
        else if (!strcmp(s, "kernel"))
                *ret = IMAGE_BACKEND_KERNEL;
        else if (!strcmp(s, "squashfuse"))
                *ret = IMAGE_BACKEND_SQUASHFUSE;
        else
                return -EINVAL;
        return 0;
}

/* Waits (up to 2 s, then SIGKILL) for a squashfuse told to stop, and
 * reaps it. Only where no event loop runs: at exit, or without one. */
static void fuse_wait(int pidfd) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };

        if (poll(&p, 1, 2000) != 1)
                (void) pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
        (void) waitid(P_PIDFD, (id_t) pidfd, &(siginfo_t) {}, WEXITED);
}

static void retiree_free(Retiree *r) {
        ImageCache *c = r->cache;

        LIST_REMOVE(retirees, c->retirees, r);
        sd_event_source_disable_unref(r->exit_source);
        sd_event_source_disable_unref(r->kill_timer);
        safe_close(r->pidfd);
        free(r);
}

static int on_retiree_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Retiree *r = userdata;

        (void) s;
        (void) revents;
        (void) waitid(P_PIDFD, (id_t) fd, &(siginfo_t) {}, WEXITED | WNOHANG);  /* readable: it has exited */
        retiree_free(r);
        return 0;
}

static int on_retiree_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Retiree *r = userdata;

        (void) s;
        (void) usec;
        log_warning("squashfuse did not stop within 2 s: killed");
        (void) pidfd_send_signal(r->pidfd, SIGKILL, NULL, 0);
        return 0;
}

/* Ends the squashfuse of an image nobody uses any more. Its filesystem has
 * no mount left (the last rocker's namespace is gone, the cache's tree fd
 * closed), so SIGTERM only tells it to stop waiting. The event loop reaps
 * it when it exits. */
static void fuse_stop(Image *img) {
        ImageCache *c = img->cache;
        Retiree *r;
        int pidfd = TAKE_FD(img->fuse_pidfd);

        if (pidfd < 0)
                return;
        img->fuse_pid = 0;
        (void) pidfd_send_signal(pidfd, SIGTERM, NULL, 0);  /* ESRCH: exited already, reaped below */
        r = c->event ? calloc(1, sizeof *r) : NULL;
        if (r) {
                r->cache = c;
                r->pidfd = pidfd;
                if (sd_event_add_io(c->event, &r->exit_source, pidfd, EPOLLIN, on_retiree_exit, r) >= 0 &&
                    sd_event_add_time_relative(c->event, &r->kill_timer, CLOCK_MONOTONIC, 2 * 1000 * 1000ULL, 0,
                                               on_retiree_timeout, r) >= 0) {
                        LIST_PREPEND(retirees, c->retirees, r);
                        return;
                }
                sd_event_source_disable_unref(r->exit_source);
                sd_event_source_disable_unref(r->kill_timer);
                free(r);
        }
        fuse_wait(pidfd);  /* no loop to wait in: here, bounded */
        safe_close(pidfd);
}

static void image_free(Image *img) {
        ImageCache *c = img->cache;

        LIST_REMOVE(images, c->images, img);
        c->n--;
        log_info("image %s released", img->path);
        if (img->staged)
                staging_detach(c->staging, img->slot);
        safe_close(img->tree_fd);
        fuse_stop(img);
        free(img->path);
        free(img);
}

ImageCache *image_cache_free(ImageCache *c) {
        if (!c)
                return NULL;
        LIST_FOREACH_SAFE(images, img, n, c->images)
                image_free(img);
        LIST_FOREACH_SAFE(retirees, r, n, c->retirees) {
                sd_event_source_disable_unref(TAKE_PTR(r->exit_source));
                fuse_wait(r->pidfd);
                retiree_free(r);
        }
        sd_event_unref(c->event);
        staging_free(c->staging);
        free(c->squashfuse_path);
        free(c);
        return NULL;
}

size_t image_cache_size(const ImageCache *c) {
        return c->n;
}

const char *image_path(const Image *img) {
        return img->path;
}


/* A squashfs served by a squashfuse that has exited (crashed on a crafted
 * image, or killed) answers ENOTCONN to every rocker cloned from it: such an
 * entry is left to the rockers that have it and never handed out again;
 * the next request mounts the image anew. */
static bool image_is_dead(Image *img) {
        struct pollfd p = { .fd = img->fuse_pidfd, .events = POLLIN };

        if (img->dead || img->fuse_pidfd < 0)
                return img->dead;
        if (poll(&p, 1, 0) == 1) {
                log_warning("image %s: its squashfuse (pid %d) has exited; it will be mounted again", img->path,
                            (int) img->fuse_pid);
                img->dead = true;
        }
        return img->dead;
}


Image *image_cache_find(ImageCache *c, const ImageId *id, ImageBackend backend) {
        LIST_FOREACH(images, img, c->images)
                if (!image_is_dead(img) && (backend == IMAGE_BACKEND_AUTO || backend == img->backend) &&
                    img->dev == id->dev && img->ino == id->ino && img->size == id->size &&
                    img->mtime.tv_sec == id->mtime.tv_sec && img->mtime.tv_nsec == id->mtime.tv_nsec) {
                        img->refs++;
                        return img;
                }
        return NULL;
}


/* An entry not (yet) in the cache: its mount closed, its squashfuse
 * stopped, freed. */
static Image *image_draft_free(Image *img) {
        if (!img)
                return NULL;
        img->tree_fd = safe_close(img->tree_fd);
        fuse_stop(img);
        free(img->path);
        free(img);
        return NULL;
}

static void image_draft_freep(Image **img) {
        image_draft_free(*img);
}

int image_cache_add(ImageCache *c, const char *path, const ImageId *id, ImageBackend backend, int tree,
                    int fuse_pidfd, Image **ret, RkError *err) {
        _cleanup_(image_draft_freep) Image *img = NULL;
        _cleanup_close_ int t = tree, pidfd = fuse_pidfd;
        int r;

        img = calloc(1, sizeof *img);
        if (!img)
                return -ENOMEM;
        img->cache = c;  /* a failed add stops its squashfuse through it */
        img->tree_fd = TAKE_FD(t);
        img->fuse_pidfd = TAKE_FD(pidfd);
        if (img->fuse_pidfd >= 0) {
                r = pidfd_get_pid(img->fuse_pidfd);  /* for logs */
                img->fuse_pid = r > 0 ? r : 0;
        }
        img->backend = backend == IMAGE_BACKEND_SQUASHFUSE ? IMAGE_BACKEND_SQUASHFUSE : IMAGE_BACKEND_KERNEL;
        if (img->tree_fd < 0)
                return rk_error(err, EBADF, "app_pkg_path: no mount of the image");
        img->path = strdup(path);
        if (!img->path)
                return -ENOMEM;
        if (c->staging) {
                r = staging_attach(c->staging, img->tree_fd, &img->slot);
                if (r < 0)
                        return rk_error(err, r, "app_pkg_path: cannot attach the image mount in the staging namespace: %s",
                                        strerror(-r));
                img->staged = true;
        }
        img->refs = 1;
        img->dev = id->dev;
        img->ino = id->ino;
        img->size = id->size;
        img->mtime = id->mtime;
        LIST_PREPEND(images, c->images, img);
        c->n++;
        log_info("image %s mounted with %s (dev %lu, inode %lu)", path,
                 img->backend == IMAGE_BACKEND_SQUASHFUSE ? "squashfuse" : "kernel squashfs",
                 (unsigned long) id->dev, (unsigned long) id->ino);
        *ret = TAKE_PTR(img);
        return 0;
}

int image_clone(Image *img) {
        int fd;

        if (img->staged)
                return staging_clone(img->cache->staging, img->tree_fd);
        fd = open_tree(img->tree_fd, "", OPEN_TREE_CLONE | AT_EMPTY_PATH | OPEN_TREE_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

Image *image_release(Image *img) {
        if (img && --img->refs == 0)
                image_free(img);
        return NULL;
}
