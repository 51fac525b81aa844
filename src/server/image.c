/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "image.h"
#include "log.h"
#include "macro.h"
#include "staging.h"
#include "util.h"

#define SQUASHFS_MAGIC_LE "hsqs"
#define SQUASHFS_SUPERBLOCK_SIZE 96
#define LOOP_ATTACH_TRIES 16

struct Image {
        ImageCache *cache;
        Image *next, *prev;
        unsigned refs;
        ImageBackend backend;   /* KERNEL or SQUASHFUSE: what it was mounted with */
        pid_t fuse_pid;         /* squashfuse serving it, or 0 */
        int fuse_pidfd;
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

/* A squashfuse told to stop, reaped when it exits (SIGKILL after 2 s):
 * the event loop never waits for it. */
typedef struct Retiree {
        struct Retiree *next;
        ImageCache *cache;
        int pidfd;
        sd_event_source *exit_source;
        sd_event_source *kill_timer;
} Retiree;

struct ImageCache {
        Image *head;
        size_t n;
        char *staging_dir;
        Staging *staging;       /* image mounts stay attached there (kernels before 6.15); NULL: kept detached */
        sd_event *event;        /* NULL: squashfuse is stopped synchronously */
        Retiree *retirees;
        char *squashfuse_path;  /* NULL: SQUASHFUSE_PATH */
        uid_t fuse_uid;         /* what squashfuse runs as (image_cache_set_squashfuse()) */
        gid_t fuse_gid;
};

int image_cache_new(const char *staging_dir, bool staging_ns, sd_event *event, ImageCache **ret) {
        ImageCache *c = calloc(1, sizeof *c);
        int r;

        if (!c)
                return -ENOMEM;
        c->staging_dir = strdup(staging_dir);
        if (!c->staging_dir) {
                free(c);
                return -ENOMEM;
        }
        if (staging_ns) {
                r = staging_new(&c->staging);
                if (r < 0) {
                        free(c->staging_dir);
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

        for (Retiree **p = &c->retirees; *p; p = &(*p)->next)
                if (*p == r) {
                        *p = r->next;
                        break;
                }
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

        if (img->fuse_pid <= 0 || pidfd < 0)
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
                        r->next = c->retirees;
                        c->retirees = r;
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

        if (img->prev)
                img->prev->next = img->next;
        else
                c->head = img->next;
        if (img->next)
                img->next->prev = img->prev;
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
        while (c->head)
                image_free(c->head);
        while (c->retirees) {
                Retiree *r = c->retirees;

                sd_event_source_disable_unref(TAKE_PTR(r->exit_source));
                fuse_wait(r->pidfd);
                retiree_free(r);
        }
        sd_event_unref(c->event);
        staging_free(c->staging);
        free(c->staging_dir);
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

/* The squashfuse process, between fork() and exec(): the image and the
 * FUSE connection are its only fds; it runs as the cache's unprivileged
 * uid and gid, without supplementary groups, with no capability (they go
 * with uid 0, no keep-caps) and no_new_privs (a set-user-ID fusermount3
 * would give it nothing). It needs no path at all: the image is
 * /proc/self/fd/N and the mount point /dev/fd/N (libfuse then uses that
 * connection and never mounts or unmounts anything). */
_Noreturn static void fuse_exec(const ImageCache *c, const char *exe, int image_fd, int fuse_fd) {
        char src[64], mountpoint[64];
        sigset_t none;
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

        /* rockerd's signal mask (signalfd-driven) must not cross the exec. */
        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0 || null_fd < 0 ||
            dup2(null_fd, STDIN_FILENO) < 0 || dup2(null_fd, STDOUT_FILENO) < 0 ||
            fcntl(image_fd, F_SETFD, 0) < 0 || fcntl(fuse_fd, F_SETFD, 0) < 0)
                _exit(126);  /* reported as "could not be started (exit status 126)" */
        if (setgroups(0, NULL) < 0 || setresgid(c->fuse_gid, c->fuse_gid, c->fuse_gid) < 0 ||
            setresuid(c->fuse_uid, c->fuse_uid, c->fuse_uid) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                _exit(126);
        snprintf(src, sizeof src, "/proc/self/fd/%d", image_fd);
        snprintf(mountpoint, sizeof mountpoint, "/dev/fd/%d", fuse_fd);
        execl(exe, "squashfuse", "-f", src, mountpoint, (char *) NULL);
        _exit(127);
}

/* Whether squashfuse may open the image as its uid: it reopens the file
 * through /proc/self/fd/N, which checks the file's mode again. */
static bool fuse_may_read(const ImageCache *c, const struct stat *st) {
        if (st->st_uid == c->fuse_uid)
                return st->st_mode & S_IRUSR;
        if (st->st_gid == c->fuse_gid)
                return st->st_mode & S_IRGRP;
        return st->st_mode & S_IROTH;
}

/* Mounts the squashfs in image_fd with squashfuse. rockerd opens
 * /dev/fuse and mounts the FUSE filesystem itself (read-only, nosuid,
 * nodev, allow_other, default_permissions) on a private staging dir;
 * squashfuse, a child of rockerd outside every rocker, then serves that
 * connection without any privilege (fuse_exec()). The staging mount is
 * taken as a detached tree and the staging dir let go. Blocks until
 * squashfuse has taken the kernel's first request (bounded: 5 s): it only
 * reads the connection once it has opened and checked the image. */
static int image_mount_fuse(ImageCache *c, Image *img, int image_fd, RkError *err) {
        const char *exe = c->squashfuse_path ? c->squashfuse_path : SQUASHFUSE_PATH;
        char staging[PATH_MAX], opts[160];
        _cleanup_close_ int tree = -EBADF, fuse_fd = -EBADF;
        struct stat st;
        pid_t pid;
        int r;

        if (access(exe, X_OK) < 0) {
                r = negative_errno();
                return rk_error(err, r, "app_pkg_path: the squashfuse backend needs %s (Debian package squashfuse; "
                                "SquashfusePath= in rockerd.conf): %s", exe, strerror(-r));
        }
        if (fstat(image_fd, &st) < 0) {
                r = negative_errno();
                return rk_error(err, r, "app_pkg_path: fstat: %s", strerror(-r));
        }
        if (!fuse_may_read(c, &st)) {
                return rk_error(err, EACCES, "app_pkg_path: squashfuse runs as uid %u gid %u and may not read the image "
                                "(owner %u:%u, mode %04o): make it readable by others, or use the kernel backend",
                                (unsigned) c->fuse_uid, (unsigned) c->fuse_gid, (unsigned) st.st_uid, (unsigned) st.st_gid,
                                (unsigned) (st.st_mode & 07777));
        }
        fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
        if (fuse_fd < 0) {
                r = negative_errno();
                return rk_error(err, r, "app_pkg_path: cannot open /dev/fuse for squashfuse: %s", strerror(-r));
        }
        snprintf(staging, sizeof staging, "%s/.fuse-XXXXXX", c->staging_dir);
        if (!mkdtemp(staging)) {
                r = negative_errno();
                return rk_error(err, r, "app_pkg_path: cannot make a staging dir for squashfuse: %s", strerror(-r));
        }
        /* Mounted by rockerd, so squashfuse needs no privilege. The staging
         * dir is rockerd's, 0700: nothing reaches the filesystem before
         * it is detached. allow_other: the apps run as other uids;
         * default_permissions: the kernel checks the image's modes. The
         * flags are set here, on the attached mount, and the clone takes
         * them. Legacy mount(2) data: "fuse" takes it on every kernel. */
        snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions",
                 fuse_fd);
        if (mount("squashfuse", staging, "fuse.squashfuse", MS_RDONLY | MS_NOSUID | MS_NODEV, opts) < 0) {
                r = negative_errno();
                (void) rmdir(staging);
                return rk_error(err, r, "app_pkg_path: cannot mount a FUSE filesystem for squashfuse: %s", strerror(-r));
        }
        pid = fork();
        if (pid < 0) {
                r = negative_errno();
                (void) umount2(staging, MNT_DETACH);
                (void) rmdir(staging);
                return rk_error(err, r, "app_pkg_path: cannot start squashfuse: %s", strerror(-r));
        }
        if (pid == 0)
                fuse_exec(c, exe, image_fd, fuse_fd);
        img->fuse_pid = pid;
        img->fuse_pidfd = pidfd_open(pid, 0);
        if (img->fuse_pidfd < 0) {
                r = negative_errno();
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                img->fuse_pid = 0;
                (void) umount2(staging, MNT_DETACH);
                (void) rmdir(staging);
                return rk_error(err, r, "app_pkg_path: pidfd_open(squashfuse): %s", strerror(-r));
        }
        /* The mount queued FUSE_INIT on the connection: readable until
         * squashfuse reads it, which it does only after it has opened and
         * checked the image. One that exits first refused it. */
        for (int i = 0;; i++) {
                struct pollfd p = { .fd = fuse_fd, .events = POLLIN };
                siginfo_t si = {};

                if (waitid(P_PIDFD, (id_t) img->fuse_pidfd, &si, WEXITED | WNOHANG) == 0 && si.si_pid != 0) {
                        img->fuse_pidfd = safe_close(img->fuse_pidfd);
                        img->fuse_pid = 0;
                        (void) umount2(staging, MNT_DETACH);
                        (void) rmdir(staging);
                        if (si.si_code == CLD_EXITED && (si.si_status == 127 || si.si_status == 126))
                                (void) rk_error(err, EINVAL, "app_pkg_path: %s could not be started (exit status %d)", exe,
                                                si.si_status);
                        else
                                (void) rk_error(err, EINVAL, "app_pkg_path: not a mountable squashfs image: squashfuse "
                                                "refused it (%s %d)", si.si_code == CLD_EXITED ? "exit status" : "signal",
                                                si.si_status);
                        return -EINVAL;
                }
                if (poll(&p, 1, 0) == 0)
                        break;
                if (i == 2500) {
                        fuse_stop(img);
                        (void) umount2(staging, MNT_DETACH);
                        (void) rmdir(staging);
                        return rk_error(err, ETIMEDOUT, "app_pkg_path: squashfuse did not mount it within 5 s");
                }
                usleep(2000);
        }
        /* squashfuse holds the connection alone from here: when it exits,
         * the filesystem answers ENOTCONN instead of waiting for it. */
        fuse_fd = safe_close(fuse_fd);
        tree = open_tree(AT_FDCWD, staging, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        r = tree < 0 ? negative_errno() : 0;
        /* The staging mount goes; the detached tree keeps the filesystem. */
        if (umount2(staging, MNT_DETACH) < 0 && r >= 0)
                r = negative_errno();
        (void) rmdir(staging);
        if (r < 0) {
                fuse_stop(img);
                return rk_error(err, r, "app_pkg_path: cannot detach the squashfuse mount: %s", strerror(-r));
        }
        return TAKE_FD(tree);
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

int image_open(const char *path, bool no_symlinks, ImageId *ret_id, RkError *err) {
        _cleanup_close_ int fd = -EBADF;
        struct open_how how = {
                /* O_NONBLOCK: a FIFO swapped in must not hang the worker. */
                .flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
                .resolve = no_symlinks ? RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS : 0,
        };
        int r;

        fd = (int) syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
        if (fd < 0) {
                r = negative_errno();
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

Image *image_cache_find(ImageCache *c, const ImageId *id, ImageBackend backend) {
        for (Image *img = c->head; img; img = img->next)
                if (!image_is_dead(img) && (backend == IMAGE_BACKEND_AUTO || backend == img->backend) &&
                    img->dev == id->dev && img->ino == id->ino && img->size == id->size &&
                    img->mtime.tv_sec == id->mtime.tv_sec && img->mtime.tv_nsec == id->mtime.tv_nsec) {
                        img->refs++;
                        return img;
                }
        return NULL;
}

bool image_kernel_unavailable(int error) {
        /* no loop devices or no kernel squashfs here */
        return error == -ENOENT || error == -ENODEV || error == -ENXIO;
}

int image_cache_add(ImageCache *c, const char *path, const ImageId *id, ImageBackend backend, int image_fd,
                    int kernel_tree, Image **ret, RkError *err) {
        _cleanup_close_ int tree = kernel_tree;
        Image *img;
        int r;

        img = calloc(1, sizeof *img);
        if (!img)
                return -ENOMEM;
        img->cache = c;  /* before mounting: a failed squashfuse start is stopped through it */
        img->path = strdup(path);
        if (!img->path) {
                free(img);
                return -ENOMEM;
        }
        img->fuse_pidfd = -EBADF;
        img->backend = backend == IMAGE_BACKEND_SQUASHFUSE ? IMAGE_BACKEND_SQUASHFUSE : IMAGE_BACKEND_KERNEL;
        if (img->backend == IMAGE_BACKEND_KERNEL) {
                img->tree_fd = TAKE_FD(tree);
                if (img->tree_fd < 0 && backend == IMAGE_BACKEND_AUTO && image_kernel_unavailable(img->tree_fd)) {
                        log_info("image %s: kernel squashfs unavailable (%s); using squashfuse", path,
                                 strerror(-img->tree_fd));
                        img->backend = IMAGE_BACKEND_SQUASHFUSE;
                }
        }
        if (img->backend == IMAGE_BACKEND_SQUASHFUSE)
                img->tree_fd = image_mount_fuse(c, img, image_fd, err);
        if (img->tree_fd >= 0 && c->staging) {
                r = staging_attach(c->staging, img->tree_fd, &img->slot);
                if (r < 0) {
                        (void) rk_error(err, r, "app_pkg_path: cannot attach the image mount in the staging namespace: %s",
                                        strerror(-r));
                        img->tree_fd = safe_close(img->tree_fd);
                        fuse_stop(img);
                        img->tree_fd = r;
                } else
                        img->staged = true;
        }
        if (img->tree_fd < 0) {
                r = img->tree_fd;
                free(img->path);
                free(img);
                return r;
        }
        img->refs = 1;
        img->dev = id->dev;
        img->ino = id->ino;
        img->size = id->size;
        img->mtime = id->mtime;
        img->next = c->head;
        if (c->head)
                c->head->prev = img;
        c->head = img;
        c->n++;
        log_info("image %s mounted with %s (dev %lu, inode %lu)", path,
                 img->backend == IMAGE_BACKEND_SQUASHFUSE ? "squashfuse" : "kernel squashfs",
                 (unsigned long) id->dev, (unsigned long) id->ino);
        *ret = img;
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
