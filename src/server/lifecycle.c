/* SPDX-License-Identifier: MIT */
/*
 * The life of a rocker once its guard exists, as rockerd's loop sees it:
 * recorded (rocker_save()), killed, released or freed; the guard's reports
 * (on_guard_status()) and exit (on_guard_exit()), a spawned app's exit; a
 * rocker whose overlays outlive it lingers until their inotify watches say
 * they are gone; requests waiting for a dying holder of their data dir poll
 * its teardown (on_teardown_poll()) and go on when it is over.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "bus.h"
#include "cgroup.h"
#include "guard.h"
#include "image.h"
#include "log.h"
#include "macro.h"
#include "manager-internal.h"
#include "overlaywatch.h"
#include "proto.h"
#include "registry.h"
#include "spawn.h"
#include "state.h"
#include "util.h"

/* While a relaunch waits for a dying holder, how often it looks whether the
 * holder's processes have all exited already (its pidfd fires only once
 * every process of its PID namespace has been reaped, which a launcher that
 * has not waitpid()ed its old app yet delays): rocker_exited_unreaped(). */
#define TEARDOWN_POLL_USEC (10 * 1000ULL)

LogFields rocker_fields(const Rocker *r) {
        LogFields f = LOG_FIELDS_NONE;

        f.app_id = r->plan.app_id;
        f.has_app_id = true;
        f.guard_name = r->name;
        f.guard_pid = r->pid;
        if (r->conn) {
                f.peer_pid = r->conn->peer.pid;
                f.peer_uid = (int) r->conn->peer.uid;
        }
        return f;
}

void rocker_kill(Rocker *r, const char *why) {
        if (r->killed)
                return;
        log_rocker(LOG_INFO, r, "rocker %s (guard pid %d): killing, %s", r->name,
                   (int) r->pid, why);
        if (pidfd_send_signal(r->pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
                log_error_errno(errno, "rocker %s: cannot kill guard pid %d: %m", r->name, (int) r->pid);
        r->killed = true;
}

int rocker_save(Rocker *r) {
        StateRecord rec = {
                .pid = r->pid,
                .starttime = r->starttime,
                .claimed = r->state == ROCKER_RUNNING,
                .app_id = r->plan.app_id,
                .uid = r->plan.uid,
                .gid = r->plan.gid,
                .pkg_path = r->plan.pkg_path,
                .exec_dir = r->plan.exec_dir,
                .data_dir = r->plan.data_dir,
                .cgroup = r->cgroup,
                .owner = r->owner_uid,
        };
        int k;

        memcpy(rec.name, r->name, sizeof rec.name);
        k = state_save(r->manager->cfg.state_dir, &rec);
        if (k < 0)
                log_warning_errno(k, "rocker %s: cannot save its state (a restarted rockerd would not know it): %m",
                                  r->name);
        return k;
}

/* Forgets r; its state record stays when keep_state (rockerd stops, the
 * rocker lives on and the next rockerd adopts it). */
void rocker_release(Rocker *r, bool keep_state) {
        Manager *m = r->manager;
        int k;

        if (!keep_state && !r->lingering) {  /* a lingering one's name may be a new rocker's now */
                state_remove(m->cfg.state_dir, r->name);
                /* its proxy ended with the guard (its sync pipe closed) */
                k = bus_proxy_remove_dir(m->cfg.state_dir, r->name);
                if (k < 0)
                        log_warning_errno(k, "rocker %s: cannot remove its session bus dir: %m", r->name);
        }
        cgroup_scope_job_cancel(r->scope_job);
        if (!keep_state && r->cgroup) {
                /* Its processes are all gone and reaped (the guard's pidfd
                 * fires only then): nothing can hold the cgroup. */
                k = cgroup_remove(m->cgroups, r->cgroup);
                if (k < 0)
                        log_warning_errno(k, "rocker %s: cannot remove its cgroup %s: %m", r->name, r->cgroup);
        }
        free(r->cgroup);
        registry_remove(r->lingering ? &m->lingering : &m->registry, r);
        overlay_watch_remove(m->inotify_fd, r->overlay_wds, r->n_overlays_alive ? PROTO_OVERLAY_MAX : 0);
        sd_event_source_disable_unref(r->pidfd_source);
        sd_event_source_disable_unref(r->status_source);
        sd_event_source_disable_unref(r->app_source);
        safe_close(r->app_pidfd);  /* an app still running outlives a stopping rockerd */
        if (r->spawner)
                r->spawner->spawned = NULL;
        safe_close(r->pidfd);
        safe_close(r->status_fd);
        image_release(r->image);
        plan_done(&r->plan);
        free(r);
        manager_status(m);
        manager_fd_freed(m);
}

void rocker_free(Rocker *r) {
        rocker_release(r, false);
}

/* r's guard has exited, but not every overlay of it is gone: a file in one
 * is held open outside the rocker (an fd its app passed out over a shared
 * socket, say). A relaunch on its data dir would put a second overlay on a
 * live upper dir, so the data dir stays in use until the last one goes
 * (on_overlay_watch()). r leaves the registry (it is not live: not listed,
 * not counted against MaxRockers) for the lingering list; its PID is free
 * for reuse and is not named any more. */
void rocker_linger(Rocker *r) {
        Manager *m = r->manager;

        log_rocker(LOG_WARNING, r, "rocker %s ended, but %zu of its overlays live on: files in them are held open "
                   "outside the rocker; its data dir %s stays in use until they are closed",
                   r->name, r->n_overlays_alive, r->plan.data_dir);
        state_remove(m->cfg.state_dir, r->name);
        registry_remove(&m->registry, r);
        registry_add(&m->lingering, r);
        r->lingering = true;
        r->mounts_gone = true;
        r->pidfd_source = sd_event_source_disable_unref(r->pidfd_source);
        r->status_source = sd_event_source_disable_unref(r->status_source);
        r->pidfd = safe_close(r->pidfd);
        r->status_fd = safe_close(r->status_fd);
        r->image = image_release(r->image);
        manager_status(m);
        manager_fd_freed(m);
}

static Rocker *find_watch(Registry *reg, int wd, size_t *ret_i) {
        LIST_FOREACH(rockers, r, reg->rockers)
                for (size_t i = 0; i < PROTO_OVERLAY_MAX && r->n_overlays_alive > 0; i++)
                        if (r->overlay_wds[i] == wd) {
                                *ret_i = i;
                                return r;
                        }
        return NULL;
}

/* Reads the overlay watches' events and counts the overlays gone. Does
 * nothing else, so that it may run in the middle of another handler.
 * True if an overlay went. */
bool read_overlay_watches(Manager *m) {
        union {
                struct inotify_event ev;
                char buf[4096];
        } u;
        bool gone = false;
        ssize_t n;

        for (;;) {
                n = read(m->inotify_fd, u.buf, sizeof u.buf);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return gone;  /* EAGAIN: all read */
                for (ssize_t off = 0; off + (ssize_t) sizeof(struct inotify_event) <= n;) {
                        struct inotify_event ev;
                        Rocker *r;
                        size_t i;

                        memcpy(&ev, u.buf + off, sizeof ev);
                        off += (ssize_t) (sizeof ev + ev.len);
                        if (ev.mask & IN_Q_OVERFLOW)
                                /* 16384 events by default, two per overlay
                                 * gone: not seen in practice. Lost events
                                 * leave data dirs in use until rockerd
                                 * restarts: errs towards refusing. */
                                log_error("the overlay watch queue overflowed: some data dirs may stay in use");
                        if (!(ev.mask & IN_IGNORED))
                                continue;
                        r = find_watch(&m->registry, ev.wd, &i);
                        if (!r)
                                r = find_watch(&m->lingering, ev.wd, &i);
                        if (!r)
                                continue;  /* removed by us */
                        r->overlay_wds[i] = -1;
                        r->n_overlays_alive--;
                        gone = true;
                }
        }
}

/* Requests that waited for r go on. */
void release_waiters(Manager *m, const Rocker *r) {
        LIST_FOREACH(conns, c, m->conns)
                if (c->waiting_for == r)
                        c->waiting_for = NULL;
}

/* Starts the requests no longer waiting for a holder. */
static void start_released(Manager *m) {
        LIST_FOREACH_SAFE(conns, c, next, m->conns) {
                /* (one with a worker is checking its paths or building) */
                if (c->has_plan && !c->waiting_for && !c->rocker && !c->done && !c->worker)
                        conn_start(c);
        }
}

/* Frees the data dirs whose last overlay is gone: of ended rockers, and of
 * dying ones already seen past their exit (rocker_exited_unreaped()). */
void act_on_gone_overlays(Manager *m) {
        LIST_FOREACH_SAFE(rockers, r, next, m->lingering.rockers) {
                if (r->n_overlays_alive > 0)
                        continue;
                log_rocker(LOG_INFO, r, "rocker %s: its last overlay held open from outside is gone; data dir %s is free",
                           r->name, r->plan.data_dir);
                release_waiters(m, r);
                rocker_free(r);
        }
        LIST_FOREACH(rockers, r, m->registry.rockers)
                if (r->mounts_gone && r->n_overlays_alive == 0)
                        release_waiters(m, r);
        start_released(m);
}

int on_overlay_watch(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;

        (void) s;
        (void) fd;
        (void) revents;
        if (read_overlay_watches(m))
                act_on_gone_overlays(m);
        return 0;
}

/* systemd moved the guard into its scope (or could not): let it build. */
void on_scope_done(int error, const char *text, void *userdata) {
        Rocker *r = userdata;
        Conn *c = r->conn;
        char go = 'g';
        int k;

        r->scope_job = NULL;
        if (error == 0) {
                k = cgroup_of_pid(r->pid, &r->cgroup);
                if (k < 0 || !cgroup_path_is_rockers(r->cgroup, r->name)) {
                        error = k < 0 ? k : -EIO;
                        text = "the guard is not in its scope";
                        free(r->cgroup);
                        r->cgroup = NULL;
                }
        }
        if (error == 0 && send(r->status_fd, &go, 1, MSG_NOSIGNAL) != 1) {
                error = negative_errno();
                text = "cannot tell the guard to go on";
        }
        if (error < 0) {
                log_rocker(LOG_ERR, r, "rocker %s: %s", r->name, text ? text : strerror(-error));
                rocker_kill(r, "it has no cgroup");
                if (c) {
                        c->rocker = NULL;
                        r->conn = NULL;
                        conn_fail(c, "%s", text ? text : strerror(-error));
                }
                return;
        }
        (void) rocker_save(r);
}

/* How long a request for r's data dir may wait for r's teardown: the
 * configured wait, plus what is left of r's grace if it is stopping. */
static uint64_t holder_wait_usec(const Manager *m, const Rocker *r) {
        uint64_t now = now_usec(), grace = 0;

        if (r->stopping && r->stop_deadline_usec > now)
                grace = r->stop_deadline_usec - now;
        else if (!r->stopping && !r->killed)
                grace = r->plan.stop_timeout_usec;  /* a stop signal still pending */
        return m->cfg.teardown_wait_usec + grace;
}

static int on_teardown_poll(sd_event_source *s, uint64_t usec, void *userdata) {
        Conn *c = userdata;
        Rocker *holder = c->waiting_for;

        (void) usec;
        if (!holder || holder->mounts_gone) {
                /* Its overlays' watches decide now (act_on_gone_overlays()). */
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                return 0;
        }
        if (rocker_exited_unreaped(holder->pidfd, holder->pid, holder->pidns_ino, holder->mntns_ino,
                                   holder->mntns)) {
                holder->mounts_gone = true;
                (void) sd_event_source_set_enabled(s, SD_EVENT_OFF);
                (void) read_overlay_watches(c->m);
                if (holder->n_overlays_alive > 0) {
                        log_debug("rocker %s: exited but for a zombie its launcher has not reaped; %zu of its "
                                  "overlays live on", holder->name, holder->n_overlays_alive);
                        act_on_gone_overlays(c->m);  /* another's may have gone */
                        return 0;
                }
                log_debug("rocker %s: exited but for a zombie its launcher has not reaped; %s is free",
                          holder->name, holder->plan.data_dir);
                act_on_gone_overlays(c->m);  /* starts c */
                return 0;
        }
        /* On failure the pidfd and the deadline still end the wait. */
        if (sd_event_source_set_time_relative(s, TEARDOWN_POLL_USEC) >= 0)
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

/* The request c waits for its data dir's holder, now seen ending: for its
 * pidfd (on_guard_exit) or its exit but for unreaped zombies
 * (on_teardown_poll), within the configured wait and its grace. */
void conn_wait_teardown(Conn *c) {
        Manager *m = c->m;

        c->holder_dying = true;
        (void) conn_set_deadline(c, holder_wait_usec(m, c->waiting_for));
        if (c->poll)
                (void) (sd_event_source_set_time_relative(c->poll, TEARDOWN_POLL_USEC) < 0 ||
                        sd_event_source_set_enabled(c->poll, SD_EVENT_ONESHOT) < 0);
        else
                (void) sd_event_add_time_relative(m->event, &c->poll, CLOCK_MONOTONIC, TEARDOWN_POLL_USEC, 0,
                                                  on_teardown_poll, c);
}

/* After its ready report, a guard's only message says it stops gracefully;
 * then EOF when it exits. */
static void rocker_on_status_after_ready(Rocker *r, const GuardReport *rep, ssize_t n) {
        Manager *m = r->manager;

        if (n != (ssize_t) sizeof *rep || rep->state != GUARD_REPORT_STOPPING || r->stopping) {
                r->status_source = sd_event_source_disable_unref(r->status_source);
                r->status_fd = safe_close(r->status_fd);
                manager_fd_freed(m);
                return;
        }
        r->stopping = true;
        r->stop_deadline_usec = now_usec() + (uint64_t) rep->stop_grace_ms * 1000ULL;
        log_rocker(LOG_INFO, r, "rocker %s (guard pid %d): stopping, SIGTERM sent to its processes, grace %.3fs",
                   r->name, (int) r->pid, (double) rep->stop_grace_ms / 1000.0);
        /* Requests for its data dir that saw it alive wait for it now. */
        LIST_FOREACH(conns, c, m->conns)
                if (c->waiting_for == r)
                        conn_wait_teardown(c);
}

int on_guard_status(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Rocker *r = userdata;
        Conn *c = r->conn;
        GuardReport rep = {};
        ssize_t n;

        (void) revents;
        n = recv(fd, &rep, sizeof rep, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (r->state != ROCKER_BUILDING) {
                rocker_on_status_after_ready(r, &rep, n);
                return 0;
        }
        if (n != (ssize_t) sizeof rep || rep.state != GUARD_REPORT_READY) {
                r->status_source = sd_event_source_disable_unref(s);
                r->status_fd = safe_close(r->status_fd);
                if (n != (ssize_t) sizeof rep || !rk_error_set(&rep.err))
                        (void) rk_error(&rep.err, EPIPE, "the guard died while building the rocker");
                rep.err.msg[sizeof rep.err.msg - 1] = '\0';
                log_error_errno(rep.err.code, "rocker %s: build failed: %s", r->name, rep.err.msg);
                rocker_kill(r, "its build failed");
                if (c) {
                        c->rocker = NULL;
                        r->conn = NULL;
                        conn_fail(c, "build failed: %s", rep.err.msg);
                }
                return 0;
        }
        if (!c) {
                rocker_kill(r, "its client left while it was built");
                return 0;
        }

        ProtoReply reply = { .success = 1, .guard_pid = r->pid, .user_namespaces = r->plan.allow_user_namespaces };
        RkError err = {};
        int k;

        /* Before the client hears of it, so before any untrusted process
         * exists in the rocker: its overlays' liveness is what frees its
         * data dir, whatever holds them. Unwatched, it must not run. */
        k = overlay_watch_add(r->manager->inotify_fd, r->pid, r->pidfd, &r->plan, r->overlay_wds, &err);
        if (k < 0) {
                log_error_errno(k, "rocker %s: %s", r->name, err.msg);
                rocker_kill(r, "its overlays cannot be watched");
                c->rocker = NULL;
                r->conn = NULL;
                (void) rk_error_wrap(&err, "build failed");
                conn_fail(c, "%s", err.msg);
                return 0;
        }
        r->n_overlays_alive = r->plan.n_overlays;
        if (c->is_spawn) {
                conn_spawn_app(c, r);
                return 0;
        }

        memcpy(reply.guard_name, r->name, sizeof reply.guard_name);
        k = conn_send(c, &reply, r->pidfd);
        if (k < 0) {
                log_warning_errno(k, "rocker %s: cannot send the reply to pid %d: %m", r->name, (int) c->peer.pid);
                c->rocker = NULL;
                r->conn = NULL;
                rocker_kill(r, "its client could not be told");
                c = conn_free(c);
                return 0;
        }
        c->done = true;
        r->state = ROCKER_UNCLAIMED;
        r->mntns = pid_mntns(r->pid);
        r->mntns_ino = pid_mntns_ino(r->pid);
        (void) conn_set_deadline(c, c->m->cfg.claim_timeout_usec);
        manager_status(c->m);
        log_rocker(LOG_INFO, r, "rocker %s started: guard pid %d, app %d, uid %u gid %u, image %s, data dir %s, %.1f ms",
                 r->name, (int) r->pid, (int) r->plan.app_id, (unsigned) r->plan.uid, (unsigned) r->plan.gid,
                 r->plan.pkg_path, r->plan.data_dir, (double) (now_usec() - r->started_usec) / 1000.0);
        return 0;
}

int on_guard_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Rocker *r = userdata;
        Manager *m = r->manager;
        siginfo_t si = {};

        (void) s;
        (void) fd;
        (void) revents;
        /* The guard's report and its exit can become readable in the same
         * loop iteration, in either order: a failed build's report (already
         * sent when the guard exited) is read first, so that the client
         * gets the reason rather than "the guard died". */
        if (r->status_source && r->status_fd >= 0)
                (void) on_guard_status(r->status_source, r->status_fd, EPOLLIN, r);
        if (r->adopted) {
                /* Not our child: its parent reaps it; a readable pidfd is
                 * the exit. */
                log_rocker(LOG_INFO, r, "rocker %s (guard pid %d, app %d, adopted) ended",
                           r->name, (int) r->pid,
                         (int) r->plan.app_id);
        } else if (waitid(P_PIDFD, (id_t) r->pidfd, &si, WEXITED | WNOHANG) < 0) {
                /* Cannot happen to our unreaped child; should it, the
                 * level-triggered pidfd must not spin the loop: the
                 * rocker is taken for ended. */
                log_warning_errno(errno, "rocker %s: waitid: %m", r->name);
        } else if (si.si_pid == 0)
                return 0;  /* not exited yet */
        else if (si.si_code == CLD_EXITED && r->stopping)
                log_rocker(LOG_INFO, r, "rocker %s (guard pid %d, app %d) ended: stopped%s after %.3fs",
                           r->name, (int) r->pid, (int) r->plan.app_id,
                           si.si_status == GUARD_EXIT_STOP_FORCED ? ", what was left SIGKILLed after the grace period" :
                                                                    " gracefully",
                           (double) (now_usec() - r->started_usec) / 1e6);
        else if (si.si_code == CLD_EXITED)
                log_rocker(LOG_INFO, r, "rocker %s (guard pid %d, app %d) ended: guard exit status %d after %.3fs",
                           r->name, (int) r->pid, (int) r->plan.app_id, si.si_status,
                           (double) (now_usec() - r->started_usec) / 1e6);
        else
                log_rocker(LOG_INFO, r, "rocker %s (guard pid %d, app %d) ended: %s after %.3fs",
                           r->name, (int) r->pid,
                         (int) r->plan.app_id, strsignal(si.si_status),
                         (double) (now_usec() - r->started_usec) / 1e6);

        if (r->conn) {
                Conn *c = r->conn;
                c->rocker = NULL;
                r->conn = NULL;
                if (!c->done)
                        conn_fail(c, "the guard died while building the rocker");
        }
        Conn *waiter = r->spawner;
        ProtoReply last = { .success = 1, .guard_pid = r->pid, .app_pid = r->app_pid,
                            .has_wait_status = r->app_exited, .wait_status = r->app_wstatus };
        memcpy(last.guard_name, r->name, sizeof last.guard_name);
        if (waiter) {
                waiter->spawned = NULL;
                r->spawner = NULL;
        }
        /* Its overlays went with its mount namespace, before its exit
         * completed, unless something outside holds them: their events are
         * queued by now. */
        (void) read_overlay_watches(m);
        if (r->n_overlays_alive > 0)
                rocker_linger(r);  /* requests waiting for it wait on */
        else {
                /* Requests waiting for this data dir go on; the holder is gone. */
                release_waiters(m, r);
                rocker_free(r);
        }
        act_on_gone_overlays(m);
        if (waiter)
                conn_spawn_report_exit(waiter, &last);
        return 0;
}

/* The spawned app has exited: its status is kept for the waiting client,
 * and the rocker ends with it (its other processes too). */
int on_app_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Rocker *r = userdata;
        siginfo_t si = {};

        (void) s;
        (void) revents;
        if (waitid(P_PIDFD, (id_t) fd, &si, WEXITED | WNOHANG) < 0)
                log_warning_errno(errno, "rocker %s: waitid on its app: %m", r->name);
        else if (si.si_pid == 0)
                return 0;
        else {
                r->app_exited = true;
                r->app_wstatus = spawn_wait_status(&si);
        }
        r->app_source = sd_event_source_disable_unref(r->app_source);
        r->app_pidfd = safe_close(r->app_pidfd);
        log_rocker(LOG_INFO, r, "rocker %s: app pid %d exited (wait status 0x%x)", r->name, (int) r->app_pid,
                   (unsigned) r->app_wstatus);
        rocker_kill(r, "its spawned app exited");
        manager_fd_freed(r->manager);
        return 0;
}
