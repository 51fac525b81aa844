/* SPDX-License-Identifier: MIT */
/*
 * A cgroup per rocker (docs/cgroups.md). The guard is cloned straight into
 * it (CLONE_INTO_CGROUP); the library puts the app process there too. Its
 * name is stable: rocker-<app_id>-<guard name>, with ".scope" in
 * rocker.slice under systemd. Backends:
 *
 *  - systemd: a transient scope per rocker through the system manager's bus
 *    (StartTransientUnit), the limits as unit properties;
 *  - cgroupfs: a cgroup v2 subtree rockerd owns under its own cgroup (the
 *    unit's Delegate=yes contract), limits written to the cgroup's files;
 *  - none: no cgroup v2 hierarchy (or Cgroups=no): rockers stay in rockerd's
 *    cgroup, and limits are unavailable.
 *
 * The backend and what it can do are found once at start (cgroup_setup())
 * and logged once; a limit whose controller is missing is unavailable.
 */
#ifndef ROCKER_CGROUP_H
#define ROCKER_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define CGROUP_INFINITY UINT64_MAX

typedef enum CgroupLimitKey {
        CGROUP_MEMORY_MAX,
        CGROUP_MEMORY_HIGH,
        CGROUP_MEMORY_SWAP_MAX,
        CGROUP_TASKS_MAX,
        CGROUP_CPU_WEIGHT,
        CGROUP_CPU_QUOTA,      /* value: usec of CPU time per second (systemd's CPUQuotaPerSecUSec) */
        CGROUP_IO_WEIGHT,
        CGROUP_OOM_POLICY,     /* value: CgroupOomPolicy */
        _CGROUP_LIMIT_MAX,
} CgroupLimitKey;

typedef enum CgroupOomPolicy {
        CGROUP_OOM_CONTINUE,   /* the kernel's pick dies, the rest of the rocker lives */
        CGROUP_OOM_KILL,       /* memory.oom.group: the whole rocker dies */
} CgroupOomPolicy;

/* Limits with systemd's names and units (rockerd.conf(5) [Resources]). */
typedef struct CgroupLimits {
        unsigned set;                          /* 1 << CgroupLimitKey for each key given */
        uint64_t value[_CGROUP_LIMIT_MAX];     /* CGROUP_INFINITY: no limit */
} CgroupLimits;

typedef enum CgroupMode {
        CGROUP_MODE_AUTO,
        CGROUP_MODE_SYSTEMD,
        CGROUP_MODE_CGROUPFS,
        CGROUP_MODE_NO,
} CgroupMode;

/* The key's name (e.g. "MemoryMax"), or NULL. */
const char *cgroup_limit_name(CgroupLimitKey k);

/* If key is one of the limit keys, parses value into *lim and returns 1;
 * returns 0 for another key, -EINVAL with err set for a bad value. */
int cgroup_limit_parse(const char *key, const char *value, CgroupLimits *lim, RkError *err);

/* b's keys override a's: the app's file over the daemon's defaults. */
void cgroup_limits_merge(CgroupLimits *a, const CgroupLimits *b);

/* True if lim asks for anything (a key set to infinity or OOMPolicy=continue
 * asks for nothing). */
bool cgroup_limits_requested(const CgroupLimits *lim);

int cgroup_mode_from_string(const char *s, CgroupMode *ret);

typedef struct CgroupSetup CgroupSetup;

/* Finds the backend for mode and what it can do; logs once what it found
 * and, if limits (some or all) are unavailable, why. Never fails for lack
 * of cgroups: *ret then has no backend. 0 or -ENOMEM (or -errno when mode
 * names a backend that cannot work here). */
int cgroup_setup_new(CgroupMode mode, void *sd_event, CgroupSetup **ret);
CgroupSetup *cgroup_setup_free(CgroupSetup *s);

/* True for the systemd backend (cgroup_scope_start()), false for the
 * others (cgroup_create(), or nothing). */
bool cgroup_setup_uses_scopes(const CgroupSetup *s);

/* "systemd", "cgroupfs" or "none". */
const char *cgroup_setup_backend(const CgroupSetup *s);

/* NULL if every limit in lim can be applied; else why not (static text
 * owned by s). */
const char *cgroup_setup_unavailable(const CgroupSetup *s, const CgroupLimits *lim);

/* Why rockers get no cgroup of their own, or NULL if they do. */
const char *cgroup_setup_no_cgroup_reason(const CgroupSetup *s);

/* The hierarchy root as rockerd sees it, e.g. "/sys/fs/cgroup", or NULL. */
const char *cgroup_setup_root(const CgroupSetup *s);

/* Name of the cgroup of a rocker (no ".scope"): rocker-<app_id>-<name>. */
void cgroup_rocker_name(int32_t app_id, const char *guard_name, char *buf, size_t size);

/* cgroupfs backend: creates the rocker's cgroup, applies lim (the
 * available part when best_effort) and returns its path relative to the
 * hierarchy root (malloc'ed) and an O_DIRECTORY fd for CLONE_INTO_CGROUP.
 * -errno with err set. */
int cgroup_create(CgroupSetup *s, int32_t app_id, const char *guard_name, const CgroupLimits *lim,
                  bool best_effort, char **ret_path, int *ret_fd, RkError *err);

/* Removes the rocker's cgroup once its processes are gone (a no-op for the
 * systemd backend, whose scope goes with its last process). 0, -EBUSY while
 * a process is left, or -errno. */
int cgroup_remove(CgroupSetup *s, const char *path);

/* The cgroup path of pid (the "0::" line of /proc/<pid>/cgroup), malloc'ed
 * in *ret. -errno. */
int cgroup_of_pid(pid_t pid, char **ret);

/* Usage of the cgroup at path: memory.current in bytes and cpu.stat's
 * usage_usec; -1 where unknown (no memory controller...). */
void cgroup_usage(const CgroupSetup *s, const char *path, int64_t *ret_memory, int64_t *ret_cpu_usec);

/* systemd backend: asks for the transient scope rocker-<app_id>-<name>.scope
 * in rocker.slice holding pid, with lim as its properties (the available
 * part when best_effort). Asynchronous: done(0 or -errno, text, userdata)
 * is called from the event loop once the scope's start job ended (never
 * from inside this call), unless the job is cancelled first. 0 with *ret
 * set, or -errno with err set. */
typedef struct CgroupScopeJob CgroupScopeJob;
typedef void (*CgroupScopeDone)(int error, const char *text, void *userdata);
int cgroup_scope_start(CgroupSetup *s, int32_t app_id, const char *guard_name, pid_t pid, const CgroupLimits *lim,
                       bool best_effort, CgroupScopeDone done, void *userdata, CgroupScopeJob **ret, RkError *err);
/* Forgets the job: done is not called. NULL is fine. */
void cgroup_scope_job_cancel(CgroupScopeJob *j);

#endif
