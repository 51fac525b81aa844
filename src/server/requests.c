/* SPDX-License-Identifier: MIT */
/*
 * The requests that act on rockers rather than build one: a spawn's app
 * started in its new rocker and its exit status reported (issue 17,
 * spawn.c), a process spawned into a live rocker, a signal to a rocker's
 * guard, the list of live rockers. A non-root peer sees and acts on its own
 * rockers only (rocker_visible_to()).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "cgroup.h"
#include "fdpass.h"
#include "log.h"
#include "macro.h"
#include "manager-internal.h"
#include "proto.h"
#include "registry.h"
#include "spawn.h"

static void conn_list_page(Conn *c, int32_t offset);

/* Whether peer may see and end r: root any, a non-root peer its own. */
static bool rocker_visible_to(const Rocker *r, uid_t peer_uid) {
        return peer_uid == 0 || r->owner_uid == peer_uid;
}

/* The guard of a spawn request's rocker is ready: rockerd starts the app
 * in it, the rocker is claimed at once, and the connection stays open
 * for the app's exit status (conn_spawn_report_exit()). */
void conn_spawn_app(Conn *c, Rocker *r) {
        ProtoReply reply = { .success = 1, .guard_pid = r->pid };
        RkError err = {};
        int k;

        c->rocker = NULL;
        r->conn = NULL;
        k = spawn_app(r->pidfd, r->name, r->plan.uid, r->plan.gid, r->plan.allow_user_namespaces, true, &c->spawn,
                      &r->app_pid, &r->app_pidfd, &err);
        spawn_request_done(&c->spawn);  /* the app has its copies of the stdio fds */
        if (k < 0) {
                rocker_kill(r, "its app could not be started");
                (void) rk_error_wrap(&err, "spawn failed");
                return conn_fail(c, "%s", err.msg);
        }
        k = sd_event_add_io(c->m->event, &r->app_source, r->app_pidfd, EPOLLIN, on_app_exit, r);
        if (k < 0) {
                rocker_kill(r, "its app cannot be watched");  /* the app dies with it; reaped below */
                (void) waitid(P_PIDFD, (id_t) r->app_pidfd, &(siginfo_t) {}, WEXITED);
                r->app_pidfd = safe_close(r->app_pidfd);
                return conn_fail(c, "spawn failed: cannot watch the app: %s", strerror(-k));
        }
        r->state = ROCKER_RUNNING;
        if (rocker_save(r) < 0) {
                rocker_kill(r, "it could not be recorded");
                return conn_fail(c, "spawn failed: cannot record rocker %s", r->name);
        }
        reply.app_pid = r->app_pid;
        memcpy(reply.guard_name, r->name, sizeof reply.guard_name);
        k = conn_send(c, &reply, -EBADF);
        if (k < 0) {
                /* Nobody will wait for it; it runs as any detached app. */
                log_warning_errno(k, "rocker %s: cannot send the spawn reply to pid %d: %m", r->name,
                                  (int) c->peer.pid);
                conn_free(c);
                return;
        }
        c->done = true;
        c->spawned = r;
        r->spawner = c;
        /* No deadline: the client waits as long as its app runs. */
        if (c->timer)
                (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        manager_status(c->m);
        log_rocker(LOG_INFO, r, "rocker %s started for a spawn: guard pid %d, app pid %d, app %d, uid %u gid %u, "
                   "image %s, data dir %s, %.1f ms", r->name, (int) r->pid, (int) r->app_pid,
                   (int) r->plan.app_id, (unsigned) r->plan.uid, (unsigned) r->plan.gid, r->plan.pkg_path,
                   r->plan.data_dir, (double) (now_usec() - r->started_usec) / 1000.0);
}

/* The spawned rocker is gone: its app's wait status goes to the client
 * (has_wait_status is false if rockerd never reaped the app, e.g. the
 * guard was killed before it existed), then the connection closes after
 * the usual deadline. */
void conn_spawn_report_exit(Conn *c, const ProtoReply *last) {
        int k;

        k = conn_send(c, last, -EBADF);
        if (k < 0)
                log_debug_errno(k, "cannot send the exit status to pid %d: %m", (int) c->peer.pid);
        (void) conn_set_deadline(c, c->m->cfg.request_timeout_usec);
}

static int on_joined_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Conn *c = userdata;
        ProtoReply last = { .success = 1, .app_pid = c->joined_pid, .has_wait_status = 1 };
        siginfo_t si = {};
        int k;

        (void) s;
        (void) revents;
        if (waitid(P_PIDFD, (id_t) fd, &si, WEXITED | WNOHANG) < 0)
                last.has_wait_status = 0;
        else if (si.si_pid == 0)
                return 0;
        last.wait_status = spawn_wait_status(&si);
        c->joined_source = sd_event_source_disable_unref(c->joined_source);
        c->joined_pidfd = safe_close(c->joined_pidfd);
        last.guard_pid = c->joined_guard;
        memcpy(last.guard_name, c->joined_guard_name, sizeof last.guard_name);
        k = conn_send(c, &last, -EBADF);
        if (k < 0)
                log_debug_errno(k, "cannot send the exit status to pid %d: %m", (int) c->peer.pid);
        (void) conn_set_deadline(c, c->m->cfg.request_timeout_usec);
        manager_fd_freed(c->m);
        return 0;
}

/* One more process in a live rocker (rocker enter as a non-root user):
 * made by rockerd as a joined process (join.c), reaped here; its exit
 * status ends the connection. The rocker lives on. */
void conn_spawn_in(Conn *c, ProtoRequest *req) {
        Rocker *r = registry_find_name(&c->m->registry, req->guard_name);
        ProtoReply reply = { .success = 1 };
        RkError err = {};
        int k;

        c->spawn.argv = TAKE_PTR(req->argv);
        c->spawn.envp = TAKE_PTR(req->envp);
        req->n_argv = req->n_envp = 0;
        if (!r || r->pid != req->guard_pid || r->state != ROCKER_RUNNING || r->killed)
                return conn_fail(c, "spawn_in: no live rocker %.15s with guard pid %d", req->guard_name,
                                 (int) req->guard_pid);
        if (!rocker_visible_to(r, c->peer.uid))
                return conn_fail(c, "spawn_in: rocker %s is not yours (it belongs to uid %u): a non-root caller may "
                                 "only join its own rockers", r->name, (unsigned) r->owner_uid);
        if (c->peer.uid != 0 && ((uid_t) req->enter.uid != c->peer.uid || (gid_t) req->enter.gid != c->peer.gid))
                return conn_fail(c, "spawn_in: uid %d gid %d are not the caller's own (uid %u, gid %u): a non-root "
                                 "caller may only ask for its own uid and gid", (int) req->enter.uid,
                                 (int) req->enter.gid, (unsigned) c->peer.uid, (unsigned) c->peer.gid);
        if (req->enter.uid == 0 || req->enter.gid == 0)
                return conn_fail(c, "spawn_in: %s: 0 is not allowed for an app", req->enter.uid == 0 ? "uid" : "gid");
        k = spawn_app(r->pidfd, r->name, (uid_t) req->enter.uid, (gid_t) req->enter.gid,
                      r->plan.allow_user_namespaces, false, &c->spawn, &c->joined_pid, &c->joined_pidfd, &err);
        spawn_request_done(&c->spawn);
        if (k < 0) {
                (void) rk_error_wrap(&err, "spawn failed");
                return conn_fail(c, "%s", err.msg);
        }
        k = sd_event_add_io(c->m->event, &c->joined_source, c->joined_pidfd, EPOLLIN, on_joined_exit, c);
        if (k < 0) {
                (void) pidfd_send_signal(c->joined_pidfd, SIGKILL, NULL, 0);
                (void) waitid(P_PIDFD, (id_t) c->joined_pidfd, &(siginfo_t) {}, WEXITED);
                c->joined_pidfd = safe_close(c->joined_pidfd);
                return conn_fail(c, "spawn failed: cannot watch the process: %s", strerror(-k));
        }
        c->done = true;
        c->joined_guard = r->pid;
        memcpy(c->joined_guard_name, r->name, sizeof c->joined_guard_name);
        reply.guard_pid = r->pid;
        reply.app_pid = c->joined_pid;
        memcpy(reply.guard_name, r->name, sizeof reply.guard_name);
        if (c->timer)
                (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        log_rocker(LOG_INFO, r, "rocker %s: pid %d started in it for pid %d uid %u", r->name, (int) c->joined_pid,
                   (int) c->peer.pid, (unsigned) c->peer.uid);
        k = conn_send(c, &reply, -EBADF);
        if (k < 0)
                log_debug_errno(k, "cannot send the spawn reply to pid %d: %m", (int) c->peer.pid);
}

/* Signals a rocker's guard for the peer: how a non-root peer, which may not
 * signal the root guard itself, stops or kills its own rockers (a root peer
 * may use it for any). The rocker is named by guard PID and name, both
 * checked against the registry. */
void conn_signal(Conn *c, const ProtoRequest *req) {
        Rocker *r = registry_find_name(&c->m->registry, req->guard_name);
        ProtoReply reply = { .success = 1 };
        siginfo_t si = { .si_signo = req->signal, .si_code = SI_QUEUE };
        int k;

        if (!r || r->pid != req->guard_pid)
                return conn_fail(c, "signal: no live rocker %.15s with guard pid %d", req->guard_name,
                                 (int) req->guard_pid);
        if (!rocker_visible_to(r, c->peer.uid))
                return conn_fail(c, "signal: rocker %s is not yours (it belongs to uid %u): a non-root caller may only "
                                 "stop or kill its own rockers", r->name, (unsigned) r->owner_uid);
        /* The grace of a stop travels as the guard expects it from
         * ROCKER_stop_rocker(): SIGTERM queued with the milliseconds. */
        si.si_pid = getpid();
        si.si_value.sival_int = req->grace_ms;
        if (req->signal == SIGTERM && req->grace_ms >= 0)
                k = pidfd_send_signal(r->pidfd, SIGTERM, &si, 0);
        else
                k = pidfd_send_signal(r->pidfd, req->signal, NULL, 0);
        if (k < 0)
                return conn_fail(c, "signal: rocker %s: %s", r->name, strerror(errno));
        log_rocker(LOG_INFO, r, "rocker %s: signal %d sent for pid %d uid %u", r->name, (int) req->signal,
                   (int) c->peer.pid, (unsigned) c->peer.uid);
        reply.guard_pid = r->pid;
        memcpy(reply.guard_name, r->name, sizeof reply.guard_name);
        k = conn_send(c, &reply, -EBADF);
        if (k < 0)
                log_debug_errno(k, "cannot confirm the signal to pid %d: %m", (int) c->peer.pid);
        if (!c->rocker)
                (void) conn_set_deadline(c, c->m->cfg.request_timeout_usec);
}

/* One page of the live rockers, newest first; a connection may page on. A
 * page holds at most PROTO_LIST_PAGE entries, fewer when long paths would
 * push it past PROTO_MSG_MAX (the client stops at a short page... unless it
 * is told the total: it pages on while it has fewer than "total"). */
void conn_list(Conn *c, int32_t offset) {
        Manager *m = c->m;

        /* A guard that has exited is not listed, even if its pidfd event has
         * not been dispatched yet: its exit is handled first, so that a
         * client that saw the pidfd readable never finds it listed. */
        LIST_FOREACH_SAFE(rockers, r, next, m->registry.rockers) {
                struct pollfd p = { .fd = r->pidfd, .events = POLLIN };

                if (poll(&p, 1, 0) > 0 && (p.revents & POLLIN))
                        (void) on_guard_exit(r->pidfd_source, r->pidfd, p.revents, r);
        }
        conn_list_page(c, offset);
}

static void conn_list_page(Conn *c, int32_t offset) {
        Manager *m = c->m;
        ProtoRockerInfo entries[PROTO_LIST_PAGE];
        ProtoList list = { .entries = entries };
        _cleanup_free_ char *buf = NULL;
        uint64_t now = now_usec();
        int32_t i = 0;
        size_t len;
        int k;

        LIST_FOREACH(rockers, r, m->registry.rockers)
                list.total += rocker_visible_to(r, c->peer.uid);
        LIST_FOREACH(rockers, r, m->registry.rockers) {
                ProtoRockerInfo *e;

                if (list.n_entries >= PROTO_LIST_PAGE)
                        break;
                if (!rocker_visible_to(r, c->peer.uid))
                        continue;  /* a non-root peer sees its own rockers only */
                if (i++ < offset)
                        continue;
                e = &entries[list.n_entries++];
                *e = (ProtoRockerInfo) {
                        .guard_pid = r->pid,
                        .app_id = r->plan.app_id,
                        .uid = (int32_t) r->plan.uid,
                        .gid = (int32_t) r->plan.gid,
                        .age_ms = (int64_t) ((now - r->started_usec) / 1000),
                        .pkg_path = r->plan.pkg_path,
                        .exec_dir = r->plan.exec_dir,
                        .data_dir = r->plan.data_dir,
                        .cgroup = r->cgroup,
                        /* borrowed: the encoder only reads */
                        .cgroup_note = (char *) (r->cgroup ? NULL
                                     : cgroup_setup_no_cgroup_reason(m->cgroups)
                                     ? cgroup_setup_no_cgroup_reason(m->cgroups)
                                     : r->state == ROCKER_BUILDING ? "its cgroup is being set up"
                                                                   : "started without a cgroup of its own"),
                };
                cgroup_usage(m->cgroups, r->cgroup, &e->memory_bytes, &e->cpu_usec);
                if (r->cgroup && e->memory_bytes < 0)
                        e->cgroup_note = (char *) cgroup_setup_unavailable(m->cgroups,
                                                                  &(CgroupLimits) { .set = 1U << CGROUP_MEMORY_MAX });
                memcpy(e->guard_name, r->name, sizeof e->guard_name);
        }
        for (;;) {
                k = proto_encode_list_reply(&list, &buf, &len);
                if (k != -EMSGSIZE || list.n_entries <= 1)
                        break;
                list.n_entries /= 2;
        }
        if (k >= 0)
                k = fdpass_send(c->fd, buf, len, -EBADF);
        if (k < 0) {
                log_warning_errno(k, "cannot send the list to pid %d: %m", (int) c->peer.pid);
                conn_free(c);
                return;
        }
        if (!c->rocker)
                (void) conn_set_deadline(c, m->cfg.request_timeout_usec);
}
