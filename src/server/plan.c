/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "dev.h"
#include "macro.h"
#include "plan.h"
#include "util.h"

/* Host trees that are never overlaid nor used as the exec dir: the kernel's
 * own filesystems, which the guard re-creates or shares as they are. */
static const char *const forbidden_roots[] = { "/proc", "/sys", "/dev" };

void plan_done(Plan *p) {
        if (p->bus_socket)
                safe_close(p->bus_sync_fd);
        free(p->bus_socket);
        free(p->pkg_path);
        free(p->exec_dir);
        free(p->data_dir);
        for (size_t i = 0; i < p->n_overlays; i++) {
                free(p->overlays[i].dir);
                free(p->overlays[i].upper);
                free(p->overlays[i].work);
        }
        *p = (Plan) {};
}

static int check_path(const char *field, const char *path, RkError *err) {
        const char *reason;

        if (path_check(path, PROTO_PATH_MAX, &reason) < 0) {
                if (!path)
                        return rk_error(err, EINVAL, "%s: %s", field, reason);
                return rk_error(err, EINVAL, "%s: \"%.256s\": %s", field, path, reason);
        }
        return 0;
}

static int check_not_special(const char *field, const char *path, RkError *err) {
        if (strcmp(path, "/") == 0)
                return rk_error(err, EINVAL, "%s: \"/\" is not allowed", field);
        for (size_t i = 0; i < ELEMENTSOF(forbidden_roots); i++)
                if (path_contains(forbidden_roots[i], path))
                        return rk_error(err, EINVAL, "%s: \"%.256s\" lies in %s, which is not allowed",
                                        field, path, forbidden_roots[i]);
        return 0;
}

static int cmp_overlay(const void *a, const void *b) {
        return strcmp(((const PlanOverlay *) a)->dir, ((const PlanOverlay *) b)->dir);
}

int plan_parse_request(ProtoEnter *e, Plan *ret, RkError *err) {
        _cleanup_(plan_done) Plan p = {};
        int r;

        /* Syntax first: nothing below may see a relative or unnormalised path. */
        if ((r = check_path("app_pkg_path", e->pkg_path, err)) < 0 ||
            (r = check_path("app_exec_dir", e->exec_dir, err)) < 0 ||
            (r = check_path("app_data_dir", e->data_dir, err)) < 0)
                return r;
        if (e->n_overlay_dirs > PROTO_OVERLAY_MAX)
                return rk_error(err, EINVAL, "app_overlay_dirs: more than %d entries", PROTO_OVERLAY_MAX);
        for (size_t i = 0; i < e->n_overlay_dirs; i++) {
                char field[48];

                snprintf(field, sizeof field, "app_overlay_dirs[%zu]", i);
                if ((r = check_path(field, e->overlay_dirs[i], err)) < 0 ||
                    (r = check_not_special(field, e->overlay_dirs[i], err)) < 0)
                        return r;
        }
        if ((r = check_not_special("app_exec_dir", e->exec_dir, err)) < 0 ||
            (r = check_not_special("app_data_dir", e->data_dir, err)) < 0)
                return r;
        if (e->uid < 0 || e->gid < 0)
                return rk_error(err, EINVAL, "uid/gid: negative");
        /* A root app without capabilities still owns every root-owned file
         * and device node it can reach (/dev is shared): never uid or gid 0. */
        if (e->uid == 0)
                return rk_error(err, EINVAL, "uid: 0 is not allowed for an app (it would own the host's root files and devices)");
        if (e->gid == 0)
                return rk_error(err, EINVAL, "gid: 0 is not allowed for an app (it would own the host's root-group files)");

        /* Relations between the paths. */
        if (path_contains(e->exec_dir, e->data_dir))
                return rk_error(err, EINVAL, "app_data_dir: \"%.256s\" lies in app_exec_dir, which the image covers",
                                e->data_dir);
        if (path_contains(e->data_dir, e->exec_dir))
                return rk_error(err, EINVAL, "app_exec_dir: \"%.256s\" lies in app_data_dir", e->exec_dir);
        for (size_t i = 0; i < e->n_overlay_dirs; i++) {
                const char *d = e->overlay_dirs[i];

                for (size_t j = 0; j < i; j++)
                        if (strcmp(d, e->overlay_dirs[j]) == 0)
                                return rk_error(err, EINVAL, "app_overlay_dirs[%zu]: \"%.256s\" is listed twice", i, d);
                if (strcmp(d, e->data_dir) == 0)
                        return rk_error(err, EINVAL, "app_overlay_dirs[%zu]: \"%.256s\" is the data dir", i, d);
                if (path_contains(e->data_dir, d))
                        return rk_error(err, EINVAL, "app_overlay_dirs[%zu]: \"%.256s\" lies in app_data_dir", i, d);
                if (path_contains(e->exec_dir, d))
                        return rk_error(err, EINVAL, "app_overlay_dirs[%zu]: \"%.256s\" lies in app_exec_dir, which the image covers",
                                        i, d);
        }

        for (size_t i = 0; i < e->n_overlay_dirs; i++) {
                PlanOverlay *o = &p.overlays[i];
                char esc[NAME_MAX + 1];

                if (path_escape(e->overlay_dirs[i], esc, sizeof esc) < 0) {
                        return rk_error(err, EINVAL, "app_overlay_dirs[%zu]: \"%.256s\" is too long to name its layers",
                                        i, e->overlay_dirs[i]);
                }
                p.n_overlays = i + 1;  /* from here on, plan_done() frees it */
                if (asprintf(&o->upper, "%s/" PLAN_OVERLAY_SUBDIR "/%s/upper", e->data_dir, esc) < 0) {
                        o->upper = NULL;
                        return rk_error(err, ENOMEM, "out of memory");
                }
                if (asprintf(&o->work, "%s/" PLAN_OVERLAY_SUBDIR "/%s/work", e->data_dir, esc) < 0) {
                        o->work = NULL;
                        return rk_error(err, ENOMEM, "out of memory");
                }
                if (strlen(o->upper) > PROTO_PATH_MAX) {
                        return rk_error(err, EINVAL, "app_data_dir: too long to hold the layers of \"%.256s\"",
                                        e->overlay_dirs[i]);
                }
        }

        /* Success: take the strings. */
        p.app_id = e->app_id;
        p.uid = (uid_t) e->uid;
        p.gid = (gid_t) e->gid;
        p.pkg_path = TAKE_PTR(e->pkg_path);
        p.exec_dir = TAKE_PTR(e->exec_dir);
        p.data_dir = TAKE_PTR(e->data_dir);
        for (size_t i = 0; i < p.n_overlays; i++)
                p.overlays[i].dir = TAKE_PTR(e->overlay_dirs[i]);
        *ret = p;
        p = (Plan) {};  /* *ret owns it now */
        return 0;
}

static int check_strict_modes(const Plan *p, RkError *err);

/* The exec dir's parent as the check sees it, for the guard to find the
 * same directory when it makes the mount point. Not under an overlaid dir
 * (the guard sees that through the overlay, another file system) or
 * /run/user (the guard may put a private one there, rundir.h), nor a
 * parent missing (the guard makes it) or a symlink (the guard refuses it). */
/* The dir at path as the guard will open it (O_DIRECTORY: an automount
 * point is mounted first, which lstat() would not do), into *st. */
static int stat_as_opened(const char *path, struct stat *st) {
        _cleanup_close_ int fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0)
                return negative_errno();
        return fstat(fd, st) < 0 ? negative_errno() : 0;
}

static int record_exec_parent(Plan *p) {
        char parent[PROTO_PATH_MAX + 1];
        struct stat st;
        char *slash;
        int r;

        p->exec_parent_dev = 0;
        p->exec_parent_ino = 0;
        for (size_t i = 0; i < p->n_overlays; i++)
                if (path_contains(p->overlays[i].dir, p->exec_dir))
                        return 0;
        if (path_contains("/run/user", p->exec_dir))
                return 0;
        if (strlen(p->exec_dir) >= sizeof parent)
                return -ENAMETOOLONG;  /* checked by plan_parse_request() */
        strcpy(parent, p->exec_dir);
        slash = strrchr(parent, '/');
        if (!slash)
                return -EINVAL;  /* absolute: checked by plan_parse_request() */
        if (slash == parent)
                slash++;  /* "/x": the parent is "/" */
        *slash = '\0';
        r = stat_as_opened(parent, &st);
        if (r == -ENOENT || r == -ENOTDIR || r == -ELOOP)
                return 0;
        if (r < 0)
                return r;
        p->exec_parent_dev = st.st_dev;
        p->exec_parent_ino = st.st_ino;
        return 0;
}

int plan_check_host(Plan *p, bool strict_modes, RkError *err) {
        struct stat st;
        int r;

        /* What the host has now. The image is checked again, on its fd, when
         * it is opened for mounting; these checks give early, clear errors. */
        if (lstat(p->pkg_path, &st) < 0)
                return rk_error(err, EINVAL, "app_pkg_path: \"%.256s\": %s", p->pkg_path, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return rk_error(err, EINVAL, "app_pkg_path: \"%.256s\" is not a regular file", p->pkg_path);
        if (lstat(p->exec_dir, &st) == 0 && !S_ISDIR(st.st_mode))
                return rk_error(err, EINVAL, "app_exec_dir: \"%.256s\" exists and is not a directory", p->exec_dir);
        r = record_exec_parent(p);
        if (r < 0)
                return rk_error(err, r, "app_exec_dir: \"%.256s\": %s", p->exec_dir, strerror(-r));
        if (lstat(p->data_dir, &st) == 0 && !S_ISDIR(st.st_mode))
                return rk_error(err, EINVAL, "app_data_dir: \"%.256s\" exists and is not a directory", p->data_dir);

        for (size_t i = 0; i < p->n_overlays; i++) {
                PlanOverlay *o = &p->overlays[i];

                if (lstat(o->dir, &st) < 0)
                        return rk_error(err, EINVAL, "app_overlay_dirs[%zu]: \"%.256s\": %s", i, o->dir, strerror(errno));
                if (S_ISLNK(st.st_mode))
                        return rk_error(err, EINVAL, "app_overlay_dirs[%zu]: \"%.256s\" is a symlink; name its target",
                                        i, o->dir);
                if (!S_ISDIR(st.st_mode))
                        return rk_error(err, EINVAL, "app_overlay_dirs[%zu]: \"%.256s\" is not a directory", i, o->dir);
                /* Its identity (and owner, mode) as the guard will see it
                 * through the fd it opens: for an automount point, the
                 * mounted file system's root. */
                r = stat_as_opened(o->dir, &st);
                if (r < 0)
                        return rk_error(err, EINVAL, "app_overlay_dirs[%zu]: \"%.256s\": %s", i, o->dir, strerror(-r));
                if (o->ino != 0 && (o->dev != st.st_dev || o->ino != st.st_ino))
                        return rk_error(err, EINVAL, "app_overlay_dirs[%zu]: \"%.256s\" was replaced while the request "
                                        "was checked", i, o->dir);
                o->uid = st.st_uid;
                o->gid = st.st_gid;
                o->mode = st.st_mode & 07777;
                o->dev = st.st_dev;
                o->ino = st.st_ino;
        }
        if (strict_modes) {
                r = check_strict_modes(p, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

void plan_sort_overlays(Plan *p) {
        qsort(p->overlays, p->n_overlays, sizeof p->overlays[0], cmp_overlay);
}

int plan_from_request(ProtoEnter *e, Plan *ret, RkError *err) {
        _cleanup_(plan_done) Plan p = {};
        int r;

        r = plan_parse_request(e, &p, err);
        if (r < 0)
                return r;
        r = plan_check_host(&p, false, err);
        if (r < 0) {
                /* A refusal leaves the request as it was: its strings go back
                 * (the overlays are in the request's order still). */
                e->pkg_path = TAKE_PTR(p.pkg_path);
                e->exec_dir = TAKE_PTR(p.exec_dir);
                e->data_dir = TAKE_PTR(p.data_dir);
                for (size_t i = 0; i < p.n_overlays; i++)
                        e->overlay_dirs[i] = TAKE_PTR(p.overlays[i].dir);
                return r;
        }
        plan_sort_overlays(&p);
        *ret = p;
        p = (Plan) {};  /* *ret owns it now */
        return 0;
}

/* StrictModes (sshd's name for the same rule): only root may be able to
 * change what a path names. True of a path when every directory on it is
 * root's and not writable by others (group root may write: its members are
 * root's peers), or is a root-owned sticky directory such as /tmp, in which
 * nobody can rename or remove what root put there. */
static bool mode_is_strict(const struct stat *st) {
        if (st->st_uid != 0)
                return false;
        if (st->st_mode & S_IWOTH)
                return S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX);
        if ((st->st_mode & S_IWGRP) && st->st_gid != 0)
                return S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX);
        return true;
}

/* Walks path from "/" with lstat(); stops quietly at the first component
 * that does not exist (the data dir's missing parts are created by root,
 * 0755/0700). The image is walked on its canonical path (realpath), which
 * has no symlink; the data dir as given, where a symlink is refused as
 * plan_prepare_data_dir() would refuse it. */
static int check_strict_path(const char *field, const char *path, RkError *err) {
        char buf[PATH_MAX];
        size_t n = strlen(path);

        if (n >= sizeof buf)
                return rk_error(err, EPERM, "%s: \"%.256s\": too long", field, path);
        /* "/", then every prefix ending before a '/', then the path itself */
        for (size_t i = 0; i <= n; i++) {
                struct stat st;

                if (i > 0 && i < n && path[i] != '/')
                        continue;
                memcpy(buf, path, i == 0 ? 1 : i);
                buf[i == 0 ? 1 : i] = '\0';
                if (lstat(buf, &st) < 0) {
                        if (errno == ENOENT)
                                return 0;
                        return rk_error(err, EPERM, "%s: \"%.256s\": %s", field, buf, strerror(errno));
                }
                if (S_ISLNK(st.st_mode)) {
                        const char *c = strrchr(buf, '/');
                        return rk_error(err, EPERM, "%s: \"%.256s\": component \"%.64s\" is a symlink", field,
                                        path, c ? c + 1 : buf);
                }
                if (i < n && !S_ISDIR(st.st_mode)) {
                        const char *c = strrchr(buf, '/');
                        return rk_error(err, EPERM, "%s: \"%.256s\": component \"%.64s\" is not a directory", field,
                                        path, c ? c + 1 : buf);
                }
                if (!mode_is_strict(&st))
                        return rk_error(err, EPERM,
                                        "%s: \"%.256s\" is owned by uid %u, group %u with mode %04o; StrictModes= wants "
                                        "every directory on the way, and the image itself, owned by root and writable by "
                                        "no one else (root-owned sticky directories excepted)",
                                        field, buf, (unsigned) st.st_uid, (unsigned) st.st_gid,
                                        (unsigned) (st.st_mode & 07777));
        }
        return 0;
}

static int check_strict_modes(const Plan *p, RkError *err) {
        char real[PATH_MAX];
        int r;

        if (!realpath(p->pkg_path, real))
                return rk_error(err, EINVAL, "app_pkg_path: \"%.256s\": %s", p->pkg_path, strerror(errno));
        r = check_strict_path("app_pkg_path", real, err);
        if (r < 0)
                return r;
        return check_strict_path("app_data_dir", p->data_dir, err);
}

/* The private /dev: unless /dev is shared whole (a shared path, or
 * Devices=all), the daemon's and then the app's Devices=, each group
 * expanded to its host paths. The words were checked by config.c. */
static void plan_apply_devices(Plan *p, const ManagerConfig *cfg, const AppPolicy *app) {
        char *const *lists[2] = { cfg->devices, app->devices };
        size_t ns[2] = { cfg->n_devices, app->n_devices };

        p->private_dev = true;
        p->n_devices = 0;
        p->dev_shm_size = app->dev_shm_size ? app->dev_shm_size : DEV_SHM_SIZE_DEFAULT;
        for (size_t i = 0; i < p->n_shared_paths; i++)
                if (strcmp(p->shared_paths[i], "/dev") == 0)
                        p->private_dev = false;
        for (size_t l = 0; l < 2; l++)
                for (size_t i = 0; i < ns[l]; i++) {
                        const char *w = lists[l][i];
                        const char *const *paths;

                        if (strcmp(w, "all") == 0) {
                                p->private_dev = false;
                                continue;
                        }
                        if (dev_group_paths(w, &paths) < 0) {
                                p->devices[p->n_devices++] = w;
                                continue;
                        }
                        for (size_t j = 0; paths[j]; j++)
                                p->devices[p->n_devices++] = paths[j];
                }
        if (!p->private_dev) {
                p->n_devices = 0;
                /* the host's /dev as it is: writable like the other shared paths */
                if (p->n_shared_paths < ELEMENTSOF(p->shared_paths)) {
                        bool listed = false;
                        for (size_t i = 0; i < p->n_shared_paths; i++)
                                listed |= strcmp(p->shared_paths[i], "/dev") == 0;
                        if (!listed)
                                p->shared_paths[p->n_shared_paths++] = "/dev";
                }
        }
}

int plan_apply_policy(Plan *p, const ManagerConfig *cfg, const AppPolicy *app, RkError *err) {
        bool allowed = app->n_image_dirs == 0;

        for (size_t i = 0; i < app->n_image_dirs && !allowed; i++)
                allowed = path_contains(app->image_dirs[i], p->pkg_path);
        if (!allowed) {
                return rk_error(err, EPERM, "app_pkg_path: \"%.256s\" is not in the image dirs allowed for app %d",
                                p->pkg_path, (int) p->app_id);
        }
        p->private_network = app->private_network;
        p->stop_timeout_usec = app->stop_timeout_usec;
        p->n_shared_paths = 0;
        if (cfg->shared_paths_set)
                for (size_t i = 0; i < cfg->n_shared_paths; i++)
                        p->shared_paths[p->n_shared_paths++] = cfg->shared_paths[i];
        else
                for (size_t i = 0; config_default_shared_paths[i]; i++)
                        p->shared_paths[p->n_shared_paths++] = config_default_shared_paths[i];
        for (size_t i = 0; i < app->n_shared_paths; i++)
                p->shared_paths[p->n_shared_paths++] = app->shared_paths[i];
        plan_apply_devices(p, cfg, app);
        /* /run/user: private unless shared whole. */
        p->private_run_user = true;
        for (size_t i = 0; i < p->n_shared_paths; i++)
                if (strcmp(p->shared_paths[i], "/run/user") == 0 || strcmp(p->shared_paths[i], "/run") == 0)
                        p->private_run_user = false;
        p->sockets = app->sockets;
        p->allow_user_namespaces = app->allow_user_namespaces;
        p->session_bus = (PlanBus) app->session_bus;
        p->n_dbus_talk = app->n_dbus_talk;
        for (size_t i = 0; i < app->n_dbus_talk; i++)
                p->dbus_talk[i] = app->dbus_talk[i];
        p->n_dbus_own = app->n_dbus_own;
        for (size_t i = 0; i < app->n_dbus_own; i++)
                p->dbus_own[i] = app->dbus_own[i];
        p->n_dbus_see = app->n_dbus_see;
        for (size_t i = 0; i < app->n_dbus_see; i++)
                p->dbus_see[i] = app->dbus_see[i];
        return 0;
}

/* mkdir -p path, one component at a time through O_NOFOLLOW fds so that a
 * symlink anywhere on the way is refused rather than followed. Components
 * created get mode (the last one last_mode). Returns an O_PATH fd of path. */
static int mkdir_p_nofollow(const char *path, mode_t mode, mode_t last_mode, RkError *err,
                            const char *field) {
        _cleanup_close_ int dfd = -EBADF;
        _cleanup_free_ char *copy = strdup(path);
        char *save = NULL;

        if (!copy)
                return rk_error(err, ENOMEM, "out of memory");
        dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return rk_error(err, errno, "%s: cannot open \"/\": %m", field);
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                bool last = save == NULL || *save == '\0';
                int fd;

                if (mkdirat(dfd, c, last ? last_mode : mode) < 0 && errno != EEXIST) {
                        int r = negative_errno();
                        return rk_error(err, r, "%s: cannot create \"%.256s\": %s", field, path, strerror(-r));
                }
                fd = openat(dfd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0) {
                        int r = negative_errno();
                        return rk_error(err, r, "%s: \"%.256s\": component \"%.64s\" %s", field, path, c,
                                        r == -ENOTDIR ? "is a symlink or not a directory" : strerror(-r));
                }
                safe_close(dfd);
                dfd = fd;
        }
        return TAKE_FD(dfd);
}

/* Creates dir_fd/name (0700) unless it is there, and opens it refusing a
 * symlink: an fd for the next level, so no path is re-resolved. */
static int mkdir_open(int dir_fd, const char *name, int flags, const char *data_dir, const char *rel,
                      RkError *err) {
        int fd, r;

        if (mkdirat(dir_fd, name, 0700) < 0 && errno != EEXIST) {
                r = negative_errno();
                return rk_error(err, r, "app_data_dir: cannot create \"%.256s/%s\": %s", data_dir, rel, strerror(-r));
        }
        fd = openat(dir_fd, name, flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                r = negative_errno();
                return rk_error(err, r, "app_data_dir: \"%.256s/%s\": %s", data_dir, rel,
                                r == -ENOTDIR || r == -ELOOP ? "is a symlink or not a directory" : strerror(-r));
        }
        return fd;
}

/* rockerd's own levels of the layout stay root's and 0700, whatever someone
 * did to them: nobody else may reach into the layers. */
static int keep_private(int fd, const char *data_dir, const char *rel, RkError *err) {
        struct stat st;
        int r;

        if (fstat(fd, &st) < 0) {
                r = negative_errno();
                return rk_error(err, r, "app_data_dir: cannot stat \"%.256s/%s\": %s", data_dir, rel, strerror(-r));
        }
        if (((st.st_uid != 0 || st.st_gid != 0) && fchown(fd, 0, 0) < 0) ||
            ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)) {
                r = negative_errno();
                return rk_error(err, r, "app_data_dir: cannot make \"%.256s/%s\" private: %s", data_dir, rel,
                                strerror(-r));
        }
        return 0;
}

/* Before anything is created: every part of an existing layout that is
 * there must be a real directory, so that a refusal leaves the data dir
 * exactly as it was. ENOENT is fine: it will be created. */
static int check_layout(const Plan *p, RkError *err) {
        static const char *const leaves[] = { "", "/upper", "/work" };
        char path[PROTO_PATH_MAX + NAME_MAX + 64];
        struct stat st;

        snprintf(path, sizeof path, "%s/" PLAN_OVERLAY_SUBDIR, p->data_dir);
        if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode))
                goto bad;
        for (size_t i = 0; i < p->n_overlays; i++) {
                char esc[NAME_MAX + 1];

                if (path_escape(p->overlays[i].dir, esc, sizeof esc) < 0)
                        return rk_error(err, ENAMETOOLONG, "app_overlay_dirs[%zu]: too long to name its layers", i);
                for (size_t j = 0; j < ELEMENTSOF(leaves); j++) {
                        snprintf(path, sizeof path, "%s/" PLAN_OVERLAY_SUBDIR "/%s%s", p->data_dir, esc, leaves[j]);
                        if (lstat(path, &st) == 0 && !S_ISDIR(st.st_mode))
                                goto bad;
                }
        }
        return 0;
bad:
        return rk_error(err, ENOTDIR, "app_data_dir: \"%.512s\": is a symlink or not a directory", path);
}

int plan_prepare_data_dir(Plan *p, RkError *err) {
        _cleanup_close_ int data_fd = -EBADF, layers_fd = -EBADF;
        int r;

        r = check_layout(p, err);
        if (r < 0)
                return r;
        /* The data dir itself is root's and private: apps reach their data
         * only through their overlays, never directly. */
        data_fd = mkdir_p_nofollow(p->data_dir, 0755, 0700, err, "app_data_dir");
        if (data_fd < 0)
                return data_fd;
        if (p->n_overlays == 0)
                return 0;
        layers_fd = mkdir_open(data_fd, PLAN_OVERLAY_SUBDIR, O_RDONLY, p->data_dir, PLAN_OVERLAY_SUBDIR, err);
        if (layers_fd < 0)
                return layers_fd;
        r = keep_private(layers_fd, p->data_dir, PLAN_OVERLAY_SUBDIR, err);
        if (r < 0)
                return r;

        for (size_t i = 0; i < p->n_overlays; i++) {
                PlanOverlay *o = &p->overlays[i];
                _cleanup_close_ int dir_fd = -EBADF, work_fd = -EBADF, upper_fd = -EBADF;
                char esc[NAME_MAX + 1], rel[sizeof esc + 64];
                struct stat st;

                r = path_escape(o->dir, esc, sizeof esc);
                if (r < 0)  /* checked by plan_from_request() */
                        return rk_error(err, r, "app_overlay_dirs[%zu]: too long to name its layers", i);
                snprintf(rel, sizeof rel, PLAN_OVERLAY_SUBDIR "/%s", esc);
                dir_fd = mkdir_open(layers_fd, esc, O_RDONLY, p->data_dir, rel, err);
                if (dir_fd < 0)
                        return dir_fd;
                r = keep_private(dir_fd, p->data_dir, rel, err);
                if (r < 0)
                        return r;
                snprintf(rel, sizeof rel, PLAN_OVERLAY_SUBDIR "/%s/work", esc);
                work_fd = mkdir_open(dir_fd, "work", O_PATH, p->data_dir, rel, err);
                if (work_fd < 0)
                        return work_fd;
                if (fstat(work_fd, &st) < 0) {
                        r = negative_errno();
                        return rk_error(err, r, "app_data_dir: cannot stat \"%.256s/%s\": %s", p->data_dir, rel,
                                        strerror(-r));
                }
                o->work_dev = st.st_dev;
                o->work_ino = st.st_ino;
                snprintf(rel, sizeof rel, PLAN_OVERLAY_SUBDIR "/%s/upper", esc);
                upper_fd = mkdir_open(dir_fd, "upper", O_RDONLY, p->data_dir, rel, err);
                if (upper_fd < 0)
                        return upper_fd;
                if (fstat(upper_fd, &st) < 0) {
                        r = negative_errno();
                        return rk_error(err, r, "app_data_dir: cannot stat \"%.256s/%s\": %s", p->data_dir, rel,
                                        strerror(-r));
                }
                /* The merged dir's root takes owner and mode from the upper
                 * dir: keep them equal to the host dir's. */
                if ((st.st_uid != o->uid || st.st_gid != o->gid) && fchown(upper_fd, o->uid, o->gid) < 0) {
                        r = negative_errno();
                        return rk_error(err, r, "app_data_dir: cannot chown \"%.256s/%s\": %s", p->data_dir, rel,
                                        strerror(-r));
                }
                if ((st.st_mode & 07777) != o->mode && fchmod(upper_fd, o->mode) < 0) {
                        r = negative_errno();
                        return rk_error(err, r, "app_data_dir: cannot chmod \"%.256s/%s\": %s", p->data_dir, rel,
                                        strerror(-r));
                }
                /* The guard opens the layers again by path: these very dirs. */
                o->upper_dev = st.st_dev;
                o->upper_ino = st.st_ino;
        }
        return 0;
}
