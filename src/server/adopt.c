/* SPDX-License-Identifier: MIT */
/*
 * Adoption of the rockers of an earlier rockerd at start: each state record
 * whose guard still lives (same PID, name and start time, checked with its
 * pidfd held) becomes a live rocker again, watched by its pidfd and its
 * overlays; a record of a guard that is gone is dropped, with its cgroup.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>

#include <systemd/sd-event.h>

#include "cgroup.h"
#include "log.h"
#include "macro.h"
#include "manager-internal.h"
#include "overlaywatch.h"
#include "registry.h"
#include "state.h"
#include "util.h"

/* A record of an earlier rockerd: adopt the rocker if the record still names
 * a live guard (same PID, name and start time), else drop the record. */
void rocker_adopt(StateRecord *rec, void *userdata) {
        Manager *m = userdata;
        _cleanup_close_ int pidfd = -EBADF;
        unsigned long long starttime;
        char name[16];
        Rocker *r;
        int k;

        pidfd = pidfd_open(rec->pid, 0);
        /* Checked after the pidfd is held: if the process is still the one
         * recorded now, the pidfd is that process's (a live PID is not reused). */
        if (pidfd < 0 || proc_get_identity(rec->pid, name, &starttime) < 0 ||
            strcmp(name, rec->name) != 0 || starttime != rec->starttime) {
                log_info("rocker %s (guard pid %d) is gone: state record dropped", rec->name, (int) rec->pid);
                /* Its cgroup went unremoved with the rockerd that knew it
                 * (cgroup_remove() takes only an empty rocker-* cgroup of
                 * our subtree). */
                if (rec->cgroup && cgroup_remove(m->cgroups, rec->cgroup) == 0)
                        log_debug("rocker %s: removed its cgroup %s", rec->name, rec->cgroup);
                state_remove(m->cfg.state_dir, rec->name);
                return;
        }
        if (registry_find_name(&m->registry, rec->name) || registry_find_data_dir(&m->registry, rec->data_dir)) {
                log_warning("rocker %s: duplicate state record ignored", rec->name);
                return;
        }
        r = calloc(1, sizeof *r);
        if (!r)
                return;
        r->manager = m;
        for (size_t i = 0; i < PROTO_OVERLAY_MAX; i++)
                r->overlay_wds[i] = -1;
        memcpy(r->name, rec->name, sizeof r->name);
        r->pid = rec->pid;
        r->pidfd = TAKE_FD(pidfd);
        r->status_fd = r->app_pidfd = -EBADF;
        r->owner_uid = rec->owner;
        r->starttime = rec->starttime;
        r->adopted = true;
        r->state = ROCKER_RUNNING;
        r->mntns = pid_mntns(r->pid);
        r->mntns_ino = pid_mntns_ino(r->pid);
        r->pidns_ino = pid_pidns_ino(r->pid);  /* the identity checked above, with the pidfd held */
        r->started_usec = now_usec();
        r->plan.app_id = rec->app_id;
        r->plan.uid = rec->uid;
        r->plan.gid = rec->gid;
        r->plan.exec_dir = TAKE_PTR(rec->exec_dir);
        r->plan.pkg_path = TAKE_PTR(rec->pkg_path);
        r->plan.data_dir = TAKE_PTR(rec->data_dir);
        /* Its cgroup is where the kernel says the guard is (checked, with
         * the pidfd held, to bear the rocker's name); the record only tells
         * whether it had one. */
        if (cgroup_of_pid(r->pid, &r->cgroup) < 0 || !cgroup_path_is_rockers(r->cgroup, r->name)) {
                free(r->cgroup);
                r->cgroup = NULL;
        }
        if (rec->cgroup && (!r->cgroup || strcmp(rec->cgroup, r->cgroup) != 0))
                log_warning("rocker %s: recorded in the cgroup %s, found in %s", r->name, rec->cgroup,
                            r->cgroup ? r->cgroup : "none of its own");
        registry_add(&m->registry, r);
        k = sd_event_add_io(m->event, &r->pidfd_source, r->pidfd, EPOLLIN, on_guard_exit, r);
        if (k < 0) {
                log_error_errno(k, "rocker %s: cannot watch the adopted guard: %m", r->name);
                rocker_release(r, true);
                return;
        }
        {
                /* Its state record does not list its overlays: found from
                 * the data dir's layout (overlaywatch.h). Unwatched, it is
                 * left running, as before this check. */
                RkError err = {};
                size_t n = 0;

                k = overlay_watch_adopt(m->inotify_fd, r->pid, r->pidfd, r->plan.data_dir, r->overlay_wds,
                                        PROTO_OVERLAY_MAX, &n, &err);
                if (k < 0)
                        log_warning("rocker %s: %s; its data dir is freed when its guard exits", r->name, err.msg);
                else
                        r->n_overlays_alive = n;
        }
        if (!rec->claimed)
                /* Its client talked to the rockerd that died: nobody joined it. */
                rocker_kill(r, "it was never claimed before rockerd restarted");
        log_info("rocker %s (guard pid %d, app %d, data dir %s, cgroup %s) adopted from an earlier rockerd", r->name,
                 (int) r->pid, (int) r->plan.app_id, r->plan.data_dir, r->cgroup ? r->cgroup : "none");
}
