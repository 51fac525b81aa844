/* SPDX-License-Identifier: MIT */
/*
 * The squashfuse backend of the image cache: rockerd mounts a FUSE
 * filesystem and starts squashfuse, unprivileged, to serve it. All of it
 * runs in the build worker (worker.h), never in the event loop: squashfuse
 * reads a client-named image (which may lie on a hung file system) and may
 * itself be slow to answer; the loop only gets the detached mount and
 * squashfuse's pidfd, and supervises squashfuse from then on (image.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helper.h"
#include "image-internal.h"
#include "macro.h"
#include "util.h"
#include "worker.h"

/* What squashfuse is started with (fuse_exec()). */
typedef struct FuseExec {
        const ImageCache *cache;
        const char *exe;
        int image_fd, fuse_fd;
        int status_fd;          /* close-on-exec: gets the exit status if the exec is never reached */
} FuseExec;

_Noreturn static void fuse_exec_fail(const FuseExec *f, unsigned char status) {
        (void) !write(f->status_fd, &status, 1);
        _exit(status);
}

/* The squashfuse process, between clone3() and exec(): the image and the
 * FUSE connection are its only fds; it runs as the cache's unprivileged
 * uid and gid (helper_drop()), with helper_environ. It needs no path at
 * all: the image is /proc/self/fd/N and the mount point /dev/fd/N (libfuse
 * then uses that connection and never mounts or unmounts anything). */
_Noreturn static void fuse_exec(void *data) {
        const FuseExec *f = data;
        const ImageCache *c = f->cache;
        char src[64], mountpoint[64];
        char *argv[] = { (char *) "squashfuse", (char *) "-f", src, mountpoint, NULL };

        if (helper_drop(c->fuse_uid, c->fuse_gid, (const int[]) { f->image_fd, f->fuse_fd }, 2) < 0)
                fuse_exec_fail(f, 126);  /* reported as "could not be started (exit status 126)" */
        snprintf(src, sizeof src, "/proc/self/fd/%d", f->image_fd);
        snprintf(mountpoint, sizeof mountpoint, "/dev/fd/%d", f->fuse_fd);
        execve(f->exe, argv, helper_environ);
        fuse_exec_fail(f, 127);
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

/* A FUSE filesystem on the connection fuse_fd, as a detached mount:
 * read-only, nosuid, nodev; allow_other (the apps run as other uids),
 * default_permissions (the kernel checks the image's modes). Made with the
 * new mount API (FUSE takes it from Linux 5.4), so that it is never
 * attached anywhere: no staging dir, and nothing a killed worker could
 * leave mounted (the mount goes with its last fd). Queues FUSE_INIT on the
 * connection. fd or -errno with err set. */
static int fuse_mount_detached(int fuse_fd, RkError *err) {
        _cleanup_close_ int fs = -EBADF;
        char fd_text[16], log[256];
        int r, tree;

        fs = fsopen("fuse", FSOPEN_CLOEXEC);
        if (fs < 0) {
                r = negative_errno();
                return rk_error(err, r, "app_pkg_path: cannot mount a FUSE filesystem for squashfuse: %s", strerror(-r));
        }
        snprintf(fd_text, sizeof fd_text, "%d", fuse_fd);
        if (fsconfig(fs, FSCONFIG_SET_STRING, "source", "squashfuse", 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "subtype", "squashfuse", 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "fd", fd_text, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "rootmode", "40000", 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "user_id", "0", 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "group_id", "0", 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_FLAG, "allow_other", NULL, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_FLAG, "default_permissions", NULL, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0 ||
            fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
                r = negative_errno();
                fs_context_log(fs, log, sizeof log);
                return rk_error(err, r, "app_pkg_path: cannot mount a FUSE filesystem for squashfuse: %s%s%s",
                                strerror(-r), log[0] ? ": " : "", log);
        }
        tree = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (tree < 0) {
                r = negative_errno();
                return rk_error(err, r, "app_pkg_path: cannot mount a FUSE filesystem for squashfuse: %s", strerror(-r));
        }
        return tree;
}

/* Waits (up to 5 s) until squashfuse has taken FUSE_INIT off the
 * connection: it reads it only once it has opened and checked the image.
 * One that exits first could not start (status_fd tells) or refused the
 * image. 0 or -errno with err set. */
static int fuse_wait_init(const char *exe, int fuse_fd, int pidfd, int status_fd, RkError *err) {
        for (int i = 0;; i++) {
                struct pollfd p[2] = {
                        { .fd = fuse_fd, .events = POLLIN },
                        { .fd = pidfd, .events = POLLIN },
                };
                unsigned char status;

                if (poll(p, 2, 0) < 0)
                        return rk_error(err, errno, "app_pkg_path: poll: %m");
                if (p[1].revents & POLLIN) {
                        /* Not our child (rockerd's): its status is the
                         * loop's to reap; what it could say before its exec
                         * came through status_fd. */
                        if (read(status_fd, &status, 1) == 1)
                                return rk_error(err, EINVAL, "app_pkg_path: %s could not be started (exit status %d)",
                                                exe, (int) status);
                        return rk_error(err, EINVAL, "app_pkg_path: not a mountable squashfs image: squashfuse "
                                        "refused it (it exited)");
                }
                if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL))
                        return rk_error(err, ENOTCONN, "app_pkg_path: the FUSE connection for squashfuse was aborted");
                if (!(p[0].revents & POLLIN))
                        return 0;  /* FUSE_INIT taken */
                if (i == 2500)
                        return rk_error(err, ETIMEDOUT, "app_pkg_path: squashfuse did not mount it within 5 s");
                /* woken early if squashfuse exits */
                (void) poll(&p[1], 1, 2);
        }
}

int image_mount_fuse(const ImageCache *c, int image_fd, RkError *err) {
        const char *exe = c->squashfuse_path ? c->squashfuse_path : SQUASHFUSE_PATH;
        _cleanup_close_ int tree = -EBADF, fuse_fd = -EBADF, status_r = -EBADF, status_w = -EBADF;
        int pidfd;  /* worker.c's: it goes back with the reply */
        struct stat st;
        int pipefd[2], r;

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
        /* Mounted by rockerd, so squashfuse needs no privilege. */
        tree = fuse_mount_detached(fuse_fd, err);
        if (tree < 0)
                return tree;
        if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
                r = negative_errno();
                return rk_error(err, r, "app_pkg_path: pipe: %s", strerror(-r));
        }
        status_r = pipefd[0];
        status_w = pipefd[1];
        /* Last: everything else is ready, so that nothing can fail between
         * squashfuse's start and its supervision. It is rockerd's child, not
         * ours (worker_spawn_child()): the loop knows it before it runs
         * squashfuse, and kills and reaps it unless the entry is cached. */
        r = worker_spawn_child(fuse_exec, &(FuseExec) { .cache = c, .exe = exe, .image_fd = image_fd,
                                                        .fuse_fd = fuse_fd, .status_fd = status_w }, &pidfd);
        if (r < 0)
                return rk_error(err, r, "app_pkg_path: cannot start squashfuse: %s", strerror(-r));
        status_w = safe_close(status_w);
        r = fuse_wait_init(exe, fuse_fd, pidfd, status_r, err);
        if (r < 0) {
                (void) pidfd_send_signal(pidfd, SIGKILL, NULL, 0);  /* reaped by the loop */
                return r;
        }
        /* squashfuse holds the connection alone from here (our fd closes
         * with the worker): when it exits, the filesystem answers ENOTCONN
         * instead of waiting for it. */
        return TAKE_FD(tree);
}
