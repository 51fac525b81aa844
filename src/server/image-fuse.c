/* SPDX-License-Identifier: MIT */
/*
 * The squashfuse backend of the image cache: rockerd mounts a FUSE
 * filesystem and starts squashfuse, unprivileged, to serve it.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "image-internal.h"
#include "macro.h"
#include "util.h"

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
int image_mount_fuse(ImageCache *c, Image *img, int image_fd, RkError *err) {
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
