/* SPDX-License-Identifier: MIT */
/*
 * A client connection's state machine: its request read and decoded
 * (on_conn_io()), dispatched (conn_handle()), checked in a worker
 * (check_job(): the request's paths and image, never in the loop), its
 * deadlines (on_conn_timeout()), the ack that hands a rocker over, the reply
 * or the refusal (conn_fail()), and its end (conn_free()).
 *
 * A connection's life: accept → request (deadline) → check worker (request
 * deadline) → [wait for the dying holder of the data dir (deadline)] → build
 * worker, guard builds (build deadline) → reply with the pidfd → client joins
 * and acks (deadline) → the rocker is the client's.
 * A client that leaves before its ack takes its rocker with it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "fdpass.h"
#include "image.h"
#include "log.h"
#include "macro.h"
#include "manager-internal.h"
#include "plan.h"
#include "policy.h"
#include "proto.h"
#include "reaper.h"
#include "registry.h"
#include "spawn.h"
#include "util.h"
#include "worker.h"

static int on_conn_timeout(sd_event_source *s, uint64_t usec, void *userdata);

/* Live rockers of uid and its requests in progress besides self (each
 * holds a worker, and a rocker to come), for MaxRockersPerUser=. */
unsigned count_owned(const Manager *m, uid_t uid, const Conn *self) {
        unsigned n = 0;

        LIST_FOREACH(rockers, r, m->registry.rockers)
                n += r->owner_uid == uid;
        LIST_FOREACH(conns, c, m->conns)
                n += c != self && c->peer.uid == uid && c->has_plan && !c->rocker && !c->spawned;
        return n;
}

/* Ends what a request has going on outside the loop: its worker (killed:
 * nothing it made survives it), the image it opened, its cache reference. */
static void conn_drop_request_work(Conn *c) {
        c->worker = worker_kill(c->worker);
        c->image_fd = safe_close(c->image_fd);
        c->image = image_release(c->image);
}

Conn *conn_free(Conn *c) {
        Manager *m;

        if (!c)
                return NULL;
        m = c->m;
        if (c->worker)
                log_info("pid %d left before its rocker was built: worker pid %d killed", (int) c->peer.pid,
                         (int) worker_pid(c->worker));
        if (c->rocker) {
                /* The client went away before it joined: nobody will ever use
                 * or kill this rocker, so it must not outlive the connection. */
                c->rocker->conn = NULL;
                rocker_kill(c->rocker, "its client left before joining");
        }
        conn_drop_request_work(c);
        free(c->peer_groups);
        if (c->has_plan)
                plan_done(&c->plan);
        if (c->spawned)  /* its app runs on; nobody waits for its status */
                c->spawned->spawner = NULL;
        spawn_request_done(&c->spawn);
        safe_close(c->image_fd);
        sd_event_source_disable_unref(c->joined_source);
        if (c->joined_pidfd >= 0)  /* it runs on: reaped by the loop when it exits */
                (void) reaper_adopt(m->reaper, TAKE_FD(c->joined_pidfd));
        app_policy_done(&c->policy);
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timer);
        sd_event_source_disable_unref(c->poll);
        safe_close(c->fd);
        LIST_REMOVE(conns, m->conns, c);
        m->n_conns--;
        free(c);
        manager_fd_freed(m);
        return NULL;
}

int conn_set_deadline(Conn *c, uint64_t usec) {
        int r;

        if (!c->timer)
                return sd_event_add_time_relative(c->m->event, &c->timer, CLOCK_MONOTONIC, usec, 0,
                                                  on_conn_timeout, c);
        r = sd_event_source_set_time_relative(c->timer, usec);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

int conn_send(Conn *c, const ProtoReply *reply, int fd) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        r = proto_encode_reply(reply, &buf, &len);
        if (r < 0)
                return r;
        return fdpass_send(c->fd, buf, len, fd);
}

/* Replies with an error and logs it. The connection lingers (deadline) for
 * the client to read the reply and close. */
_printf_(2, 3)
void conn_fail(Conn *c, const char *fmt, ...) {
        ProtoReply reply = { .success = 0 };
        va_list ap;
        int r;

        va_start(ap, fmt);
        vsnprintf(reply.error, sizeof reply.error, fmt, ap);
        va_end(ap);
        {
                LogFields f = LOG_FIELDS_NONE;
                f.peer_pid = c->peer.pid;
                f.peer_uid = (int) c->peer.uid;
                if (c->has_plan) {
                        f.app_id = c->plan.app_id;
                        f.has_app_id = true;
                }
                log_struct(LOG_WARNING, &f, "request from pid %d uid %u refused: %s", (int) c->peer.pid,
                           (unsigned) c->peer.uid, reply.error);
        }
        c->done = true;
        r = conn_send(c, &reply, -EBADF);
        if (r < 0)
                log_debug_errno(r, "could not send the error to pid %d: %m", (int) c->peer.pid);
        /* The request is over: nothing of it is pending any more. */
        conn_drop_request_work(c);
        if (c->has_plan) {
                plan_done(&c->plan);
                c->has_plan = false;
        }
        c->waiting_for = NULL;
        if (c->poll)
                (void) sd_event_source_set_enabled(c->poll, SD_EVENT_OFF);
        if (!c->rocker)  /* an unclaimed rocker keeps its (longer) claim deadline */
                (void) conn_set_deadline(c, c->m->cfg.request_timeout_usec);
}

/* A job's failure r: reply->err as the callee filled it, or r's text. */
int job_fail(WorkerReply *reply, int r) {
        if (!rk_error_set(&reply->err))
                (void) rk_error(&reply->err, r, "%s", strerror(r < 0 ? -r : EIO));
        return -EBADF;
}

/* The check worker: what the host has at the request's paths (lstat, and
 * StrictModes=), and the image opened, checked and identified. Runs in a
 * child of rockerd (worker.h): a path on a hung file system blocks it, not
 * the loop. */
static int check_job(void *data, int in_fd, WorkerReply *reply) {
        Conn *c = data;
        ImageId id;
        int r, fd = -EBADF;

        (void) in_fd;
        if (c->peer.uid != 0) {
                /* A non-root peer's paths are looked at as the peer first:
                 * root's own checks below then only speak of paths it could
                 * see. Its image is the fd the peer opened: root never
                 * resolves it. */
                r = policy_check_spawn(&c->m->cfg, &c->peer, c->peer_groups, c->n_peer_groups, &c->plan,
                                       count_owned(c->m, c->peer.uid, c), &fd, &reply->err);
                if (r < 0)
                        return job_fail(reply, r);
        }
        r = plan_check_host(&c->plan, c->policy.strict_modes, &reply->err);
        if (r < 0) {
                if (c->peer.uid != 0)
                        safe_close(fd);
                return job_fail(reply, r);
        }
        if (c->peer.uid != 0) {
                fd = image_check_fd(fd, c->plan.pkg_path, &id, &reply->err);
                if (fd >= 0)
                        reply->image_untrusted = !image_fd_trusted(fd);
        } else
                /* Under an app's ImageDirs=, a symlink on the way could lead
                 * out of them: none is followed. */
                fd = image_open(c->plan.pkg_path, c->policy.n_image_dirs > 0, &id, &reply->err);
        if (fd < 0)
                return job_fail(reply, fd);
        reply->image_dev = (uint64_t) id.dev;
        reply->image_ino = (uint64_t) id.ino;
        reply->image_size = (int64_t) id.size;
        reply->image_mtime_sec = (int64_t) id.mtime.tv_sec;
        reply->image_mtime_nsec = (int64_t) id.mtime.tv_nsec;
        for (size_t i = 0; i < c->plan.n_overlays; i++) {
                reply->overlay_uid[i] = (uint32_t) c->plan.overlays[i].uid;
                reply->overlay_gid[i] = (uint32_t) c->plan.overlays[i].gid;
                reply->overlay_mode[i] = (uint32_t) c->plan.overlays[i].mode;
                reply->overlay_dev[i] = (uint64_t) c->plan.overlays[i].dev;
                reply->overlay_ino[i] = (uint64_t) c->plan.overlays[i].ino;
        }
        reply->exec_parent_dev = (uint64_t) c->plan.exec_parent_dev;
        reply->exec_parent_ino = (uint64_t) c->plan.exec_parent_ino;
        return fd;
}

static void on_check_worker_done(const WorkerReply *reply, int fd, void *userdata) {
        Conn *c = userdata;

        c->worker = NULL;
        if (rk_error_set(&reply->err) || fd < 0) {
                safe_close(fd);
                return conn_fail(c, "%s", reply->err.msg[0] ? reply->err.msg : strerror(EIO));
        }
        c->image_fd = fd;
        if (reply->image_untrusted && c->policy.image_backend != IMAGE_BACKEND_SQUASHFUSE) {
                /* The peer could have crafted it, or change it while it is
                 * mounted: its bytes are parsed by an unprivileged
                 * squashfuse, never by the kernel's squashfs driver. */
                log_info("pid %d uid %u: image %s is not root's alone: mounted with squashfuse", (int) c->peer.pid,
                         (unsigned) c->peer.uid, c->plan.pkg_path);
                c->policy.image_backend = IMAGE_BACKEND_SQUASHFUSE;
        }
        c->image_id = (ImageId) {
                .dev = (dev_t) reply->image_dev,
                .ino = (ino_t) reply->image_ino,
                .size = (off_t) reply->image_size,
                .mtime = { .tv_sec = (time_t) reply->image_mtime_sec, .tv_nsec = (long) reply->image_mtime_nsec },
        };
        for (size_t i = 0; i < c->plan.n_overlays; i++) {
                c->plan.overlays[i].uid = (uid_t) reply->overlay_uid[i];
                c->plan.overlays[i].gid = (gid_t) reply->overlay_gid[i];
                c->plan.overlays[i].mode = (mode_t) reply->overlay_mode[i] & 07777;
                c->plan.overlays[i].dev = (dev_t) reply->overlay_dev[i];
                c->plan.overlays[i].ino = (ino_t) reply->overlay_ino[i];
        }
        c->plan.exec_parent_dev = (dev_t) reply->exec_parent_dev;
        c->plan.exec_parent_ino = (ino_t) reply->exec_parent_ino;
        plan_sort_overlays(&c->plan);
        conn_start(c);
}

static void conn_handle(Conn *c, ProtoRequest *req) {
        Manager *m = c->m;
        RkError err = {};
        int k;

        if (req->kind != PROTO_SPAWN && req->kind != PROTO_SPAWN_IN && c->spawn.stdio[0] >= 0)
                return conn_fail(c, "only a spawn request may be carrying file descriptors");
        if ((req->kind == PROTO_SPAWN || req->kind == PROTO_SPAWN_IN) && c->spawn.stdio[0] < 0)
                return conn_fail(c, "spawn: the caller's stdin, stdout and stderr must come with it (SCM_RIGHTS)");
        if (req->kind == PROTO_ACK) {
                Rocker *r = c->rocker;

                if (!r || r->state != ROCKER_UNCLAIMED)
                        return conn_fail(c, "ack: no rocker of this connection waits for it");
                r->state = ROCKER_RUNNING;
                r->conn = NULL;
                c->rocker = NULL;
                /* Recorded before the client hears it: a rockerd restarted
                 * after this point adopts the rocker instead of killing it.
                 * Unrecorded, the claim is refused (the client kills it). */
                if (rocker_save(r) < 0) {
                        rocker_kill(r, "its claim could not be recorded");
                        return conn_fail(c, "ack: cannot record the claim of rocker %s", r->name);
                }
                log_debug("rocker %s claimed by pid %d", r->name, (int) c->peer.pid);
                {
                        ProtoReply reply = { .success = 1, .guard_pid = r->pid };
                        memcpy(reply.guard_name, r->name, sizeof reply.guard_name);
                        k = conn_send(c, &reply, -EBADF);
                        if (k < 0)
                                log_debug_errno(k, "rocker %s: cannot confirm the claim: %m", r->name);
                }
                (void) conn_set_deadline(c, m->cfg.request_timeout_usec);
                return;
        }
        if (req->kind == PROTO_LIST)
                return conn_list(c, req->offset);
        if (req->kind == PROTO_SIGNAL)
                return conn_signal(c, req);
        if (req->kind == PROTO_SPAWN_IN) {
                if (c->done || c->joined_pid > 0)
                        return conn_fail(c, "one spawn request per connection");
                return conn_spawn_in(c, req);
        }
        if (c->done || c->has_plan || c->rocker)
                return conn_fail(c, "one enter request per connection");
        if (req->kind == PROTO_SPAWN) {
                c->is_spawn = true;
                c->spawn.argv = TAKE_PTR(req->argv);
                c->spawn.envp = TAKE_PTR(req->envp);
                req->n_argv = req->n_envp = 0;
        }

        if (req->kind == PROTO_ENTER && c->peer.uid != 0)
                return conn_fail(c, "enter: uid %u is not root: only root may enter (join) a rocker; a non-root "
                                 "caller may only spawn (ROCKER_spawn_rocker, rocker run)", (unsigned) c->peer.uid);
        k = plan_parse_request(&req->enter, &c->plan, &err);
        if (k < 0)
                return conn_fail(c, "%s", err.msg[0] ? err.msg : strerror(-k));
        c->has_plan = true;
        app_policy_done(&c->policy);
        k = app_policy_load(&m->cfg, c->plan.app_id, &c->policy, &err);
        if (k < 0) {
                (void) rk_error_wrap(&err, "policy of app %d", (int) c->plan.app_id);
                return conn_fail(c, "%s", err.msg);
        }
        if (c->peer.uid != 0) {
                if (count_owned(m, c->peer.uid, c) >= m->cfg.max_rockers_per_user)
                        return conn_fail(c, "MaxRockersPerUser=%u: uid %u has %u live rockers (or requests in progress) already",
                                         m->cfg.max_rockers_per_user, (unsigned) c->peer.uid,
                                         count_owned(m, c->peer.uid, c));
                /* The check worker applies policy.c's user-relative rule
                 * instead of the root one. */
                c->policy.strict_modes = false;
                /* Root makes no host directory for it: what the check saw
                 * must still be there when the guard mounts on it. */
                c->plan.exec_dir_no_create = true;
                for (size_t i = 0; i < c->plan.n_overlays; i++)
                        if (path_contains(c->plan.overlays[i].dir, c->plan.exec_dir))
                                c->plan.exec_dir_no_create = false;
        }
        k = plan_apply_policy(&c->plan, &m->cfg, &c->policy, &err);
        if (k < 0)
                return conn_fail(c, "%s", err.msg);
        /* The paths are checked in a worker, within the request's deadline. */
        k = worker_start(m->event, m->reaper, "rockerd-check", check_job, c, -EBADF, on_check_worker_done, c,
                         &c->worker);
        if (k < 0)
                return conn_fail(c, "cannot start a worker: %s", strerror(-k));
        (void) conn_set_deadline(c, m->cfg.request_timeout_usec);
}

int on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Conn *c = userdata;
        char buf[PROTO_MSG_MAX + 1];
        RkError err = {};
        ProtoRequest req = {};
        int fds[3];
        size_t n_fds = 0;
        ssize_t n;
        int k;

        (void) s;
        /* A spawn request brings the caller's stdio: at most three fds, on
         * a connection's first request only. */
        n = fdpass_recv_fds(fd, buf, sizeof buf, c->done || c->has_plan || c->rocker ? NULL : fds,
                            c->done || c->has_plan || c->rocker ? 0 : 3, &n_fds);
        if (n >= 0 && n_fds > 0 && spawn_request_take_stdio(&c->spawn, fds, n_fds, &err) < 0) {
                conn_fail(c, "%s", err.msg);
                return 0;
        }
        if (n == -EAGAIN)
                return 0;
        /* SEQPACKET reads an empty datagram as 0 too: only a hangup is EOF. */
        if ((n == 0 && (revents & (EPOLLHUP | EPOLLRDHUP | EPOLLERR))) || (n < 0 && n != -EBADMSG)) {
                conn_free(c);
                return 0;
        }
        if (c->has_plan || c->worker || (c->rocker && c->rocker->state == ROCKER_BUILDING)) {
                /* One request at a time: a client that talks over its own
                 * pending request is broken or hostile; it loses both. */
                log_warning("pid %d sent a message while its request was in progress: dropped",
                            (int) c->peer.pid);
                conn_free(c);
                return 0;
        }
        if (n == 0) {
                conn_fail(c, "empty message");
                return 0;
        }
        if (n == -EBADMSG) {
                /* Truncated, oversized or carrying fds: closed and refused. */
                conn_fail(c, "message too large (limit %d bytes) or carrying file descriptors", PROTO_MSG_MAX);
                return 0;
        }
        k = proto_decode_request(buf, (size_t) n, &req, &err);
        if (k < 0) {
                conn_fail(c, "%s", err.msg[0] ? err.msg : strerror(-k));
                return 0;
        }
        conn_handle(c, &req);
        proto_request_done(&req);
        return 0;
}

static int on_conn_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Conn *c = userdata;
        Rocker *holder = c->waiting_for;

        (void) s;
        (void) usec;
        if (c->worker) {
                /* Its paths do not answer (a hung FUSE or NFS mount, say):
                 * the worker is killed; its fds, and with them a loop
                 * device or mount it made, go with it. */
                log_warning("pid %d's request: worker pid %d overran its deadline: killed", (int) c->peer.pid,
                            (int) worker_pid(c->worker));
                conn_fail(c, "%s timed out: a path it names does not answer (a hung file system?)",
                          c->image_fd >= 0 ? "preparing the build" : "checking the request's paths");
                return 0;
        }
        if (holder) {
                c->waiting_for = NULL;
                if (holder->mounts_gone)
                        conn_fail(c, "app_data_dir: \"%.256s\" is still in use: rocker %s has ended, but files in its "
                                  "overlays are held open outside the rocker (an fd its app passed out), so they "
                                  "stay mounted; close them, then try again", c->plan.data_dir, holder->name);
                else if (c->holder_dying)
                        conn_fail(c, "app_data_dir: \"%.256s\" is still held by rocker %s (guard pid %d), whose teardown did not end in time",
                                  c->plan.data_dir, holder->name, (int) holder->pid);
                else
                        conn_fail(c, "app_data_dir: \"%.256s\" is in use by live rocker %s (guard pid %d); join it or kill it first",
                                  c->plan.data_dir, holder->name, (int) holder->pid);
                return 0;
        }
        if (c->rocker && c->rocker->state == ROCKER_BUILDING && !c->done) {
                Rocker *r = c->rocker;
                c->rocker = NULL;
                r->conn = NULL;
                rocker_kill(r, "its build timed out");
                conn_fail(c, "build timed out");
                return 0;
        }
        if (c->rocker) {
                log_warning("rocker %s: pid %d did not claim it in time", c->rocker->name, (int) c->peer.pid);
                c->rocker->conn = NULL;
                rocker_kill(c->rocker, "its client did not claim it in time");
                c->rocker = NULL;
        }
        else if (!c->done)
                log_warning("pid %d sent no request in time: dropped", (int) c->peer.pid);
        conn_free(c);  /* kills an unclaimed rocker */
        return 0;
}
