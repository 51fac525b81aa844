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

#include "error.h"
#include "manager.h"
#include "plan.h"

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
        char *dbus_talk[PLAN_DBUS_NAMES_MAX];   /* DBusTalk=, DBusOwn=, DBusSee= */
        size_t n_dbus_talk;
        char *dbus_own[PLAN_DBUS_NAMES_MAX];
        size_t n_dbus_own;
        char *dbus_see[PLAN_DBUS_NAMES_MAX];
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
