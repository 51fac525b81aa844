/* SPDX-License-Identifier: MIT */
/*
 * The systemd backend: one transient scope per rocker, asked for over the
 * system bus like machined and systemd-run --scope do. Everything is
 * asynchronous (rockerd's loop never blocks): StartTransientUnit queues a
 * start job whose end comes as a JobRemoved signal, which systemd sends to
 * the job's requester and to subscribers. The guard waits on its status
 * socket meanwhile (builder_spawn()), so nothing of the rocker runs outside
 * the scope.
 *
 * Limits are unit properties, so systemd owns the cgroup files; nothing here
 * writes into the scope. OOMPolicy= on a scope needs systemd 253.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "cgroup-internal.h"
#include "log.h"
#include "list.h"
#include "macro.h"

struct CgroupScopeJob {
        LIST_FIELDS(CgroupScopeJob, jobs);
        CgroupSystemd *sd;
        sd_bus_slot *call;
        char *job_path;          /* once the call's reply came */
        CgroupScopeDone done;
        void *userdata;
        char unit[96];
};

struct CgroupSystemd {
        sd_event *event;
        sd_bus *bus;
        bool direct;             /* systemd's private socket, no bus daemon */
        sd_bus_slot *match;
        LIST_HEAD(CgroupScopeJob, jobs);
};

bool cgroup_systemd_available(void) {
        return sd_booted() > 0;
}

static void job_free(CgroupScopeJob *j) {
        LIST_REMOVE(jobs, j->sd->jobs, j);
        sd_bus_slot_unref(j->call);
        free(j->job_path);
        free(j);
}

void cgroup_scope_job_cancel(CgroupScopeJob *j) {
        if (j)
                job_free(j);
}

static void job_finish(CgroupScopeJob *j, int error, const char *text) {
        CgroupScopeDone done = j->done;
        void *userdata = j->userdata;

        job_free(j);
        done(error, text, userdata);
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        CgroupSystemd *sd = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        (void) ret_error;
        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        LIST_FOREACH(jobs, j, sd->jobs)
                if (j->job_path && !strcmp(j->job_path, path)) {
                        char text[160];

                        if (!strcmp(result, "done")) {
                                job_finish(j, 0, NULL);
                                return 0;
                        }
                        snprintf(text, sizeof text, "systemd could not start the scope %s: job %s", j->unit, result);
                        job_finish(j, -EIO, text);
                        return 0;
                }
        return 0;
}

static int on_start_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        CgroupScopeJob *j = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *path;
        char text[256];

        (void) ret_error;
        j->call = sd_bus_slot_unref(j->call);
        if (e) {
                snprintf(text, sizeof text, "systemd refused the scope %s: %s", j->unit, e->message ? e->message : e->name);
                job_finish(j, -sd_bus_error_get_errno(e) ?: -EIO, text);
                return 0;
        }
        if (sd_bus_message_read(m, "o", &path) < 0 || !(j->job_path = strdup(path))) {
                snprintf(text, sizeof text, "systemd's reply for the scope %s is malformed", j->unit);
                job_finish(j, -EBADMSG, text);
        }
        return 0;
}

/* (Re)connects: systemd's private socket first (as root, like systemctl:
 * it needs no D-Bus daemon, which a minimal system lacks), else the system
 * bus; then watches the end of jobs. 0, or -errno with err set. */
static int bus_connect(CgroupSystemd *sd, RkError *err) {
        int r;

        sd->match = sd_bus_slot_unref(sd->match);
        sd->bus = sd_bus_flush_close_unref(sd->bus);
        r = sd_bus_new(&sd->bus);
        if (r >= 0)
                r = sd_bus_set_address(sd->bus, "unix:path=/run/systemd/private");
        if (r >= 0)
                r = sd_bus_start(sd->bus);
        sd->direct = r >= 0;
        if (r < 0) {
                sd->bus = sd_bus_flush_close_unref(sd->bus);
                r = sd_bus_open_system(&sd->bus);
        }
        if (r < 0) {
                return rk_error(err, r, "cannot reach systemd (/run/systemd/private, or the system bus): %s",
                                strerror(-r));
        }
        r = sd_bus_attach_event(sd->bus, sd->event, SD_EVENT_PRIORITY_NORMAL);
        /* A direct connection's messages carry no sender: matching on it
         * would drop every signal (as in systemd's bus-wait-for-jobs.c). */
        if (r >= 0)
                r = sd_bus_match_signal_async(sd->bus, &sd->match, !sd->direct ?
                                              "org.freedesktop.systemd1" : NULL,
                                              "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                              "JobRemoved", on_job_removed, NULL, sd);
        /* The requester of a job hears of its end anyway; subscribing makes
         * sure of it on every version. */
        if (r >= 0)
                r = sd_bus_call_method_async(sd->bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                             "org.freedesktop.systemd1.Manager", "Subscribe", NULL, NULL, NULL);
        if (r < 0) {
                return rk_error(err, r, "cannot watch systemd's jobs: %s", strerror(-r));
        }
        return 0;
}

int cgroup_systemd_new(void *event, CgroupSystemd **ret, RkError *err) {
        CgroupSystemd *sd = calloc(1, sizeof *sd);
        int r;

        if (!sd)
                return rk_error(err, ENOMEM, "out of memory");
        sd->event = sd_event_ref(event);
        r = bus_connect(sd, err);
        if (r < 0) {
                cgroup_systemd_free(sd);
                return r;
        }
        *ret = sd;
        return 0;
}

void cgroup_systemd_free(CgroupSystemd *sd) {
        if (!sd)
                return;
        while (sd->jobs)
                job_free(sd->jobs);
        sd_bus_slot_unref(sd->match);
        sd_bus_flush_close_unref(sd->bus);
        sd_event_unref(sd->event);
        free(sd);
}

int cgroup_systemd_version(CgroupSystemd *sd) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        char *version = NULL;
        int r;

        /* Once, at start, before the loop runs: a blocking call is fine. */
        r = sd_bus_get_property_string(sd->bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                       "org.freedesktop.systemd1.Manager", "Version", &error, &version);
        sd_bus_error_free(&error);
        if (r < 0)
                return r;
        r = atoi(version);  /* "252.19-1~deb12u1", "v255" on some builds */
        if (r == 0 && version[0] == 'v')
                r = atoi(version + 1);
        free(version);
        return r > 0 ? r : -EBADMSG;
}

int cgroup_systemd_controllers(CgroupSystemd *sd, int root_fd, bool ret[_CONTROLLER_MAX]) {
        static const char *const names[_CONTROLLER_MAX] = { "memory", "pids", "cpu", "io" };
        char buf[512] = "";
        int fd;
        ssize_t n;

        (void) sd;
        fd = openat(root_fd, "cgroup.controllers", O_RDONLY | O_CLOEXEC);
        n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        safe_close(fd);
        if (n > 0)
                buf[n] = '\0';
        for (CgroupController c = 0; c < _CONTROLLER_MAX; c++) {
                const char *w = strstr(buf, names[c]);
                size_t len = strlen(names[c]);

                ret[c] = false;
                for (; w; w = strstr(w + len, names[c]))
                        if ((w == buf || w[-1] == ' ') && (w[len] == ' ' || w[len] == '\n' || !w[len])) {
                                ret[c] = true;
                                break;
                        }
        }
        return 0;
}

/* Appends one (sv) property. */
static int append_t(sd_bus_message *m, const char *name, uint64_t v) {
        return sd_bus_message_append(m, "(sv)", name, "t", v);
}

int cgroup_systemd_start(CgroupSystemd *sd, const char *name, pid_t pid, const CgroupLimits *lim,
                         const bool controller[_CONTROLLER_MAX], const CgroupController *limit_controller,
                         CgroupScopeDone done, void *userdata, CgroupScopeJob **ret, RkError *err) {
        sd_bus_message *m = NULL;
        CgroupScopeJob *j;
        char desc[128];
        int r;

        /* systemd re-executed (daemon-reexec) or the bus went away: the
         * jobs asked for on the old connection end by the build deadline;
         * new ones go over a new connection. */
        if (sd_bus_is_open(sd->bus) <= 0) {
                r = bus_connect(sd, err);
                if (r < 0)
                        return r;
                log_info("reconnected to systemd");
        }
        j = calloc(1, sizeof *j);
        if (!j)
                return rk_error(err, ENOMEM, "scope %s: out of memory", name);
        j->sd = sd;
        j->done = done;
        j->userdata = userdata;
        snprintf(j->unit, sizeof j->unit, "%s.scope", name);
        snprintf(desc, sizeof desc, "rocker %s", name);

        r = sd_bus_message_new_method_call(sd->bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", j->unit, "fail");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)", "Description", "s", desc, "Slice", "s",
                                          "rocker.slice", "PIDs", "au", 1, (uint32_t) pid,
                                          /* an OOM-killed (failed) scope is collected too */
                                          "CollectMode", "s", "inactive-or-failed");
        for (CgroupLimitKey k = 0; r >= 0 && k < _CGROUP_LIMIT_MAX; k++) {
                static const char *const props[_CGROUP_LIMIT_MAX] = {
                        [CGROUP_MEMORY_MAX] = "MemoryMax", [CGROUP_MEMORY_HIGH] = "MemoryHigh",
                        [CGROUP_MEMORY_SWAP_MAX] = "MemorySwapMax", [CGROUP_TASKS_MAX] = "TasksMax",
                        [CGROUP_CPU_WEIGHT] = "CPUWeight", [CGROUP_CPU_QUOTA] = "CPUQuotaPerSecUSec",
                        [CGROUP_IO_WEIGHT] = "IOWeight",
                };

                if (!(lim->set & (1U << k)) || !controller[limit_controller[k]])
                        continue;
                if (k == CGROUP_OOM_POLICY) {
                        /* continue is the default: asked only for kill, so
                         * that systemd < 253 (no OOMPolicy= on scopes)
                         * still takes every other rocker */
                        if (lim->value[k] == CGROUP_OOM_KILL)
                                r = sd_bus_message_append(m, "(sv)", "OOMPolicy", "s", "kill");
                        continue;
                }
                r = append_t(m, props[k], lim->value[k]);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r >= 0)
                r = sd_bus_call_async(sd->bus, &j->call, m, on_start_reply, j, 0);
        sd_bus_message_unref(m);
        if (r < 0) {
                (void) rk_error(err, r, "cannot ask systemd for the scope %s: %s", j->unit, strerror(-r));
                free(j);
                return r;
        }
        LIST_PREPEND(jobs, sd->jobs, j);
        *ret = j;
        return 0;
}
