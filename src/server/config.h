/* SPDX-License-Identifier: MIT */
/*
 * rockerd's configuration: /etc/rocker/rockerd.conf (--config PATH) for the
 * daemon, and <AppsDir>/<app_id>.conf (default /etc/rocker/apps.d) for each
 * app. INI files, parsed with inih; an unknown section or key, or a bad
 * value, is an error naming the file and line. See rockerd.conf(5).
 */
#ifndef ROCKER_CONFIG_H
#define ROCKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup.h"
#include "error.h"

/* The most entries of one list in a config file (paths, devices, users,
 * groups). */
#define CONFIG_PATHS_MAX 16
/* The most bus names of each of DBusTalk=, DBusOwn=, DBusSee=. */
#define CONFIG_DBUS_NAMES_MAX 16

typedef struct ManagerConfig {
        const char *socket_path;
        const char *state_dir;           /* one record per live rocker */
        const char *apps_dir;            /* per-app policy: <apps_dir>/<app_id>.conf */
        char *owned_socket_path;         /* set from a config file */
        char *owned_state_dir;
        char *owned_apps_dir;
        char *shared_paths[CONFIG_PATHS_MAX];  /* host paths writable in every rocker */
        size_t n_shared_paths;
        bool shared_paths_set;           /* by a config file: else the defaults */
        bool private_network;            /* the default of every app */
        bool no_strict_modes;            /* StrictModes=no: the default of every app */
        bool allow_user_namespaces;      /* AllowUserNamespaces=: the default of every app */
        char *devices[CONFIG_PATHS_MAX]; /* Devices=: groups, "all" or /dev paths, for every app */
        size_t n_devices;
        uint64_t dev_shm_size;           /* DevShmSize=: the default of every app; 0: built-in */
        unsigned sockets;                /* Sockets= (PLAN_SOCKET_*), for every app */
        int session_bus;                 /* SessionBus= (PlanBus): the default of every app */
        int image_backend;               /* ImageBackend: the default of every app */
        char *squashfuse_path;           /* SquashfusePath=; NULL: SQUASHFUSE_PATH */
        bool squashfuse_user_set;        /* SquashfuseUser=, resolved when read */
        uid_t squashfuse_uid;
        gid_t squashfuse_gid;
        uint64_t request_timeout_usec;   /* a client's time to send its request */
        uint64_t build_timeout_usec;     /* a guard's time to report */
        uint64_t claim_timeout_usec;     /* an unclaimed rocker's lifetime */
        uint64_t teardown_wait_usec;     /* waiting for a dying data dir holder */
        uint64_t stop_timeout_usec;      /* StopTimeoutSec=: the default of every app */
        unsigned max_connections;
        unsigned max_rockers;
        /* Non-root peers (policy.c, issue 17): who besides root, and how many
         * live rockers each may have. Empty lists: root only. */
        uint32_t allow_uids[CONFIG_PATHS_MAX];
        size_t n_allow_uids;
        uint32_t allow_gids[CONFIG_PATHS_MAX];
        size_t n_allow_gids;
        unsigned max_rockers_per_user;
        /* [Resources] (docs/cgroups.md) */
        int cgroup_mode;                 /* CgroupMode */
        bool limits_best_effort;         /* run a rocker whose limits cannot be applied */
        CgroupLimits limits;             /* the default of every app */
} ManagerConfig;

#define MANAGER_CONFIG_DEFAULT {                                  \
                .socket_path = "/run/rocker/rockerd.sock",       \
                .state_dir = "/run/rocker/state",                \
                .apps_dir = "/etc/rocker/apps.d",                \
                .request_timeout_usec = 5 * 1000000ULL,          \
                .build_timeout_usec = 20 * 1000000ULL,           \
                .claim_timeout_usec = 30 * 1000000ULL,           \
                .teardown_wait_usec = 10 * 1000000ULL,           \
                .stop_timeout_usec = 10 * 1000000ULL,            \
                .max_connections = 1024,                         \
                .max_rockers = 4096,                             \
                .max_rockers_per_user = 32,                      \
        }

typedef struct AppPolicy {
        bool private_network;
        uint64_t stop_timeout_usec;             /* StopTimeoutSec= */
        int image_backend;                      /* ImageBackend */
        char *image_dirs[CONFIG_PATHS_MAX];     /* none: images may be anywhere */
        size_t n_image_dirs;
        char *shared_paths[CONFIG_PATHS_MAX];   /* on top of the daemon's */
        size_t n_shared_paths;
        bool strict_modes;                      /* StrictModes=: image and data dir root's only */
        bool allow_user_namespaces;             /* AllowUserNamespaces= */
        char *devices[CONFIG_PATHS_MAX];        /* Devices=: on top of the daemon's */
        size_t n_devices;
        uint64_t dev_shm_size;                  /* DevShmSize=: 0 = the daemon's */
        unsigned sockets;                       /* Sockets=: on top of the daemon's */
        int session_bus;                        /* SessionBus= (PlanBus) */
        char *dbus_talk[CONFIG_DBUS_NAMES_MAX];   /* DBusTalk=, DBusOwn=, DBusSee= */
        size_t n_dbus_talk;
        char *dbus_own[CONFIG_DBUS_NAMES_MAX];
        size_t n_dbus_own;
        char *dbus_see[CONFIG_DBUS_NAMES_MAX];
        size_t n_dbus_see;
        CgroupLimits limits;                    /* the daemon's, overridden by the app's [Resources] */
} AppPolicy;

/* The longest StopTimeoutSec= (an hour). */
#define CONFIG_STOP_TIMEOUT_MAX_USEC (3600 * 1000000ULL)

/* A time span as systemd writes it (systemd.time(7)): "10", "10s", "500ms",
 * "1min 30s", "1.5s"; a bare number is seconds. 0, -EINVAL, or -ERANGE
 * beyond max_usec. */
int config_parse_timespan(const char *v, uint64_t max_usec, uint64_t *ret_usec);

/* Reads path into *cfg (which holds the defaults). A missing file is fine
 * unless required. 0, or -errno / -EINVAL with err set. */
int config_load(const char *path, bool required, ManagerConfig *cfg, RkError *err);

/* The policy of app app_id: <cfg->apps_dir>/<app_id>.conf if it exists,
 * else the daemon's defaults. 0, or -EINVAL with err set. */
int app_policy_load(const ManagerConfig *cfg, int32_t app_id, AppPolicy *ret, RkError *err);
void app_policy_done(AppPolicy *p);

/* Reads every <cfg->apps_dir>/<app_id>.conf, so that a bad one stops rockerd at
 * start. 0, or -EINVAL with err set (file and line). */
int app_policy_check_all(const ManagerConfig *cfg, RkError *err);

/* The host paths writable in every rocker when no config file says
 * otherwise (those that exist). */
extern const char *const config_default_shared_paths[];

/* The system user squashfuse runs as by default (rockerd's package
 * creates it). */
#define CONFIG_SQUASHFUSE_USER "_rocker-squashfuse"

/* Who squashfuse runs as: SquashfuseUser=, else CONFIG_SQUASHFUSE_USER if
 * it exists, else nobody (65534:65534). 0, or 1 for the nobody fallback. */
int config_squashfuse_identity(const ManagerConfig *cfg, uid_t *ret_uid, gid_t *ret_gid);

/* Frees what config_load() allocated in *cfg. */
void config_done(ManagerConfig *cfg);

#endif
