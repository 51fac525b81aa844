/* SPDX-License-Identifier: MIT */
/* Between cgroup.c and its systemd backend (cgroup-systemd.c). */
#ifndef ROCKER_CGROUP_INTERNAL_H
#define ROCKER_CGROUP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "cgroup.h"

typedef enum CgroupController {
        CONTROLLER_MEMORY,
        CONTROLLER_PIDS,
        CONTROLLER_CPU,
        CONTROLLER_IO,
        _CONTROLLER_MAX,
} CgroupController;

typedef struct CgroupSystemd CgroupSystemd;

/* Writes text to file (relative to dirfd). 0 or -errno. */
int cgroup_write_at(int dirfd, const char *file, const char *text);

CgroupSystemd *cgroup_setup_systemd(CgroupSetup *s);

/* True if systemd is PID 1 (sd_booted()). */
bool cgroup_systemd_available(void);

/* Connects to the system manager's bus, attached to event (an sd_event *).
 * 0, or -errno with err set. */
int cgroup_systemd_new(void *event, CgroupSystemd **ret, RkError *err);
void cgroup_systemd_free(CgroupSystemd *sd);

/* systemd's version (e.g. 252), or -errno. Blocks: call at start only. */
int cgroup_systemd_version(CgroupSystemd *sd);

/* Which controllers the hierarchy (root_fd) has: systemd enables them down
 * to rocker.slice on demand. */
int cgroup_systemd_controllers(CgroupSystemd *sd, int root_fd, bool ret[_CONTROLLER_MAX]);

/* Asks for the scope name.scope holding pid (cgroup_scope_start()). */
int cgroup_systemd_start(CgroupSystemd *sd, const char *name, pid_t pid, const CgroupLimits *lim,
                         const bool controller[_CONTROLLER_MAX], const CgroupController *limit_controller,
                         CgroupScopeDone done, void *userdata, CgroupScopeJob **ret, RkError *err);

#endif
