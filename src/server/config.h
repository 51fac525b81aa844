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

#include "manager.h"

typedef struct AppPolicy {
        bool private_network;
        int image_backend;                      /* ImageBackend */
        char *image_dirs[CONFIG_PATHS_MAX];     /* none: images may be anywhere */
        size_t n_image_dirs;
        char *shared_paths[CONFIG_PATHS_MAX];   /* on top of the daemon's */
        size_t n_shared_paths;
        CgroupLimits limits;                    /* the daemon's, overridden by the app's [Resources] */
} AppPolicy;

/* Reads path into *cfg (which holds the defaults). A missing file is fine
 * unless required. 0, or -errno / -EINVAL with err set. */
int config_load(const char *path, bool required, ManagerConfig *cfg, char *err, size_t errlen);

/* The policy of app app_id: <cfg->apps_dir>/<app_id>.conf if it exists,
 * else the daemon's defaults. 0, or -EINVAL with err set. */
int app_policy_load(const ManagerConfig *cfg, int32_t app_id, AppPolicy *ret, char *err, size_t errlen);
void app_policy_done(AppPolicy *p);

/* Reads every <cfg->apps_dir>/<app_id>.conf, so that a bad one stops rockerd at
 * start. 0, or -EINVAL with err set (file and line). */
int app_policy_check_all(const ManagerConfig *cfg, char *err, size_t errlen);

/* The host paths writable in every rocker when no config file says
 * otherwise (those that exist). */
extern const char *const config_default_shared_paths[];

/* Frees what config_load() allocated in *cfg. */
void config_done(ManagerConfig *cfg);

#endif
