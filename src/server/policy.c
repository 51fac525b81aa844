/* SPDX-License-Identifier: MIT */
/*
 * Threat model (docs/security.md §7): an allowed non-root peer is a local
 * user who must gain nothing through rockerd that it could not do itself.
 * rockerd acts as root, so every file system object the request names is
 * either checked with the peer's own credentials in a child that has become
 * the peer (the image, which is opened there and handed back as an fd so
 * root never resolves that path again; the overlaid dirs; the exec dir), or
 * checked by root for ownership (the data dir, which root writes to: it must
 * be the peer's own and nobody else's to swap). Root never creates a host
 * directory for such a peer outside its data dir, and the app runs as the
 * peer's uid and gid only.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdpass.h"
#include "macro.h"
#include "config.h"
#include "policy.h"
#include "util.h"


int policy_parse_ids(const char *v, bool groups, uint32_t *ids, size_t *n, size_t max, RkError *err) {
        _cleanup_free_ char *copy = strdup(v);
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        *n = 0;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                char *end;
                unsigned long id;

                if (*n >= max) {
                        return rk_error(err, EINVAL, "more than %zu %s", max, groups ? "groups" : "users");
                }
                errno = 0;
                id = strtoul(w, &end, 10);
                if (*w >= '0' && *w <= '9' && !*end && !errno && id < INT32_MAX) {
                        ids[(*n)++] = (uint32_t) id;
                        continue;
                }
                if (groups) {
                        struct group *g = getgrnam(w);
                        if (!g) {
                                return rk_error(err, EINVAL, "unknown group \"%.64s\"", w);
                        }
                        ids[(*n)++] = (uint32_t) g->gr_gid;
                } else {
                        struct passwd *pw = getpwnam(w);
                        if (!pw) {
                                return rk_error(err, EINVAL, "unknown user \"%.64s\"", w);
                        }
                        ids[(*n)++] = (uint32_t) pw->pw_uid;
                }
        }
        return 0;
}

int policy_peer_groups(int fd, gid_t **ret, int *ret_n) {
        socklen_t len = 32 * sizeof(gid_t);
        gid_t *g = NULL;

        for (;;) {
                gid_t *ng = realloc(g, len > 0 ? len : sizeof(gid_t));

                if (!ng) {
                        free(g);
                        return -ENOMEM;
                }
                g = ng;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0)
                        break;
                if (errno != ERANGE || len > (socklen_t) (NGROUPS_MAX * sizeof(gid_t))) {
                        int r = errno != ERANGE ? -errno : -E2BIG;
                        free(g);
                        return r;
                }
                /* ERANGE: len is now the size the list needs */
        }
        *ret = g;
        *ret_n = (int) (len / sizeof(gid_t));
        return 0;
}

bool policy_peer_allowed(const ManagerConfig *cfg, const struct ucred *peer, const gid_t *groups, int n_groups) {
        if (peer->uid == 0)
                return true;
        for (size_t i = 0; i < cfg->n_allow_uids; i++)
                if (cfg->allow_uids[i] == peer->uid)
                        return true;
        for (size_t i = 0; i < cfg->n_allow_gids; i++) {
                if (cfg->allow_gids[i] == peer->gid)
                        return true;
                for (int k = 0; k < n_groups; k++)
                        if (cfg->allow_gids[i] == groups[k])
                                return true;
        }
        return false;
}

/* StrictModes relative to uid: a directory on the way may be changed by
 * nobody but root and uid (a root-owned sticky directory such as /tmp
 * excepted, in which nobody may rename what is not theirs). */
static bool mode_is_strict_for(const struct stat *st, uid_t uid) {
        bool sticky_root = st->st_uid == 0 && S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX);

        if (st->st_uid != 0 && st->st_uid != uid)
                return false;
        if (st->st_mode & S_IWOTH)
                return sticky_root;
        if ((st->st_mode & S_IWGRP) && !(st->st_uid == 0 && st->st_gid == 0))
                return sticky_root;
        return true;
}

static int check_data_dir(const char *path, uid_t uid, RkError *err) {
        char buf[PATH_MAX];
        size_t n = strlen(path);
        struct stat st;

        if (n >= sizeof buf)
                return rk_error(err, ENAMETOOLONG, "app_data_dir: too long");
        for (size_t i = 0; i <= n; i++) {
                if (i > 0 && i < n && path[i] != '/')
                        continue;
                memcpy(buf, path, i == 0 ? 1 : i);
                buf[i == 0 ? 1 : i] = '\0';
                if (lstat(buf, &st) < 0) {
                        if (errno == ENOENT)
                                (void) rk_error(err, EPERM, "app_data_dir: \"%.256s\" does not exist: a non-root caller "
                                                "creates its data dir itself (rockerd creates no host directory for it)",
                                                buf);
                        else
                                (void) rk_error(err, EPERM, "app_data_dir: \"%.256s\": %s", buf, strerror(errno));
                        return -EPERM;
                }
                if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
                        return rk_error(err, EPERM, "app_data_dir: \"%.256s\" is a symlink or not a directory", buf);
                }
                if (!mode_is_strict_for(&st, uid)) {
                        return rk_error(err, EPERM, "app_data_dir: \"%.256s\" is owned by uid %u, group %u with mode "
                                        "%04o; StrictModes for uid %u wants every directory on the way owned by root or "
                                        "uid %u and writable by no one else (root-owned sticky directories excepted)",
                                        buf, (unsigned) st.st_uid, (unsigned) st.st_gid, (unsigned) (st.st_mode & 07777),
                                        (unsigned) uid, (unsigned) uid);
                }
        }
        if (st.st_uid != uid) {
                return rk_error(err, EPERM, "app_data_dir: \"%.256s\" is owned by uid %u, not by the caller (uid %u): a "
                                "non-root caller may only use a data dir of its own", path, (unsigned) st.st_uid,
                                (unsigned) uid);
        }
        return 0;
}

enum {
        AS_PEER_OK,
        AS_PEER_CREDS,
        AS_PEER_IMAGE,
        AS_PEER_OVERLAY,
        AS_PEER_EXEC_DIR,
        AS_PEER_DATA_DIR,
};

typedef struct AsPeerReport {
        int32_t stage;
        int32_t error;
        int32_t index;
        RkError err;             /* AS_PEER_DATA_DIR: why */
        /* the overlaid dirs the peer was allowed to read */
        uint64_t overlay_dev[PROTO_OVERLAY_MAX];
        uint64_t overlay_ino[PROTO_OVERLAY_MAX];
} AsPeerReport;

static bool under_overlay(const Plan *p, const char *path) {
        for (size_t i = 0; i < p->n_overlays; i++)
                if (path_contains(p->overlays[i].dir, path))
                        return true;
        return false;
}

/* In the child: become the peer, then look at every path as the peer. */
_Noreturn static void as_peer(pid_t parent, int sock, const struct ucred *peer, const gid_t *groups, int n_groups, const Plan *p) {
        AsPeerReport rep = {};
        int image = -1;
        struct stat st;

        if (syscall(SYS_setgroups, (size_t) n_groups, groups) < 0 ||
            syscall(SYS_setresgid, peer->gid, peer->gid, peer->gid) < 0 ||
            syscall(SYS_setresuid, peer->uid, peer->uid, peer->uid) < 0) {
                rep = (AsPeerReport) { AS_PEER_CREDS, errno, 0 };
                goto out;
        }
        /* Set after the credentials change, which clears it: killed with
         * the check worker that forked it (at the request's deadline). */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
                rep = (AsPeerReport) { AS_PEER_CREDS, errno, 0 };
                goto out;
        }
        if (getppid() != parent) {  /* the worker is gone already */
                rep = (AsPeerReport) { AS_PEER_CREDS, ESRCH, 0 };
                goto out;
        }
        /* The data dir first, and as the peer: what it learns from a
         * refusal (a path's existence, owner, mode) is what it could see
         * itself. */
        if (check_data_dir(p->data_dir, peer->uid, &rep.err) < 0) {
                rep.stage = AS_PEER_DATA_DIR;
                goto out;
        }
        /* O_NONBLOCK: a FIFO must not hang the check. */
        image = openat2_fd(AT_FDCWD, p->pkg_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0);
        if (image < 0) {
                rep = (AsPeerReport) { AS_PEER_IMAGE, -image, 0 };
                goto out;
        }
        for (size_t i = 0; i < p->n_overlays; i++) {
                int fd = open(p->overlays[i].dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

                if (fd < 0 || faccessat(fd, "", R_OK | X_OK, AT_EACCESS | AT_EMPTY_PATH) < 0 || fstat(fd, &st) < 0) {
                        rep = (AsPeerReport) { AS_PEER_OVERLAY, errno, (int32_t) i };
                        safe_close(fd);
                        goto out;
                }
                rep.overlay_dev[i] = (uint64_t) st.st_dev;
                rep.overlay_ino[i] = (uint64_t) st.st_ino;
                safe_close(fd);
        }
        if (!under_overlay(p, p->exec_dir) && (stat(p->exec_dir, &st) < 0 || !S_ISDIR(st.st_mode))) {
                rep = (AsPeerReport) { AS_PEER_EXEC_DIR, errno ? errno : ENOTDIR, 0 };
                goto out;
        }
out:
        (void) fdpass_send(sock, &rep, sizeof rep, rep.stage == AS_PEER_OK ? image : -EBADF);
        _exit(0);
}

static int check_as_peer(const ManagerConfig *cfg, const struct ucred *peer, const gid_t *groups, int n_groups,
                         Plan *p, int *ret_image_fd, RkError *err) {
        _cleanup_close_ int image = -EBADF;
        int sv[2], status;
        struct pollfd pfd;
        AsPeerReport rep = {};
        ssize_t n;
        pid_t pid, parent;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return rk_error(err, -errno, "socketpair: %s", strerror(errno));
        parent = getpid();
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                safe_close(sv[0]);
                safe_close(sv[1]);
                return rk_error(err, r, "fork: %s", strerror(-r));
        }
        if (pid == 0) {
                safe_close(sv[0]);
                as_peer(parent, sv[1], peer, groups, n_groups, p);
        }
        safe_close(sv[1]);
        /* Bounded: a path on a hung file system must not hold the loop for
         * longer than a request may take. */
        pfd = (struct pollfd) { .fd = sv[0], .events = POLLIN };
        while (poll(&pfd, 1, (int) (cfg->request_timeout_usec / 1000)) < 0 && errno == EINTR)
                ;
        n = (pfd.revents & (POLLIN | POLLHUP)) ? fdpass_recv(sv[0], &rep, sizeof rep, &image) : -ETIMEDOUT;
        safe_close(sv[0]);
        if (n != (ssize_t) sizeof rep)
                (void) kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (n != (ssize_t) sizeof rep)
                return rk_error(err, EIO, "the check of the request's paths as uid %u %s", (unsigned) peer->uid,
                                n == -ETIMEDOUT ? "timed out" : "failed");
        switch (rep.stage) {
        case AS_PEER_OK:
                if (image < 0)
                        return rk_error(err, EIO, "the image did not come back from the check");
                /* root's check (plan_check_host()) must see these very dirs */
                for (size_t i = 0; i < p->n_overlays; i++) {
                        p->overlays[i].dev = (dev_t) rep.overlay_dev[i];
                        p->overlays[i].ino = (ino_t) rep.overlay_ino[i];
                }
                *ret_image_fd = TAKE_FD(image);
                return 0;
        case AS_PEER_DATA_DIR:
                rep.err.msg[sizeof rep.err.msg - 1] = '\0';
                return rk_error(err, rep.err.code, "%s", rep.err.msg);
        case AS_PEER_CREDS:
                return rk_error(err, EIO, "cannot become uid %u to check the request: %s", (unsigned) peer->uid,
                                strerror(rep.error));
        case AS_PEER_IMAGE:
                return rk_error(err, EPERM, "app_pkg_path: \"%.256s\" cannot be opened by uid %u: %s (a non-root caller "
                                "may only name an image it can read itself)", p->pkg_path, (unsigned) peer->uid,
                                rep.error == ELOOP ? "it is a symlink" : strerror(rep.error));
        case AS_PEER_OVERLAY:
                return rk_error(err, EPERM, "app_overlay_dirs: \"%.256s\" is not readable by uid %u: %s (a non-root "
                                "caller may only overlay directories it can read)",
                                rep.index >= 0 && (size_t) rep.index < p->n_overlays ? p->overlays[rep.index].dir : "?",
                                (unsigned) peer->uid, strerror(rep.error));
        default:
                return rk_error(err, EPERM, "app_exec_dir: \"%.256s\": %s for uid %u, and it is not under an overlaid "
                                "dir (for a non-root caller the exec dir must exist already or lie under one of its "
                                "overlaid dirs: rockerd creates no host directory for it)", p->exec_dir,
                                strerror(rep.error), (unsigned) peer->uid);
        }
}

int policy_check_spawn(const ManagerConfig *cfg, const struct ucred *peer, const gid_t *groups, int n_groups,
                       Plan *p, unsigned live,
                       int *ret_image_fd, RkError *err) {
        if (p->uid != peer->uid || p->gid != peer->gid) {
                return rk_error(err, EPERM, "%s: %u is not the caller's own (uid %u, gid %u): a non-root caller may only "
                                "ask for its own uid and gid", p->uid != peer->uid ? "uid" : "gid",
                                p->uid != peer->uid ? (unsigned) p->uid : (unsigned) p->gid, (unsigned) peer->uid,
                                (unsigned) peer->gid);
        }
        if (live >= cfg->max_rockers_per_user) {
                return rk_error(err, EPERM, "MaxRockersPerUser=%u: uid %u has %u live rockers (or requests in progress) already",
                                cfg->max_rockers_per_user, (unsigned) peer->uid, live);
        }
        return check_as_peer(cfg, peer, groups, n_groups, p, ret_image_fd, err);
}
