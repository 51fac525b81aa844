/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ini.h>

#include "config.h"
#include "image.h"
#include "macro.h"
#include "plan.h"
#include "proto.h"
#include "util.h"

const char *const config_default_shared_paths[] = { "/dev", "/tmp", "/run/user", NULL };

typedef struct Parse {
        ManagerConfig *cfg;     /* the daemon file */
        AppPolicy *app;         /* or an app's */
        char err[512];
} Parse;

static int parse_bool(const char *v, bool *ret) {
        if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "on"))
                *ret = true;
        else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "off"))
                *ret = false;
        else
                return -EINVAL;
        return 0;
}

static int parse_uint(const char *v, unsigned max, unsigned *ret) {
        char *end;
        unsigned long n;

        errno = 0;
        n = strtoul(v, &end, 10);
        if (errno || end == v || *end || n > max || v[0] == '-')
                return -EINVAL;
        *ret = (unsigned) n;
        return 0;
}

/* A space-separated list of absolute, normalised paths, none in /proc or
 * /sys, none "/" (which would undo the read-only host). */
static int parse_paths(const char *v, char **out, size_t *n, Parse *ps) {
        _cleanup_free_ char *copy = strdup(v);
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (size_t i = 0; i < *n; i++)
                free(out[i]);
        *n = 0;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                const char *reason;

                if (*n >= CONFIG_PATHS_MAX) {
                        snprintf(ps->err, sizeof ps->err, "more than %d paths", CONFIG_PATHS_MAX);
                        return -EINVAL;
                }
                if (path_check(w, PROTO_PATH_MAX, &reason) < 0) {
                        snprintf(ps->err, sizeof ps->err, "\"%.200s\": %s", w, reason);
                        return -EINVAL;
                }
                if (strcmp(w, "/") == 0 || path_contains("/proc", w) || path_contains("/sys", w)) {
                        snprintf(ps->err, sizeof ps->err, "\"%.200s\" is not allowed", w);
                        return -EINVAL;
                }
                out[*n] = strdup(w);
                if (!out[*n])
                        return -ENOMEM;
                (*n)++;
        }
        return 0;
}

static int set_string(char **dst, const char *v) {
        char *s = strdup(v);

        if (!s)
                return -ENOMEM;
        free(*dst);
        *dst = s;
        return 0;
}

/* ---- [Resources]: a cgroup per rocker and its limits (docs/cgroups.md) ---- */

/* The daemon's [Resources]: the backend, best effort, and the defaults of
 * the limits. 1 if key was one, 0 if not, -EINVAL. */
static int daemon_resources_key(Parse *ps, const char *key, const char *v) {
        ManagerConfig *c = ps->cfg;
        CgroupMode mode;

        if (!strcmp(key, "Cgroups")) {
                if (cgroup_mode_from_string(v, &mode) < 0)
                        return snprintf(ps->err, sizeof ps->err, "expected auto, systemd, cgroupfs or no"), -EINVAL;
                c->cgroup_mode = (int) mode;
                return 1;
        }
        if (!strcmp(key, "LimitsBestEffort")) {
                if (parse_bool(v, &c->limits_best_effort) < 0)
                        return snprintf(ps->err, sizeof ps->err, "expected yes or no"), -EINVAL;
                return 1;
        }
        return cgroup_limit_parse(key, v, &c->limits, ps->err, sizeof ps->err);
}

static int resources_key(Parse *ps, const char *key, const char *v) {
        int r = ps->app ? cgroup_limit_parse(key, v, &ps->app->limits, ps->err, sizeof ps->err)
                        : daemon_resources_key(ps, key, v);

        if (r == 0) {
                snprintf(ps->err, sizeof ps->err, "unknown key %.64s in [Resources]", key);
                return -EINVAL;
        }
        return r < 0 ? r : 0;
}

/* ---- the rest ---------------------------------------------------------- */

static int daemon_key(Parse *ps, const char *section, const char *key, const char *v) {
        ManagerConfig *c = ps->cfg;
        unsigned u;

        if (!strcmp(section, "Resources"))
                return resources_key(ps, key, v);
        if (!strcmp(section, "Daemon")) {
                if (!strcmp(key, "Socket") || !strcmp(key, "StateDir") || !strcmp(key, "AppsDir")) {
                        char **dst = !strcmp(key, "Socket") ? &c->owned_socket_path :
                                     !strcmp(key, "StateDir") ? &c->owned_state_dir : &c->owned_apps_dir;
                        if (path_check(v, PATH_MAX - 1, NULL) < 0)
                                return snprintf(ps->err, sizeof ps->err, "not an absolute, normalised path"), -EINVAL;
                        if (set_string(dst, v) < 0)
                                return -ENOMEM;
                        c->socket_path = c->owned_socket_path ? c->owned_socket_path : c->socket_path;
                        c->state_dir = c->owned_state_dir ? c->owned_state_dir : c->state_dir;
                        c->apps_dir = c->owned_apps_dir ? c->owned_apps_dir : c->apps_dir;
                        return 0;
                }
                if (!strcmp(key, "ImageBackend")) {
                        ImageBackend b;
                        if (image_backend_from_string(v, &b) < 0)
                                return snprintf(ps->err, sizeof ps->err, "expected auto, kernel or squashfuse"), -EINVAL;
                        c->image_backend = (int) b;
                        return 0;
                }
                if (!strcmp(key, "MaxConnections") || !strcmp(key, "MaxRockers")) {
                        if (parse_uint(v, 1000000, &u) < 0 || u == 0)
                                return snprintf(ps->err, sizeof ps->err, "expected a number from 1 to 1000000"), -EINVAL;
                        *(!strcmp(key, "MaxConnections") ? &c->max_connections : &c->max_rockers) = u;
                        return 0;
                }
                if (!strcmp(key, "RequestTimeoutSec") || !strcmp(key, "BuildTimeoutSec") ||
                    !strcmp(key, "ClaimTimeoutSec") || !strcmp(key, "TeardownWaitSec")) {
                        uint64_t *dst = !strcmp(key, "RequestTimeoutSec") ? &c->request_timeout_usec :
                                        !strcmp(key, "BuildTimeoutSec") ? &c->build_timeout_usec :
                                        !strcmp(key, "ClaimTimeoutSec") ? &c->claim_timeout_usec :
                                                                          &c->teardown_wait_usec;
                        if (parse_uint(v, 3600, &u) < 0 || u == 0)
                                return snprintf(ps->err, sizeof ps->err, "expected seconds from 1 to 3600"), -EINVAL;
                        *dst = (uint64_t) u * 1000000ULL;
                        return 0;
                }
        } else if (!strcmp(section, "Policy")) {
                if (!strcmp(key, "SharedWritablePaths")) {
                        c->shared_paths_set = true;
                        return parse_paths(v, c->shared_paths, &c->n_shared_paths, ps);
                }
                if (!strcmp(key, "AllowUsers")) {
                        if (strcmp(v, "root") != 0)
                                return snprintf(ps->err, sizeof ps->err,
                                                "only \"root\" is supported: a caller must be able to setns() into the rocker"),
                                       -EINVAL;
                        return 0;
                }
        } else if (!strcmp(section, "Rocker")) {
                if (!strcmp(key, "PrivateNetwork")) {
                        if (parse_bool(v, &c->private_network) < 0)
                                return snprintf(ps->err, sizeof ps->err, "expected yes or no"), -EINVAL;
                        return 0;
                }
        } else
                return snprintf(ps->err, sizeof ps->err, "unknown section [%.64s]", section), -EINVAL;
        snprintf(ps->err, sizeof ps->err, "unknown key %.64s in [%.64s]", key, section);
        return -EINVAL;
}

static int app_key(Parse *ps, const char *section, const char *key, const char *v) {
        AppPolicy *a = ps->app;

        if (!strcmp(section, "Resources"))
                return resources_key(ps, key, v);
        if (strcmp(section, "Rocker") != 0)
                return snprintf(ps->err, sizeof ps->err, "unknown section [%.64s]", section), -EINVAL;
        if (!strcmp(key, "PrivateNetwork")) {
                if (parse_bool(v, &a->private_network) < 0)
                        return snprintf(ps->err, sizeof ps->err, "expected yes or no"), -EINVAL;
                return 0;
        }
        if (!strcmp(key, "ImageDirs"))
                return parse_paths(v, a->image_dirs, &a->n_image_dirs, ps);
        if (!strcmp(key, "ImageBackend")) {
                ImageBackend b;
                if (image_backend_from_string(v, &b) < 0)
                        return snprintf(ps->err, sizeof ps->err, "expected auto, kernel or squashfuse"), -EINVAL;
                a->image_backend = (int) b;
                return 0;
        }
        if (!strcmp(key, "SharedWritablePaths"))
                return parse_paths(v, a->shared_paths, &a->n_shared_paths, ps);
        snprintf(ps->err, sizeof ps->err, "unknown key %.64s in [%.64s]", key, section);
        return -EINVAL;
}

static int on_key(void *user, const char *section, const char *key, const char *value) {
        Parse *ps = user;
        int r;

        if (!key)
                return 1;  /* a bare section header */
        r = ps->app ? app_key(ps, section, key, value) : daemon_key(ps, section, key, value);
        if (r < 0 && !ps->err[0])
                snprintf(ps->err, sizeof ps->err, "%s", strerror(-r));
        return r < 0 ? 0 : 1;
}

static int parse_file(const char *path, Parse *ps, bool required, char *err, size_t errlen) {
        FILE *f = fopen(path, "re");
        int line;

        if (!f) {
                if (errno == ENOENT && !required)
                        return 0;
                snprintf(err, errlen, "%s: %s", path, strerror(errno));
                return -errno;
        }
        line = ini_parse_file(f, on_key, ps);
        fclose(f);
        if (line != 0) {
                snprintf(err, errlen, "%s:%d: %s", path, line, ps->err[0] ? ps->err : "syntax error");
                return -EINVAL;
        }
        return 0;
}

int config_load(const char *path, bool required, ManagerConfig *cfg, char *err, size_t errlen) {
        Parse ps = { .cfg = cfg };

        return parse_file(path, &ps, required, err, errlen);
}

void config_done(ManagerConfig *cfg) {
        for (size_t i = 0; i < cfg->n_shared_paths; i++)
                free(cfg->shared_paths[i]);
        free(cfg->owned_socket_path);
        free(cfg->owned_state_dir);
        free(cfg->owned_apps_dir);
}

void app_policy_done(AppPolicy *p) {
        for (size_t i = 0; i < p->n_image_dirs; i++)
                free(p->image_dirs[i]);
        for (size_t i = 0; i < p->n_shared_paths; i++)
                free(p->shared_paths[i]);
        *p = (AppPolicy) {};
}

int app_policy_load(const ManagerConfig *cfg, int32_t app_id, AppPolicy *ret, char *err, size_t errlen) {
        AppPolicy app = { .private_network = cfg->private_network, .image_backend = cfg->image_backend,
                          .limits = cfg->limits };
        Parse ps = { .app = &app };
        char path[PATH_MAX];
        int r;

        snprintf(path, sizeof path, "%s/%d.conf", cfg->apps_dir, (int) app_id);
        r = parse_file(path, &ps, false, err, errlen);
        if (r < 0) {
                app_policy_done(&app);
                return r;
        }
        *ret = app;
        return 0;
}

int app_policy_check_all(const ManagerConfig *cfg, char *err, size_t errlen) {
        struct dirent *de;
        DIR *d = opendir(cfg->apps_dir);
        int r = 0;

        if (!d)
                return 0;  /* no apps dir (or unreadable: each request says so) */
        while (r >= 0 && (de = readdir(d))) {
                size_t n = strlen(de->d_name);
                char *end;
                long id;
                AppPolicy app;

                if (n < 6 || strcmp(de->d_name + n - 5, ".conf") != 0)
                        continue;
                errno = 0;
                id = strtol(de->d_name, &end, 10);
                if (errno || end != de->d_name + n - 5 || id < INT32_MIN || id > INT32_MAX)
                        continue;  /* not an app's file: never read */
                r = app_policy_load(cfg, (int32_t) id, &app, err, errlen);
                if (r >= 0)
                        app_policy_done(&app);
        }
        closedir(d);
        return r;
}
