/* SPDX-License-Identifier: MIT */
/*
 * A rocker's private /run/user, built by the guard as root in the rocker's
 * mount namespace before any untrusted code runs there. The host's
 * /run/user/<uid> holds the user manager's sockets (systemd/private,
 * systemd/notify, io.systemd.*), the session bus and whatever the user's
 * services put there: shared whole, an app could ask the user's systemd to
 * run anything outside the rocker. Instead the rocker gets a small tmpfs
 * with only /run/user/<uid> (the app's uid, 0700), holding bind mounts of
 * exactly the sockets its policy names (Sockets=) and of its session bus:
 * the proxy's socket (SessionBus=filtered, bus.c) or the host's
 * (SessionBus=host).
 *
 * The host's /run/user/<uid> belongs to the user: every socket is opened
 * beneath it refusing symlinks (RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS), must
 * be a socket, and is bound by fd, so the guard never follows a link a
 * user planted to put a root-only file into the rocker.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "macro.h"
#include "mountops.h"
#include "rundir.h"
#include "util.h"

#define RUNDIR_SOCKETS_MAX 16
/* How long the guard waits for the proxy to listen (within the build's
 * own deadline, which rockerd enforces). */
#define BUS_READY_TIMEOUT_MS 10000

typedef struct Sock {
        char rel[64];   /* below /run/user/<uid>, e.g. "pulse/native" */
        int fd;         /* a clone of the socket's inode */
} Sock;

typedef struct Socks {
        Sock s[RUNDIR_SOCKETS_MAX];
        size_t n;
} Socks;

/* A clone of the socket at fd (an O_PATH fd of it): must be a socket. */
static int clone_socket(Socks *sk, int fd, const char *rel) {
        struct stat st;
        int tree;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISSOCK(st.st_mode))
                return -ENOTSOCK;
        if (sk->n >= RUNDIR_SOCKETS_MAX)
                return -E2BIG;
        tree = open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (tree < 0)
                return negative_errno();
        snprintf(sk->s[sk->n].rel, sizeof sk->s[sk->n].rel, "%s", rel);
        sk->s[sk->n].fd = tree;
        sk->n++;
        return 0;
}

/* The host's socket rel below the user's runtime dir, if it is there and a
 * socket; a missing one (no such service running) is skipped. */
static int clone_user_socket(Socks *sk, int user_fd, const char *rel) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (user_fd < 0)
                return 0;
        fd = openat2_fd(user_fd, rel, O_PATH | O_NOFOLLOW, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fd;
        r = clone_socket(sk, fd, rel);
        return r == -ENOTSOCK ? 0 : r;
}

static int clone_wayland(Socks *sk, int user_fd) {
        _cleanup_close_ int dfd = -EBADF;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int r = 0;

        if (user_fd < 0)
                return 0;
        dfd = openat(user_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        d = fdopendir(dfd);
        if (!d)
                return negative_errno();
        dfd = -EBADF;  /* the DIR has it */
        while (r >= 0 && (de = readdir(d))) {
                size_t n = strlen(de->d_name);

                if (strncmp(de->d_name, "wayland-", 8) == 0 && de->d_type == DT_SOCK &&
                    !(n > 5 && strcmp(de->d_name + n - 5, ".lock") == 0))
                        r = clone_user_socket(sk, user_fd, de->d_name);
        }
        return r;
}

/* Waits until the proxy listens: it writes one byte on its sync pipe; EOF
 * means it died first. */
static int wait_bus_ready(int sync_fd) {
        struct pollfd pfd = { .fd = sync_fd, .events = POLLIN };
        char x;
        int n;

        do
                n = poll(&pfd, 1, BUS_READY_TIMEOUT_MS);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        if (n == 0)
                return -ETIMEDOUT;
        n = (int) read(sync_fd, &x, 1);
        if (n < 0)
                return negative_errno();
        return n == 1 ? 0 : -ECONNREFUSED;
}

int rundir_make_private(const Plan *p, const char **ret_step) {
        static const char *const tmpfs_opts[] = { "mode", "0755", "size", "16m", "nr_inodes", "4096", NULL };
        _cleanup_close_ int host_user = -EBADF, mnt = -EBADF, target = -EBADF, user = -EBADF;
        char uid_dir[32];
        Socks sk = { .n = 0 };
        int r;

#define STEP(s) (*ret_step = (s))
        STEP("open /run/user");
        target = openat2_fd(AT_FDCWD, "/run/user", O_PATH | O_DIRECTORY | O_NOFOLLOW,
                              RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        if (target == -ENOENT)
                return 0;  /* no /run/user on this host: nothing to hide */
        if (target < 0)
                return target;
        snprintf(uid_dir, sizeof uid_dir, "%u", (unsigned) p->uid);
        /* The user's runtime dir, if the user has a session now. */
        host_user = openat2_fd(target, uid_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW,
                                 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        if (host_user < 0 && host_user != -ENOENT && host_user != -ENOTDIR && host_user != -ELOOP)
                return host_user;

        /* 1. While the host's /run/user is still there: clones of exactly
         * the sockets the policy names. */
        STEP("take the sockets of Sockets=");
        if ((p->sockets & PLAN_SOCKET_WAYLAND) && (r = clone_wayland(&sk, host_user)) < 0)
                goto out;
        if ((p->sockets & PLAN_SOCKET_PULSEAUDIO) && (r = clone_user_socket(&sk, host_user, "pulse/native")) < 0)
                goto out;
        if ((p->sockets & PLAN_SOCKET_PIPEWIRE) && (r = clone_user_socket(&sk, host_user, "pipewire-0")) < 0)
                goto out;
        if (p->session_bus == PLAN_BUS_HOST) {
                STEP("take the host's session bus");
                if ((r = clone_user_socket(&sk, host_user, "bus")) < 0)
                        goto out;
        } else if (p->session_bus == PLAN_BUS_FILTERED && p->bus_socket) {
                _cleanup_close_ int fd = -EBADF;

                STEP("wait for the session bus proxy");
                r = wait_bus_ready(p->bus_sync_fd);
                if (r < 0)
                        goto out;
                STEP("take the session bus proxy's socket");
                fd = openat2_fd(AT_FDCWD, p->bus_socket, O_PATH | O_NOFOLLOW,
                                  RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
                if (fd < 0) {
                        r = fd;
                        goto out;
                }
                if ((r = clone_socket(&sk, fd, "bus")) < 0)
                        goto out;
        }

        /* 2. The new /run/user, built detached: the user's dir and the
         * sockets' mount points. */
        STEP("make the /run/user tmpfs");
        mnt = mount_new_fs("tmpfs", tmpfs_opts, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (mnt < 0) {
                r = mnt;
                goto out;
        }
        STEP("populate /run/user");
        if (mkdirat(mnt, uid_dir, 0700) < 0)
                goto out_errno;
        user = openat(mnt, uid_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (user < 0)
                goto out_errno;
        for (size_t i = 0; i < sk.n; i++) {
                char *slash = strchr(sk.s[i].rel, '/');
                int fd;

                if (slash) {  /* pulse/native: the dir first, the app's */
                        *slash = '\0';
                        if ((mkdirat(user, sk.s[i].rel, 0700) < 0 && errno != EEXIST) ||
                            fchownat(user, sk.s[i].rel, p->uid, p->gid, AT_SYMLINK_NOFOLLOW) < 0)
                                goto out_errno;
                        *slash = '/';
                }
                fd = openat(user, sk.s[i].rel, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
                if (fd < 0)
                        goto out_errno;
                safe_close(fd);
        }
        /* The app's own runtime dir, as logind makes it: 0700, its owner's. */
        if (fchown(user, p->uid, p->gid) < 0)
                goto out_errno;

        /* 3. Over the host's /run/user: its per-user mounts and every socket
         * of the user's services are out of reach. */
        STEP("attach the private /run/user");
        if (move_mount(mnt, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                goto out_errno;
        safe_close(user);
        user = openat2_fd(AT_FDCWD, "/run/user", O_PATH | O_DIRECTORY | O_NOFOLLOW,
                            RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
        if (user < 0) {
                r = user;
                goto out;
        }
        {
                int fd = openat(user, uid_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                if (fd < 0)
                        goto out_errno;
                safe_close(user);
                user = fd;
        }
        STEP("bind the sockets into /run/user");
        for (size_t i = 0; i < sk.n; i++) {
                r = mount_attach_at(sk.s[i].fd, user, sk.s[i].rel);
                if (r < 0)
                        goto out;
        }
        r = 0;
        goto out;
#undef STEP
out_errno:
        r = negative_errno();
out:
        for (size_t i = 0; i < sk.n; i++)
                safe_close(sk.s[i].fd);
        return r;
}
