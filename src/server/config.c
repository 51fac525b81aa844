/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ini.h>

#include "config.h"
#include "policy.h"
#include "bus.h"
#include "dev.h"
#include "image.h"
#include "macro.h"
#include "plan.h"
#include "proto.h"
#include "util.h"

const char *const config_default_shared_paths[] = { "/tmp", NULL };

typedef struct Parse {
        ManagerConfig *cfg;     /* the daemon file */
        AppPolicy *app;         /* or an app's */
        RkError err;            /* the first failing line's */
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

int config_parse_timespan(const char *v, uint64_t max_usec, uint64_t *ret_usec) {
        static const struct { const char *suffix; uint64_t usec; } units[] = {
                /* systemd.time(7); longest first where one is a prefix of another */
                { "usec", 1 }, { "us", 1 }, { "\xc2\xb5s", 1 },
                { "msec", 1000 }, { "ms", 1000 },
                { "seconds", 1000000 }, { "second", 1000000 }, { "sec", 1000000 }, { "s", 1000000 },
                { "minutes", 60000000 }, { "minute", 60000000 }, { "min", 60000000 }, { "m", 60000000 },
                { "hours", 3600000000ULL }, { "hour", 3600000000ULL }, { "hr", 3600000000ULL }, { "h", 3600000000ULL },
        };
        const char *p = v;
        uint64_t total = 0;
        bool any = false;

        for (;;) {
                uint64_t whole = 0, frac = 0, frac_div = 1, unit = 1000000;  /* a bare number is seconds */
                bool digits = false;
                size_t len = 0;

                while (*p == ' ' || *p == '\t')
                        p++;
                if (!*p)
                        break;
                for (; *p >= '0' && *p <= '9'; p++, digits = true)
                        if ((whole = whole * 10 + (uint64_t) (*p - '0')) > max_usec)
                                return -ERANGE;
                if (*p == '.')
                        for (p++; *p >= '0' && *p <= '9'; p++, digits = true)
                                if (frac_div < 1000000000ULL) {
                                        frac = frac * 10 + (uint64_t) (*p - '0');
                                        frac_div *= 10;
                                }
                if (!digits)
                        return -EINVAL;
                while (*p == ' ' || *p == '\t')
                        p++;
                for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
                        size_t n = strlen(units[i].suffix);
                        if (strncmp(p, units[i].suffix, n) == 0 && !(p[n] >= 'a' && p[n] <= 'z')) {
                                unit = units[i].usec;
                                len = n;
                                break;
                        }
                }
                if (len == 0 && *p && !(*p >= '0' && *p <= '9'))
                        return -EINVAL;  /* an unknown unit */
                p += len;
                if (whole > max_usec / unit)
                        return -ERANGE;
                total += whole * unit + frac * unit / frac_div;
                if (total > max_usec)
                        return -ERANGE;
                any = true;
        }
        if (!any)
                return -EINVAL;
        *ret_usec = total;
        return 0;
}

static int parse_stop_timeout(const char *v, uint64_t *ret, Parse *ps) {
        int r = config_parse_timespan(v, CONFIG_STOP_TIMEOUT_MAX_USEC, ret);

        if (r < 0)
                return rk_error(&ps->err, r,
                                "expected a time span from 0 to 1h, in seconds or with systemd's units (\"10s\", \"500ms\", \"1min 30s\")");
        return r;
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
                        return rk_error(&ps->err, EINVAL, "more than %d paths", CONFIG_PATHS_MAX);
                }
                if (path_check(w, PROTO_PATH_MAX, &reason) < 0) {
                        return rk_error(&ps->err, EINVAL, "\"%.200s\": %s", w, reason);
                }
                if (strcmp(w, "/") == 0 || path_contains("/proc", w) || path_contains("/sys", w)) {
                        return rk_error(&ps->err, EINVAL, "\"%.200s\" is not allowed", w);
                }
                /* a rocker's /dev is its own: host devices come by Devices= */
                if (path_contains("/dev", w) && strcmp(w, "/dev") != 0) {
                        return rk_error(&ps->err, EINVAL, "\"%.200s\": name host devices with Devices=, not here", w);
                }
                /* a rocker's /run/user is its own: sockets come by Sockets= */
                if (path_contains("/run/user", w) && strcmp(w, "/run/user") != 0) {
                        return rk_error(&ps->err, EINVAL, "\"%.200s\": name the user's sockets with Sockets=, not here",
                                        w);
                }
                out[*n] = strdup(w);
                if (!out[*n])
                        return -ENOMEM;
                (*n)++;
        }
        return 0;
}

/* Devices=: a space-separated list of device group names (dev.c), "all"
 * (the host's /dev shared whole) or "/dev/<name>" / "/dev/<prefix>*". */
static int parse_devices(const char *v, char **out, size_t *n, Parse *ps) {
        _cleanup_free_ char *copy = strdup(v);
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (size_t i = 0; i < *n; i++)
                free(out[i]);
        *n = 0;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                const char *const *paths;

                if (*n >= CONFIG_PATHS_MAX) {
                        return rk_error(&ps->err, EINVAL, "more than %d devices", CONFIG_PATHS_MAX);
                }
                if (strcmp(w, "all") != 0 && dev_group_paths(w, &paths) < 0 && !dev_path_is_valid(w)) {
                        return rk_error(&ps->err, EINVAL,
                                        "\"%.200s\": expected dri, snd, video, input, kvm, all, /dev/NAME or /dev/PREFIX*", w);
                }
                out[*n] = strdup(w);
                if (!out[*n])
                        return -ENOMEM;
                (*n)++;
        }
        return 0;
}

/* A size in bytes, with an optional K, M or G suffix (powers of 1024, as
 * systemd reads them); 1 MiB to 1 TiB. */
static int parse_size(const char *v, uint64_t *ret) {
        char *end;
        unsigned long long n;
        uint64_t mult = 1;

        errno = 0;
        n = strtoull(v, &end, 10);
        if (errno || end == v || v[0] == '-')
                return -EINVAL;
        if (*end == 'K')
                mult = 1024ULL;
        else if (*end == 'M')
                mult = 1024ULL * 1024;
        else if (*end == 'G')
                mult = 1024ULL * 1024 * 1024;
        else if (*end)
                return -EINVAL;
        if (*end && end[1])
                return -EINVAL;
        if (n > (1ULL << 40) / mult || n * mult < (1ULL << 20))
                return -EINVAL;
        *ret = n * mult;
        return 0;
}

/* Sockets=: wayland pulseaudio pipewire x11. */
static int parse_sockets(const char *v, unsigned *ret, Parse *ps) {
        _cleanup_free_ char *copy = strdup(v);
        char *save = NULL;
        unsigned mask = 0;

        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                if (!strcmp(w, "wayland"))
                        mask |= PLAN_SOCKET_WAYLAND;
                else if (!strcmp(w, "pulseaudio"))
                        mask |= PLAN_SOCKET_PULSEAUDIO;
                else if (!strcmp(w, "pipewire"))
                        mask |= PLAN_SOCKET_PIPEWIRE;
                else if (!strcmp(w, "x11"))
                        mask |= PLAN_SOCKET_X11;
                else {
                        return rk_error(&ps->err, EINVAL, "\"%.100s\": expected wayland, pulseaudio, pipewire or x11", w);
                }
        }
        *ret = mask;
        return 0;
}

static int parse_session_bus(const char *v, int *ret, Parse *ps) {
        if (!strcmp(v, "filtered"))
                *ret = PLAN_BUS_FILTERED;
        else if (!strcmp(v, "none"))
                *ret = PLAN_BUS_NONE;
        else if (!strcmp(v, "host"))
                *ret = PLAN_BUS_HOST;
        else
                return rk_error(&ps->err, EINVAL, "expected filtered, none or host");
        return 0;
}

/* DBusTalk= and the like: D-Bus names, "org.example.Name" or
 * "org.example.*", as xdg-dbus-proxy takes them. */
static int parse_bus_names(const char *v, char **out, size_t *n, Parse *ps) {
        _cleanup_free_ char *copy = strdup(v);
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (size_t i = 0; i < *n; i++)
                free(out[i]);
        *n = 0;
        for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                if (*n >= PLAN_DBUS_NAMES_MAX) {
                        return rk_error(&ps->err, EINVAL, "more than %d names", PLAN_DBUS_NAMES_MAX);
                }
                if (!bus_name_is_valid(w)) {
                        return rk_error(&ps->err, EINVAL, "\"%.100s\" is not a D-Bus name (org.example.Name or "
                                        "org.example.*)", w);
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
                        return rk_error(&ps->err, EINVAL, "expected auto, systemd, cgroupfs or no");
                c->cgroup_mode = (int) mode;
                return 1;
        }
        if (!strcmp(key, "LimitsBestEffort")) {
                if (parse_bool(v, &c->limits_best_effort) < 0)
                        return rk_error(&ps->err, EINVAL, "expected yes or no");
                return 1;
        }
        return cgroup_limit_parse(key, v, &c->limits, &ps->err);
}

static int resources_key(Parse *ps, const char *key, const char *v) {
        int r = ps->app ? cgroup_limit_parse(key, v, &ps->app->limits, &ps->err)
                        : daemon_resources_key(ps, key, v);

        if (r == 0) {
                return rk_error(&ps->err, EINVAL, "unknown key %.64s in [Resources]", key);
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
                                return rk_error(&ps->err, EINVAL, "not an absolute, normalised path");
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
                                return rk_error(&ps->err, EINVAL, "expected auto, kernel or squashfuse");
                        c->image_backend = (int) b;
                        return 0;
                }
                if (!strcmp(key, "SquashfusePath")) {
                        if (path_check(v, PATH_MAX - 1, NULL) < 0)
                                return rk_error(&ps->err, EINVAL, "not an absolute, normalised path");
                        return set_string(&c->squashfuse_path, v) < 0 ? -ENOMEM : 0;
                }
                if (!strcmp(key, "SquashfuseUser")) {
                        struct passwd *pw = getpwnam(v);

                        if (!pw)
                                return rk_error(&ps->err, EINVAL, "no such user: %.64s", v);
                        if (pw->pw_uid == 0 || pw->pw_gid == 0)
                                return rk_error(&ps->err, EINVAL,
                                                "%.64s has uid or gid 0: squashfuse must not run as root", v);
                        c->squashfuse_user_set = true;
                        c->squashfuse_uid = pw->pw_uid;
                        c->squashfuse_gid = pw->pw_gid;
                        return 0;
                }
                if (!strcmp(key, "MaxConnections") || !strcmp(key, "MaxRockers")) {
                        if (parse_uint(v, 1000000, &u) < 0 || u == 0)
                                return rk_error(&ps->err, EINVAL, "expected a number from 1 to 1000000");
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
                                return rk_error(&ps->err, EINVAL, "expected seconds from 1 to 3600");
                        *dst = (uint64_t) u * 1000000ULL;
                        return 0;
                }
        } else if (!strcmp(section, "Policy")) {
                if (!strcmp(key, "SharedWritablePaths")) {
                        c->shared_paths_set = true;
                        return parse_paths(v, c->shared_paths, &c->n_shared_paths, ps);
                }
                if (!strcmp(key, "AllowUsers") || !strcmp(key, "AllowGroups")) {
                        bool groups = !strcmp(key, "AllowGroups");
                        return policy_parse_ids(v, groups, groups ? c->allow_gids : c->allow_uids,
                                                groups ? &c->n_allow_gids : &c->n_allow_uids, CONFIG_PATHS_MAX,
                                                &ps->err);
                }
                if (!strcmp(key, "MaxRockersPerUser")) {
                        if (parse_uint(v, 1000000, &u) < 0 || u == 0)
                                return rk_error(&ps->err, EINVAL, "expected a number from 1 to 1000000");
                        c->max_rockers_per_user = u;
                        return 0;
                }
        } else if (!strcmp(section, "Rocker")) {
                if (!strcmp(key, "PrivateNetwork")) {
                        if (parse_bool(v, &c->private_network) < 0)
                                return rk_error(&ps->err, EINVAL, "expected yes or no");
                        return 0;
                }
                if (!strcmp(key, "Devices"))
                        return parse_devices(v, c->devices, &c->n_devices, ps);
                if (!strcmp(key, "Sockets"))
                        return parse_sockets(v, &c->sockets, ps);
                if (!strcmp(key, "SessionBus"))
                        return parse_session_bus(v, &c->session_bus, ps);
                if (!strcmp(key, "DevShmSize")) {
                        if (parse_size(v, &c->dev_shm_size) < 0)
                                return rk_error(&ps->err, EINVAL, "expected a size from 1M to 1024G");
                        return 0;
                }
                if (!strcmp(key, "AllowUserNamespaces")) {
                        if (parse_bool(v, &c->allow_user_namespaces) < 0)
                                return rk_error(&ps->err, EINVAL, "expected yes or no");
                        return 0;
                }
                if (!strcmp(key, "StrictModes")) {
                        bool b;
                        if (parse_bool(v, &b) < 0)
                                return rk_error(&ps->err, EINVAL, "expected yes or no");
                        c->no_strict_modes = !b;
                        return 0;
                }
                if (!strcmp(key, "StopTimeoutSec"))
                        return parse_stop_timeout(v, &c->stop_timeout_usec, ps);
        } else
                return rk_error(&ps->err, EINVAL, "unknown section [%.64s]", section);
        return rk_error(&ps->err, EINVAL, "unknown key %.64s in [%.64s]", key, section);
}

static int app_key(Parse *ps, const char *section, const char *key, const char *v) {
        AppPolicy *a = ps->app;

        if (!strcmp(section, "Resources"))
                return resources_key(ps, key, v);
        if (strcmp(section, "Rocker") != 0)
                return rk_error(&ps->err, EINVAL, "unknown section [%.64s]", section);
        if (!strcmp(key, "PrivateNetwork")) {
                if (parse_bool(v, &a->private_network) < 0)
                        return rk_error(&ps->err, EINVAL, "expected yes or no");
                return 0;
        }
        if (!strcmp(key, "Devices"))
                return parse_devices(v, a->devices, &a->n_devices, ps);
        if (!strcmp(key, "Sockets")) {
                unsigned mask;
                int r = parse_sockets(v, &mask, ps);
                if (r >= 0)
                        a->sockets |= mask;
                return r;
        }
        if (!strcmp(key, "SessionBus"))
                return parse_session_bus(v, &a->session_bus, ps);
        if (!strcmp(key, "DBusTalk"))
                return parse_bus_names(v, a->dbus_talk, &a->n_dbus_talk, ps);
        if (!strcmp(key, "DBusOwn"))
                return parse_bus_names(v, a->dbus_own, &a->n_dbus_own, ps);
        if (!strcmp(key, "DBusSee"))
                return parse_bus_names(v, a->dbus_see, &a->n_dbus_see, ps);
        if (!strcmp(key, "DevShmSize")) {
                if (parse_size(v, &a->dev_shm_size) < 0)
                        return rk_error(&ps->err, EINVAL, "expected a size from 1M to 1024G");
                return 0;
        }
        if (!strcmp(key, "AllowUserNamespaces")) {
                if (parse_bool(v, &a->allow_user_namespaces) < 0)
                        return rk_error(&ps->err, EINVAL, "expected yes or no");
                return 0;
        }
        if (!strcmp(key, "StrictModes")) {
                if (parse_bool(v, &a->strict_modes) < 0)
                        return rk_error(&ps->err, EINVAL, "expected yes or no");
                return 0;
        }
        if (!strcmp(key, "StopTimeoutSec"))
                return parse_stop_timeout(v, &a->stop_timeout_usec, ps);
        if (!strcmp(key, "ImageDirs"))
                return parse_paths(v, a->image_dirs, &a->n_image_dirs, ps);
        if (!strcmp(key, "ImageBackend")) {
                ImageBackend b;
                if (image_backend_from_string(v, &b) < 0)
                        return rk_error(&ps->err, EINVAL, "expected auto, kernel or squashfuse");
                a->image_backend = (int) b;
                return 0;
        }
        if (!strcmp(key, "SharedWritablePaths"))
                return parse_paths(v, a->shared_paths, &a->n_shared_paths, ps);
        return rk_error(&ps->err, EINVAL, "unknown key %.64s in [%.64s]", key, section);
}

static int on_key(void *user, const char *section, const char *key, const char *value) {
        Parse *ps = user;
        int r;

        if (!key)
                return 1;  /* a bare section header */
        /* inih reads on after an error and returns the first error's line:
         * keep that line's reason, not a later line's. */
        if (rk_error_set(&ps->err))
                return 0;
        r = ps->app ? app_key(ps, section, key, value) : daemon_key(ps, section, key, value);
        if (r < 0 && !rk_error_set(&ps->err))
                (void) rk_error(&ps->err, r, "%s", strerror(-r));
        return r < 0 ? 0 : 1;
}

static int parse_file(const char *path, Parse *ps, bool required, RkError *err) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        int line;

        if (!f) {
                if (errno == ENOENT && !required)
                        return 0;
                return rk_error(err, -errno, "%s: %s", path, strerror(errno));
        }
        line = ini_parse_file(f, on_key, ps);
        if (line != 0) {
                return rk_error(err, EINVAL, "%s:%d: %s", path, line, ps->err.msg[0] ? ps->err.msg : "syntax error");
        }
        return 0;
}

int config_load(const char *path, bool required, ManagerConfig *cfg, RkError *err) {
        Parse ps = { .cfg = cfg };

        return parse_file(path, &ps, required, err);
}

void config_done(ManagerConfig *cfg) {
        for (size_t i = 0; i < cfg->n_shared_paths; i++)
                free(cfg->shared_paths[i]);
        for (size_t i = 0; i < cfg->n_devices; i++)
                free(cfg->devices[i]);
        free(cfg->owned_socket_path);
        free(cfg->owned_state_dir);
        free(cfg->owned_apps_dir);
        free(cfg->squashfuse_path);
}

int config_squashfuse_identity(const ManagerConfig *cfg, uid_t *ret_uid, gid_t *ret_gid) {
        struct passwd *pw;

        if (cfg->squashfuse_user_set) {
                *ret_uid = cfg->squashfuse_uid;
                *ret_gid = cfg->squashfuse_gid;
                return 0;
        }
        pw = getpwnam(CONFIG_SQUASHFUSE_USER);
        if (pw && pw->pw_uid != 0 && pw->pw_gid != 0) {
                *ret_uid = pw->pw_uid;
                *ret_gid = pw->pw_gid;
                return 0;
        }
        *ret_uid = SQUASHFUSE_DEFAULT_UID;
        *ret_gid = SQUASHFUSE_DEFAULT_GID;
        return 1;
}

void app_policy_done(AppPolicy *p) {
        for (size_t i = 0; i < p->n_image_dirs; i++)
                free(p->image_dirs[i]);
        for (size_t i = 0; i < p->n_shared_paths; i++)
                free(p->shared_paths[i]);
        for (size_t i = 0; i < p->n_devices; i++)
                free(p->devices[i]);
        for (size_t i = 0; i < p->n_dbus_talk; i++)
                free(p->dbus_talk[i]);
        for (size_t i = 0; i < p->n_dbus_own; i++)
                free(p->dbus_own[i]);
        for (size_t i = 0; i < p->n_dbus_see; i++)
                free(p->dbus_see[i]);
        *p = (AppPolicy) {};
}

int app_policy_load(const ManagerConfig *cfg, int32_t app_id, AppPolicy *ret, RkError *err) {
        AppPolicy app = {
                .private_network = cfg->private_network,
                .stop_timeout_usec = cfg->stop_timeout_usec,
                .image_backend = cfg->image_backend,
                .strict_modes = !cfg->no_strict_modes,
                .allow_user_namespaces = cfg->allow_user_namespaces,
                .dev_shm_size = cfg->dev_shm_size,
                .sockets = cfg->sockets,
                .session_bus = cfg->session_bus,
                .limits = cfg->limits,
        };
        Parse ps = { .app = &app };
        char path[PATH_MAX];
        int r;

        snprintf(path, sizeof path, "%s/%d.conf", cfg->apps_dir, (int) app_id);
        r = parse_file(path, &ps, false, err);
        if (r < 0) {
                app_policy_done(&app);
                return r;
        }
        *ret = app;
        return 0;
}

int app_policy_check_all(const ManagerConfig *cfg, RkError *err) {
        _cleanup_closedir_ DIR *d = opendir(cfg->apps_dir);
        struct dirent *de;
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
                r = app_policy_load(cfg, (int32_t) id, &app, err);
                if (r >= 0)
                        app_policy_done(&app);
        }
        return r;
}
