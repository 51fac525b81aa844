/* SPDX-License-Identifier: MIT */
/* rockerd's event loop: the listening socket, client connections, and the
 * life of each rocker from request to the guard's death. */
#ifndef ROCKER_MANAGER_H
#define ROCKER_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel.h"
#include "cgroup.h"

#define CONFIG_PATHS_MAX 16

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

typedef struct Manager Manager;

int manager_new(const ManagerConfig *cfg, const KernelFeatures *kernel, Manager **ret);
Manager *manager_free(Manager *m);

/* Binds (or takes from socket activation) the socket and runs the loop until
 * SIGTERM or SIGINT. Live rockers survive. 0 or -errno. */
int manager_run(Manager *m);

#endif
