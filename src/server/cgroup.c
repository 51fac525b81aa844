/* SPDX-License-Identifier: MIT */
/*
 * Threat model: every path here is built by rockerd (the hierarchy root it
 * found, its own cgroup from /proc/self/cgroup, the app id and a guard name
 * it generated); nothing a client sends names a cgroup. The rocker's
 * processes run without capabilities and cannot write the cgroup files of
 * their own cgroup (root-owned, and the cgroup namespace hides the parent).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cgroup.h"
#include "cgroup-internal.h"
#include "log.h"
#include "macro.h"
#include "procfs.h"
#include "util.h"

static const char *const limit_names[_CGROUP_LIMIT_MAX] = {
        [CGROUP_MEMORY_MAX] = "MemoryMax",
        [CGROUP_MEMORY_HIGH] = "MemoryHigh",
        [CGROUP_MEMORY_SWAP_MAX] = "MemorySwapMax",
        [CGROUP_TASKS_MAX] = "TasksMax",
        [CGROUP_CPU_WEIGHT] = "CPUWeight",
        [CGROUP_CPU_QUOTA] = "CPUQuota",
        [CGROUP_IO_WEIGHT] = "IOWeight",
        [CGROUP_OOM_POLICY] = "OOMPolicy",
};

/* The controller each key needs. */
static const CgroupController limit_controller[_CGROUP_LIMIT_MAX] = {
        [CGROUP_MEMORY_MAX] = CONTROLLER_MEMORY,
        [CGROUP_MEMORY_HIGH] = CONTROLLER_MEMORY,
        [CGROUP_MEMORY_SWAP_MAX] = CONTROLLER_MEMORY,
        [CGROUP_TASKS_MAX] = CONTROLLER_PIDS,
        [CGROUP_CPU_WEIGHT] = CONTROLLER_CPU,
        [CGROUP_CPU_QUOTA] = CONTROLLER_CPU,
        [CGROUP_IO_WEIGHT] = CONTROLLER_IO,
        [CGROUP_OOM_POLICY] = CONTROLLER_MEMORY,
};

static const char *const controller_names[_CONTROLLER_MAX] = {
        [CONTROLLER_MEMORY] = "memory",
        [CONTROLLER_PIDS] = "pids",
        [CONTROLLER_CPU] = "cpu",
        [CONTROLLER_IO] = "io",
};

const char *cgroup_limit_name(CgroupLimitKey k) {
        return k < _CGROUP_LIMIT_MAX ? limit_names[k] : NULL;
}

/* ---- values, with systemd's syntax ----------------------------------- */

static int parse_u64(const char *v, uint64_t *ret, const char **ret_end) {
        char *end;
        unsigned long long n;

        if (!isdigit((unsigned char) v[0]))
                return -EINVAL;
        errno = 0;
        n = strtoull(v, &end, 10);
        if (errno)
                return -EINVAL;
        *ret = n;
        *ret_end = end;
        return 0;
}

/* "N%" with N an integer (systemd also takes one decimal: "N.N%"), as
 * per-mille. */
static int parse_percent(const char *v, uint64_t *ret_permille) {
        const char *end;
        uint64_t n, tenth = 0;

        if (parse_u64(v, &n, &end) < 0 || n > 100000000)
                return -EINVAL;
        if (*end == '.') {
                if (!isdigit((unsigned char) end[1]))
                        return -EINVAL;
                tenth = (uint64_t) (end[1] - '0');
                end += 2;
        }
        if (strcmp(end, "%") != 0)
                return -EINVAL;
        *ret_permille = n * 10 + tenth;
        return 0;
}

/* Bytes with an optional K, M, G, T suffix (base 1024), a percentage of
 * physical memory, or "infinity". */
static int parse_bytes(const char *v, uint64_t *ret) {
        const char *end;
        uint64_t n, mult = 1, permille;

        if (!strcmp(v, "infinity")) {
                *ret = CGROUP_INFINITY;
                return 0;
        }
        if (strchr(v, '%')) {
                long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

                if (parse_percent(v, &permille) < 0 || permille > 1000 || pages <= 0 || size <= 0)
                        return -EINVAL;
                *ret = (uint64_t) pages * (uint64_t) size / 1000 * permille;
                return 0;
        }
        if (parse_u64(v, &n, &end) < 0)
                return -EINVAL;
        switch (*end) {
        case '\0': break;
        case 'K': mult = 1ULL << 10; break;
        case 'M': mult = 1ULL << 20; break;
        case 'G': mult = 1ULL << 30; break;
        case 'T': mult = 1ULL << 40; break;
        default: return -EINVAL;
        }
        if (*end && end[1])
                return -EINVAL;
        if (n > (CGROUP_INFINITY - 1) / mult)
                return -EINVAL;
        *ret = n * mult;
        return 0;
}

int cgroup_limit_parse(const char *key, const char *value, CgroupLimits *lim, RkError *err) {
        CgroupLimitKey k;
        uint64_t v = 0, permille;
        const char *end;

        for (k = 0; k < _CGROUP_LIMIT_MAX; k++)
                if (!strcmp(key, limit_names[k]))
                        break;
        if (k == _CGROUP_LIMIT_MAX)
                return 0;

        switch (k) {
        case CGROUP_MEMORY_MAX:
        case CGROUP_MEMORY_HIGH:
        case CGROUP_MEMORY_SWAP_MAX:
                if (parse_bytes(value, &v) < 0)
                        return rk_error(err, EINVAL, "expected bytes (with K, M, G or T), a percentage of memory, "
                                        "or infinity");
                break;
        case CGROUP_TASKS_MAX:
                if (!strcmp(value, "infinity"))
                        v = CGROUP_INFINITY;
                else if (parse_u64(value, &v, &end) < 0 || *end || v == 0 || v >= CGROUP_INFINITY)
                        return rk_error(err, EINVAL, "expected a number of tasks from 1, or infinity");
                break;
        case CGROUP_CPU_WEIGHT:
        case CGROUP_IO_WEIGHT:
                if (parse_u64(value, &v, &end) < 0 || *end || v < 1 || v > 10000)
                        return rk_error(err, EINVAL, "expected a weight from 1 to 10000");
                break;
        case CGROUP_CPU_QUOTA:
                /* 100% is one CPU: 1 s of CPU time per second. */
                if (parse_percent(value, &permille) < 0 || permille == 0)
                        return rk_error(err, EINVAL, "expected a percentage above 0%% (100%% is one CPU)");
                v = permille * 1000;
                break;
        case CGROUP_OOM_POLICY:
                if (!strcmp(value, "continue"))
                        v = CGROUP_OOM_CONTINUE;
                else if (!strcmp(value, "kill"))
                        v = CGROUP_OOM_KILL;
                else
                        return rk_error(err, EINVAL, "expected continue (only the process the kernel picked dies) "
                                        "or kill (the whole rocker)");
                break;
        default:
                return -EINVAL;
        }
        lim->value[k] = v;
        lim->set |= 1U << k;
        return 1;
}

void cgroup_limits_merge(CgroupLimits *a, const CgroupLimits *b) {
        for (CgroupLimitKey k = 0; k < _CGROUP_LIMIT_MAX; k++)
                if (b->set & (1U << k)) {
                        a->value[k] = b->value[k];
                        a->set |= 1U << k;
                }
}

static bool limit_requested(const CgroupLimits *lim, CgroupLimitKey k) {
        if (!(lim->set & (1U << k)))
                return false;
        if (k == CGROUP_OOM_POLICY)
                return lim->value[k] != CGROUP_OOM_CONTINUE;
        return lim->value[k] != CGROUP_INFINITY;
}

bool cgroup_limits_requested(const CgroupLimits *lim) {
        for (CgroupLimitKey k = 0; k < _CGROUP_LIMIT_MAX; k++)
                if (limit_requested(lim, k))
                        return true;
        return false;
}

int cgroup_mode_from_string(const char *s, CgroupMode *ret) {
        if (!strcmp(s, "auto"))
                *ret = CGROUP_MODE_AUTO;
        else if (!strcmp(s, "systemd"))
                *ret = CGROUP_MODE_SYSTEMD;
        else if (!strcmp(s, "cgroupfs"))
                *ret = CGROUP_MODE_CGROUPFS;
        else if (!strcmp(s, "no"))
                *ret = CGROUP_MODE_NO;
        else
                return -EINVAL;
        return 0;
}

void cgroup_rocker_name(int32_t app_id, const char *guard_name, char *buf, size_t size) {
        snprintf(buf, size, "rocker-%d-%s", (int) app_id, guard_name);
}

/* ---- files ------------------------------------------------------------ */

int cgroup_write_at(int dirfd, const char *file, const char *text) {
        _cleanup_close_ int fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        size_t len = strlen(text);

        if (fd < 0)
                return negative_errno();
        if (write(fd, text, len) != (ssize_t) len)
                return negative_errno();
        return 0;
}

static ssize_t read_file_at(int dirfd, const char *file, char *buf, size_t size) {
        _cleanup_close_ int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        ssize_t n;

        if (fd < 0)
                return negative_errno();
        n = read(fd, buf, size - 1);
        if (n < 0)
                return negative_errno();
        buf[n] = '\0';
        return n;
}

int cgroup_of_pid(pid_t pid, char **ret) {
        char buf[4096], cg[PATH_MAX];
        int r;

        r = procfs_read(PROCFS_AT, pid, "cgroup", buf, sizeof buf);
        if (r < 0)
                return r;
        r = proc_cgroup_parse(buf, cg, sizeof cg);
        if (r < 0)
                return r;
        *ret = strdup(cg);
        return *ret ? 0 : -ENOMEM;
}

/* ---- setup -------------------------------------------------------------- */

struct CgroupSetup {
        CgroupMode backend;            /* SYSTEMD, CGROUPFS, or NO */
        char root[64];                 /* the cgroup2 mount: "/sys/fs/cgroup" */
        int root_fd;
        char *base;                    /* cgroupfs: the subtree's root, relative ("/" or "/x/y") */
        int base_fd;
        bool controller[_CONTROLLER_MAX];
        char why_no_cgroup[256];
        char why_no_limits[_CONTROLLER_MAX][320];
        bool oom_group;                /* OOMPolicy=kill can be had */
        char why_no_oom_group[160];
        CgroupSystemd *systemd;
};

const char *cgroup_setup_backend(const CgroupSetup *s) {
        return s->backend == CGROUP_MODE_SYSTEMD ? "systemd" : s->backend == CGROUP_MODE_CGROUPFS ? "cgroupfs" : "none";
}

const char *cgroup_setup_root(const CgroupSetup *s) {
        return s->backend == CGROUP_MODE_NO ? NULL : s->root;
}

const char *cgroup_setup_no_cgroup_reason(const CgroupSetup *s) {
        return s->backend == CGROUP_MODE_NO ? s->why_no_cgroup : NULL;
}

const char *cgroup_setup_unavailable(const CgroupSetup *s, const CgroupLimits *lim) {
        for (CgroupLimitKey k = 0; k < _CGROUP_LIMIT_MAX; k++)
                if (limit_requested(lim, k) && !s->controller[limit_controller[k]])
                        return s->why_no_limits[limit_controller[k]];
        if (limit_requested(lim, CGROUP_OOM_POLICY) && !s->oom_group)
                return s->why_no_oom_group;
        return NULL;
}

CgroupSystemd *cgroup_setup_systemd(CgroupSetup *s) {
        return s->systemd;
}

/* The cgroup v2 mount: /sys/fs/cgroup (unified), or /sys/fs/cgroup/unified
 * (hybrid: the controllers are v1's). */
static int find_root(CgroupSetup *s, RkError *err) {
        static const char *const candidates[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
        struct statfs sf;

        for (size_t i = 0; i < ELEMENTSOF(candidates); i++)
                if (statfs(candidates[i], &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC) {
                        snprintf(s->root, sizeof s->root, "%s", candidates[i]);
                        s->root_fd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (s->root_fd < 0)
                                return rk_error(err, errno, "cannot open %s: %m", s->root);
                        return 0;
                }
        return rk_error(err, ENOMEDIUM, "no cgroup v2 hierarchy is mounted (/sys/fs/cgroup is cgroup v1)");
}

/* Which of memory, pids, cpu, io the cgroups under base_fd get. */
static void read_controllers(CgroupSetup *s, bool hybrid) {
        char buf[512];

        if (read_file_at(s->base_fd, "cgroup.subtree_control", buf, sizeof buf) < 0)
                buf[0] = '\0';
        for (CgroupController c = 0; c < _CONTROLLER_MAX; c++) {
                const char *w = buf;
                size_t len = strlen(controller_names[c]);

                s->controller[c] = false;
                while ((w = strstr(w, controller_names[c]))) {
                        if ((w == buf || w[-1] == ' ') && (w[len] == ' ' || w[len] == '\n' || !w[len])) {
                                s->controller[c] = true;
                                break;
                        }
                        w += len;
                }
                if (!s->controller[c])
                        snprintf(s->why_no_limits[c], sizeof s->why_no_limits[c],
                                 "the %s controller is not available in the cgroup v2 hierarchy at %s%s",
                                 controller_names[c], s->root,
                                 hybrid ? " (a hybrid host: the controllers are bound to cgroup v1)" : "");
        }
}

/* cgroupfs: rockerd's own cgroup becomes the subtree's root; rockerd moves
 * into a leaf of it ("rockerd"), since cgroup v2 lets only leaves hold
 * processes once controllers are enabled below. A rockerd that finds
 * itself in such a leaf already (a restart) keeps the parent. */
static int setup_cgroupfs(CgroupSetup *s, RkError *err) {
        _cleanup_free_ char *own = NULL;
        char want[64] = "", pid[32];
        int r;

        r = find_root(s, err);
        if (r < 0)
                return r;
        r = cgroup_of_pid(getpid(), &own);
        if (r < 0) {
                return rk_error(err, r, "cannot find rockerd's cgroup v2 cgroup: %s", strerror(-r));
        }
        if (strcmp(own, "/") != 0) {
                char *slash = strrchr(own, '/');

                if (!strcmp(slash + 1, "rockerd"))
                        *(slash == own ? slash + 1 : slash) = '\0';
        }
        s->base = TAKE_PTR(own);
        s->base_fd = strcmp(s->base, "/") == 0 ? fcntl(s->root_fd, F_DUPFD_CLOEXEC, 3)
                                                : openat(s->root_fd, s->base + 1, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->base_fd < 0) {
                r = negative_errno();
                return rk_error(err, r, "cannot open rockerd's cgroup %s%s: %s", s->root, s->base, strerror(-r));
        }
        if (strcmp(s->base, "/") != 0) {
                if (mkdirat(s->base_fd, "rockerd", 0755) < 0 && errno != EEXIST) {
                        r = negative_errno();
                        return rk_error(err, r, "cannot create %s%s/rockerd (is the cgroup delegated to rockerd, "
                                        "Delegate=yes?): %s", s->root, s->base, strerror(-r));
                }
                snprintf(pid, sizeof pid, "%d", (int) getpid());
                r = cgroup_write_at(s->base_fd, "rockerd/cgroup.procs", pid);
                if (r < 0) {
                        return rk_error(err, r, "cannot move rockerd into %s%s/rockerd: %s", s->root, s->base,
                                        strerror(-r));
                }
        }
        /* Enable what the parent offers: each one alone, so that one the
         * kernel refuses does not take the others with it. */
        {
                char avail[512];

                if (read_file_at(s->base_fd, "cgroup.controllers", avail, sizeof avail) >= 0)
                        for (CgroupController c = 0; c < _CONTROLLER_MAX; c++)
                                if (strstr(avail, controller_names[c])) {
                                        snprintf(want, sizeof want, "+%s", controller_names[c]);
                                        r = cgroup_write_at(s->base_fd, "cgroup.subtree_control", want);
                                        if (r < 0)
                                                log_debug_errno(r, "cannot enable the %s controller under %s%s: %m",
                                                                controller_names[c], s->root, s->base);
                                }
        }
        read_controllers(s, strcmp(s->root, "/sys/fs/cgroup") != 0);
        s->oom_group = s->controller[CONTROLLER_MEMORY];  /* memory.oom.group: Linux 4.19 */
        return 0;
}

static void log_setup(const CgroupSetup *s) {
        char missing[64] = "";
        const char *why = NULL;

        for (CgroupController c = 0; c < _CONTROLLER_MAX; c++)
                if (!s->controller[c]) {
                        snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s",
                                 missing[0] ? ", " : "", controller_names[c]);
                        why = why ? why : s->why_no_limits[c];
                }
        if (s->backend == CGROUP_MODE_NO)
                log_notice("resource control: rockers get no cgroup of their own and limits are unavailable: %s",
                           s->why_no_cgroup);
        else if (missing[0])
                log_notice("resource control: a cgroup per rocker (%s, under %s%s), but limits on %s are "
                           "unavailable: %s", cgroup_setup_backend(s), s->root,
                           s->backend == CGROUP_MODE_SYSTEMD ? "/rocker.slice" : s->base, missing, why);
        else
                log_info("resource control: a cgroup per rocker (%s, under %s%s), limits available",
                         cgroup_setup_backend(s), s->root,
                         s->backend == CGROUP_MODE_SYSTEMD ? "/rocker.slice" : s->base);
}

int cgroup_setup_new(CgroupMode mode, void *sd_event, CgroupSetup **ret) {
        CgroupSetup *s = calloc(1, sizeof *s);
        RkError why = {};
        int r = 0;

        if (!s)
                return -ENOMEM;
        s->root_fd = s->base_fd = -EBADF;
        s->backend = CGROUP_MODE_NO;
        if (mode == CGROUP_MODE_NO)
                snprintf(s->why_no_cgroup, sizeof s->why_no_cgroup, "turned off (Cgroups=no in rockerd.conf)");
        if (mode == CGROUP_MODE_SYSTEMD || (mode == CGROUP_MODE_AUTO && cgroup_systemd_available())) {
                r = find_root(s, &why);
                if (r >= 0)
                        r = cgroup_systemd_new(sd_event, &s->systemd, &why);
                if (r >= 0) {
                        s->backend = CGROUP_MODE_SYSTEMD;
                        int version = cgroup_systemd_version(s->systemd);

                        r = cgroup_systemd_controllers(s->systemd, s->root_fd, s->controller);
                        for (CgroupController c = 0; c < _CONTROLLER_MAX; c++)
                                if (!s->controller[c])
                                        snprintf(s->why_no_limits[c], sizeof s->why_no_limits[c],
                                                 "the %s controller is not available in rocker.slice", controller_names[c]);
                        /* OOMPolicy= on a scope came with systemd 253 */
                        s->oom_group = s->controller[CONTROLLER_MEMORY] && version >= 253;
                        if (!s->oom_group)
                                snprintf(s->why_no_oom_group, sizeof s->why_no_oom_group,
                                         "OOMPolicy=kill needs systemd 253 or later for a scope (this is %d)", version);
                        r = 0;
                } else if (mode == CGROUP_MODE_SYSTEMD) {
                        log_error_errno(r, "Cgroups=systemd, but %s", why.msg);
                        cgroup_setup_free(s);
                        return r;
                } else
                        snprintf(s->why_no_cgroup, sizeof s->why_no_cgroup, "%.255s", why.msg);
        } else if (mode == CGROUP_MODE_CGROUPFS || mode == CGROUP_MODE_AUTO) {
                r = setup_cgroupfs(s, &why);
                if (r >= 0)
                        s->backend = CGROUP_MODE_CGROUPFS;
                else if (mode == CGROUP_MODE_CGROUPFS) {
                        log_error_errno(r, "Cgroups=cgroupfs, but %s", why.msg);
                        cgroup_setup_free(s);
                        return r;
                } else
                        snprintf(s->why_no_cgroup, sizeof s->why_no_cgroup, "%.255s", why.msg);
        }
        if (s->backend == CGROUP_MODE_NO)
                for (CgroupController c = 0; c < _CONTROLLER_MAX; c++)
                        snprintf(s->why_no_limits[c], sizeof s->why_no_limits[c], "rockers get no cgroup of their own: %s",
                                 s->why_no_cgroup);
        if (!s->oom_group && !s->why_no_oom_group[0])
                snprintf(s->why_no_oom_group, sizeof s->why_no_oom_group, "%.150s",
                         s->why_no_limits[CONTROLLER_MEMORY]);
        log_setup(s);
        *ret = s;
        return 0;
}

CgroupSetup *cgroup_setup_free(CgroupSetup *s) {
        if (!s)
                return NULL;
        cgroup_systemd_free(s->systemd);
        safe_close(s->root_fd);
        safe_close(s->base_fd);
        free(s->base);
        free(s);
        return NULL;
}

/* ---- the cgroupfs backend --------------------------------------------- */

/* Writes lim into the cgroup at fd; a limit whose controller is missing is
 * skipped (the caller checked it is allowed to be). */
static int apply_limits(const CgroupSetup *s, int fd, const CgroupLimits *lim, RkError *err) {
        for (CgroupLimitKey k = 0; k < _CGROUP_LIMIT_MAX; k++) {
                static const char *const files[_CGROUP_LIMIT_MAX] = {
                        [CGROUP_MEMORY_MAX] = "memory.max", [CGROUP_MEMORY_HIGH] = "memory.high",
                        [CGROUP_MEMORY_SWAP_MAX] = "memory.swap.max", [CGROUP_TASKS_MAX] = "pids.max",
                        [CGROUP_CPU_WEIGHT] = "cpu.weight", [CGROUP_CPU_QUOTA] = "cpu.max",
                        [CGROUP_IO_WEIGHT] = "io.weight", [CGROUP_OOM_POLICY] = "memory.oom.group",
                };
                uint64_t v = lim->value[k];
                char text[64];
                int r;

                if (!(lim->set & (1U << k)) || !s->controller[limit_controller[k]] ||
                    (k == CGROUP_OOM_POLICY && !s->oom_group))
                        continue;
                if (k == CGROUP_OOM_POLICY)
                        snprintf(text, sizeof text, "%d", v == CGROUP_OOM_KILL);
                else if (k == CGROUP_CPU_QUOTA)
                        /* per second → per 100 ms period, the kernel's default */
                        snprintf(text, sizeof text, "%" PRIu64 " 100000", v / 10 ? v / 10 : 1);
                else if (k == CGROUP_IO_WEIGHT)
                        snprintf(text, sizeof text, "default %" PRIu64, v);
                else if (v == CGROUP_INFINITY)
                        snprintf(text, sizeof text, "max");
                else
                        snprintf(text, sizeof text, "%" PRIu64, v);
                r = cgroup_write_at(fd, files[k], text);
                if (r < 0)
                        return rk_error(err, r, "%s=: cannot write \"%s\" to %s: %s", limit_names[k], text,
                                        files[k], strerror(-r));
        }
        return 0;
}

int cgroup_create(CgroupSetup *s, int32_t app_id, const char *guard_name, const CgroupLimits *lim,
                  bool best_effort, char **ret_path, int *ret_fd, RkError *err) {
        _cleanup_close_ int fd = -EBADF;
        char name[64], *path;
        int r;

        if (s->backend != CGROUP_MODE_CGROUPFS)
                return -EOPNOTSUPP;
        (void) best_effort;  /* apply_limits() skips what cannot be applied */
        cgroup_rocker_name(app_id, guard_name, name, sizeof name);
        /* A leftover of a rocker of the same name cannot exist (the name is
         * new, and unique among the live): EEXIST is an error too. */
        if (mkdirat(s->base_fd, name, 0755) < 0) {
                r = negative_errno();
                return rk_error(err, r, "cannot create the cgroup %s%s%s%s: %s", s->root, s->base,
                                strcmp(s->base, "/") ? "/" : "", name, strerror(-r));
        }
        fd = openat(s->base_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                r = negative_errno();
                (void) unlinkat(s->base_fd, name, AT_REMOVEDIR);
                return rk_error(err, r, "cannot open the cgroup %s: %s", name, strerror(-r));
        }
        r = apply_limits(s, fd, lim, err);
        if (r < 0) {
                (void) unlinkat(s->base_fd, name, AT_REMOVEDIR);
                return r;
        }
        if (asprintf(&path, "%s%s%s", s->base, strcmp(s->base, "/") ? "/" : "", name) < 0) {
                (void) unlinkat(s->base_fd, name, AT_REMOVEDIR);
                return -ENOMEM;
        }
        *ret_path = path;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int cgroup_scope_start(CgroupSetup *s, int32_t app_id, const char *guard_name, pid_t pid, const CgroupLimits *lim,
                       bool best_effort, CgroupScopeDone done, void *userdata, CgroupScopeJob **ret, RkError *err) {
        char name[64];

        (void) best_effort;  /* only what the controllers allow is asked for */
        if (s->backend != CGROUP_MODE_SYSTEMD)
                return -EOPNOTSUPP;
        CgroupLimits asked = *lim;

        if (!s->oom_group)
                asked.set &= ~(1U << CGROUP_OOM_POLICY);  /* best effort, or continue: the default */
        cgroup_rocker_name(app_id, guard_name, name, sizeof name);
        return cgroup_systemd_start(s->systemd, name, pid, &asked, s->controller, limit_controller, done, userdata,
                                    ret, err);
}

bool cgroup_setup_uses_scopes(const CgroupSetup *s) {
        return s->backend == CGROUP_MODE_SYSTEMD;
}

/* path must be one of ours: directly under the base, named rocker-*. */
static const char *own_child(const CgroupSetup *s, const char *path) {
        size_t n = strlen(s->base);
        const char *name;

        if (strcmp(s->base, "/") == 0)
                name = path + 1;
        else if (!strncmp(path, s->base, n) && path[n] == '/')
                name = path + n + 1;
        else
                return NULL;
        if (strncmp(name, "rocker-", 7) != 0 || strchr(name, '/'))
                return NULL;
        return name;
}

int cgroup_remove(CgroupSetup *s, const char *path) {
        const char *name;

        if (s->backend != CGROUP_MODE_CGROUPFS || !path)
                return 0;
        name = own_child(s, path);
        if (!name)
                return -EINVAL;
        if (unlinkat(s->base_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return negative_errno();
        return 0;
}

void cgroup_usage(const CgroupSetup *s, const char *path, int64_t *ret_memory, int64_t *ret_cpu_usec) {
        _cleanup_close_ int fd = -EBADF;
        char buf[1024], *p;

        *ret_memory = *ret_cpu_usec = -1;
        if (s->backend == CGROUP_MODE_NO || !path || path[0] != '/')
                return;
        fd = path[1] ? openat(s->root_fd, path + 1, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
                     : fcntl(s->root_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return;
        if (read_file_at(fd, "memory.current", buf, sizeof buf) > 0)
                *ret_memory = strtoll(buf, NULL, 10);
        if (read_file_at(fd, "cpu.stat", buf, sizeof buf) > 0 && (p = strstr(buf, "usage_usec ")))
                *ret_cpu_usec = strtoll(p + 11, NULL, 10);
}
