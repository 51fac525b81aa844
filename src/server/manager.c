/* SPDX-License-Identifier: MIT */
/*
 * Threat model for this file: any local process may connect; only root peers
 * (SO_PEERCRED, filled in by the kernel) and the users of AllowUsers= /
 * AllowGroups= are served, the latter under policy.c's rules (spawn only). Every request is decoded
 * strictly and turned into a Plan by plan_parse_request() before anything is
 * created. The loop does not block on a client: sockets are non-blocking,
 * each phase of a connection has a deadline, and the loop touches no path a
 * client names: the host checks, the image's open and read, its loop device
 * and squashfs mount (or squashfuse's start) and the data dir layout run in
 * workers (worker.h), forked per step and killed at the deadline; the
 * building happens in the guard.
 *
 * A connection's life: accept → request (deadline) → check worker (request
 * deadline) → [wait for the dying holder of the data dir (deadline)] → build
 * worker, guard builds (build deadline) → reply with the pidfd → client joins
 * and acks (deadline) → the rocker is the client's.
 * A client that leaves before its ack takes its rocker with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "builder.h"
#include "bus.h"
#include "cgroup.h"
#include "config.h"
#include "fdpass.h"
#include "guard.h"
#include "image.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "overlaywatch.h"
#include "plan.h"
#include "policy.h"
#include "proto.h"
#include "reaper.h"
#include "registry.h"
#include "spawn.h"
#include "state.h"
#include "util.h"
#include "worker.h"

/* A request slower than the dying holder's grace gets "in use": the holder is
 * not being killed. The grace covers the instant between a SIGKILL being
 * dequeued and the exit becoming visible in /proc. */
#define HOLDER_GRACE_USEC (50 * 1000ULL)

/* While a relaunch waits for a dying holder, how often it looks whether the
 * holder's processes have all exited already (its pidfd fires only once
 * every process of its PID namespace has been reaped, which a launcher that
 * has not waitpid()ed its old app yet delays): rocker_exited_unreaped(). */
#define TEARDOWN_POLL_USEC (10 * 1000ULL)
#define MAX_WAITERS_PER_HOLDER 8

struct Conn {
        Manager *m;
        Conn *next, *prev;
        int fd;
        sd_event_source *io;
        sd_event_source *timer;
        struct ucred peer;
        gid_t *peer_groups;      /* its supplementary groups as it connected (non-root peers) */
        int n_peer_groups;
        Rocker *rocker;          /* being built for this client, until claimed */
        Rocker *waiting_for;     /* the holder of the data dir asked for */
        bool holder_dying;       /* ...seen being killed: wait for its teardown */
        sd_event_source *poll;   /* looks for the holder's mounts being gone */
        Plan plan;               /* the request, while waiting */
        AppPolicy policy;        /* its app's; plan borrows strings from it */
        bool has_plan;
        bool done;               /* replied: only an ack or EOF may follow */
        /* Everything that touches the paths the request names runs in a
         * worker (worker.h) under the request's deadline, never here. */
        Worker *worker;          /* checking the request, or preparing its build */
        int image_fd;            /* the image, opened by the check worker (as the peer, for a non-root one) */
        ImageId image_id;
        Image *image;            /* its cache entry, if it was cached when the build began */
        bool is_spawn;           /* a spawn request: rockerd starts the app (issue 17) */
        SpawnRequest spawn;      /* ...its argv, envp and stdio, until the app is started */
        Rocker *spawned;         /* ...its rocker, whose app's exit status it waits for */
        /* A spawn into a live rocker: the process rockerd made there (its
         * child, reaped here), until it exits. */
        pid_t joined_pid;
        int joined_pidfd;
        sd_event_source *joined_source;
        pid_t joined_guard;      /* ...in the rocker of this guard */
        char joined_guard_name[16];
};

struct Manager {
        ManagerConfig cfg;
        sd_event *event;
        int listen_fd;
        sd_event_source *listen_source;
        bool accept_paused;      /* out of fds: accept again when one is freed */
        Conn *conns;
        unsigned n_conns;
        Registry registry;
        Registry lingering;      /* ended rockers whose overlays are held open from outside */
        int inotify_fd;          /* watches every rocker's overlays (overlaywatch.h) */
        sd_event_source *inotify_source;
        ImageCache *images;
        Reaper *reaper;          /* rockers' session bus proxies */
        KernelFeatures kernel;   /* probed once by main() */
        CgroupSetup *cgroups;
};

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

static void manager_status(Manager *m) {
        sd_notifyf(0, "STATUS=%zu live rockers, %zu cached images, %u connections", m->registry.n,
                   image_cache_size(m->images), m->n_conns);
}

/* An fd was freed: if accept() had run out of them, resume it. */
static void manager_fd_freed(Manager *m) {
        if (m->accept_paused && sd_event_source_set_enabled(m->listen_source, SD_EVENT_ON) >= 0)
                m->accept_paused = false;
}

/* ---- rockers -------------------------------------------------------- */

static LogFields rocker_fields(const Rocker *r) {
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

/* A line about r, carrying its journal fields. */
#define log_rocker(level, r, ...)                                  \
        do {                                                       \
                LogFields _f_ = rocker_fields(r);                  \
                log_struct((level), &_f_, __VA_ARGS__);            \
        } while (0)

/* Live rockers of uid and its requests in progress besides self (each
 * holds a worker, and a rocker to come), for MaxRockersPerUser=. */
static unsigned count_owned(const Manager *m, uid_t uid, const Conn *self) {
        unsigned n = 0;

        for (const Rocker *r = m->registry.head; r; r = r->next)
                n += r->owner_uid == uid;
        for (const Conn *c = m->conns; c; c = c->next)
                n += c != self && c->peer.uid == uid && c->has_plan && !c->rocker && !c->spawned;
        return n;
}

/* Whether peer may see and end r: root any, a non-root peer its own. */
static bool rocker_visible_to(const Rocker *r, uid_t peer_uid) {
        return peer_uid == 0 || r->owner_uid == peer_uid;
}

static void rocker_kill(Rocker *r, const char *why) {
        if (r->killed)
                return;
        log_rocker(LOG_INFO, r, "rocker %s (guard pid %d): killing, %s", r->name,
                   (int) r->pid, why);
        if (pidfd_send_signal(r->pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
                log_error_errno(errno, "rocker %s: cannot kill guard pid %d: %m", r->name, (int) r->pid);
        r->killed = true;
}

static int rocker_save(Rocker *r) {
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
static void rocker_release(Rocker *r, bool keep_state) {
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

static void rocker_free(Rocker *r) {
        rocker_release(r, false);
}

/* r's guard has exited, but not every overlay of it is gone: a file in one
 * is held open outside the rocker (an fd its app passed out over a shared
 * socket, say). A relaunch on its data dir would put a second overlay on a
 * live upper dir, so the data dir stays in use until the last one goes
 * (on_overlay_watch()). r leaves the registry (it is not live: not listed,
 * not counted against MaxRockers) for the lingering list; its PID is free
 * for reuse and is not named any more. */
static void rocker_linger(Rocker *r) {
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
        for (Rocker *r = reg->head; r; r = r->next)
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
static bool read_overlay_watches(Manager *m) {
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
static void release_waiters(Manager *m, const Rocker *r) {
        for (Conn *c = m->conns; c; c = c->next)
                if (c->waiting_for == r)
                        c->waiting_for = NULL;
}

static void conn_start(Conn *c);

/* Starts the requests no longer waiting for a holder. */
static void start_released(Manager *m) {
        for (Conn *c = m->conns, *next; c; c = next) {
                next = c->next;
                /* (one with a worker is checking its paths or building) */
                if (c->has_plan && !c->waiting_for && !c->rocker && !c->done && !c->worker)
                        conn_start(c);
        }
}

/* Frees the data dirs whose last overlay is gone: of ended rockers, and of
 * dying ones already seen past their exit (rocker_exited_unreaped()). */
static void act_on_gone_overlays(Manager *m) {
        for (Rocker *r = m->lingering.head, *next; r; r = next) {
                next = r->next;
                if (r->n_overlays_alive > 0)
                        continue;
                log_rocker(LOG_INFO, r, "rocker %s: its last overlay held open from outside is gone; data dir %s is free",
                           r->name, r->plan.data_dir);
                release_waiters(m, r);
                rocker_free(r);
        }
        for (Rocker *r = m->registry.head; r; r = r->next)
                if (r->mounts_gone && r->n_overlays_alive == 0)
                        release_waiters(m, r);
        start_released(m);
}

static int on_overlay_watch(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;

        (void) s;
        (void) fd;
        (void) revents;
        if (read_overlay_watches(m))
                act_on_gone_overlays(m);
        return 0;
}

/* ---- connections ---------------------------------------------------- */

/* Ends what a request has going on outside the loop: its worker (killed:
 * nothing it made survives it), the image it opened, its cache reference. */
static void conn_drop_request_work(Conn *c) {
        c->worker = worker_kill(c->worker);
        c->image_fd = safe_close(c->image_fd);
        c->image = image_release(c->image);
}

static Conn *conn_free(Conn *c) {
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
        if (c->prev)
                c->prev->next = c->next;
        else
                m->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        m->n_conns--;
        free(c);
        manager_fd_freed(m);
        return NULL;
}

static int on_conn_timeout(sd_event_source *s, uint64_t usec, void *userdata);

static int conn_set_deadline(Conn *c, uint64_t usec) {
        int r;

        if (!c->timer)
                return sd_event_add_time_relative(c->m->event, &c->timer, CLOCK_MONOTONIC, usec, 0,
                                                  on_conn_timeout, c);
        r = sd_event_source_set_time_relative(c->timer, usec);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
}

static int conn_send(Conn *c, const ProtoReply *reply, int fd) {
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
static void conn_fail(Conn *c, const char *fmt, ...) {
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

static int on_guard_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static int on_guard_status(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static void conn_spawn_app(Conn *c, Rocker *r);
static void conn_spawn_in(Conn *c, ProtoRequest *req);
static void conn_signal(Conn *c, const ProtoRequest *req);
static void conn_spawn_report_exit(Conn *c, const ProtoReply *last);

/* The first limit lim asks for that this host cannot apply, as "Key=", for
 * messages. */
static const char *first_limit(const CgroupSetup *cg, const CgroupLimits *lim) {
        static const char *const keys[_CGROUP_LIMIT_MAX] = {
                "MemoryMax=", "MemoryHigh=", "MemorySwapMax=", "TasksMax=", "CPUWeight=", "CPUQuota=", "IOWeight=",
                "OOMPolicy=kill",
        };

        for (CgroupLimitKey k = 0; k < _CGROUP_LIMIT_MAX; k++) {
                CgroupLimits one = { .set = lim->set & (1U << k) };

                one.value[k] = lim->value[k];
                if (cgroup_limits_requested(&one) && cgroup_setup_unavailable(cg, &one))
                        return keys[k];
        }
        return "";
}

/* systemd moved the guard into its scope (or could not): let it build. */
static void on_scope_done(int error, const char *text, void *userdata) {
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

static void conn_build(Conn *c);
static void conn_build_finish(Conn *c, int tree_fd);

/* The build worker: a new image's kernel mount (loop device, fsmount),
 * handed back as a detached mount fd, then the data dir's layout. The image
 * first: a request refused for its image creates nothing. Runs in a child
 * of rockerd (worker.h). */
#ifdef ROCKER_TEST_HOOKS
/* Test builds only (BUILD_TESTING; never in a package): a build worker
 * pauses, once the image is mounted and the data dir laid out, when
 * ROCKER_TEST_HOOK_BUILD names a directory holding the fifos "paused"
 * (written when it gets there) and "resume" (read before going on), so that
 * a test can change the host between the request's check (and the data
 * dir's layout) and the guard, deterministically. The build's deadline
 * still bounds it. */
static void test_hook_build(void) {
        const char *d = getenv("ROCKER_TEST_HOOK_BUILD");
        char path[4096], b;
        int fd;

        if (!d)
                return;
        snprintf(path, sizeof path, "%s/paused", d);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
                if (write(fd, "p", 1) < 0) {
                }
                safe_close(fd);
        }
        snprintf(path, sizeof path, "%s/resume", d);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                if (read(fd, &b, 1) < 0) {
                }
                safe_close(fd);
        }
}
#endif

/* The grace of a holder not seen dying. Test builds may stretch it
 * (ROCKER_TEST_HOLDER_GRACE_MS), so that a test's flood of requests all
 * reach the wait however slow the machine is. */
static uint64_t holder_grace_usec(void) {
#ifdef ROCKER_TEST_HOOKS
        const char *v = getenv("ROCKER_TEST_HOLDER_GRACE_MS");

        if (v && atoi(v) > 0)
                return (uint64_t) atoi(v) * 1000ULL;
#endif
        return HOLDER_GRACE_USEC;
}

/* A job's failure r: reply->err as the callee filled it, or r's text. */
static int job_fail(WorkerReply *reply, int r) {
        if (!rk_error_set(&reply->err))
                (void) rk_error(&reply->err, r, "%s", strerror(r < 0 ? -r : EIO));
        return -EBADF;
}

static int build_job(void *data, int image_fd, WorkerReply *reply) {
        Conn *c = data;
        ImageBackend backend = (ImageBackend) c->policy.image_backend;
        _cleanup_close_ int tree = -EBADF;
        int r;

        if (image_fd >= 0) {  /* not cached yet */
                if (backend != IMAGE_BACKEND_SQUASHFUSE) {
                        tree = image_mount_kernel(image_fd, &reply->err);
                        if (tree < 0 && backend == IMAGE_BACKEND_AUTO && image_kernel_unavailable(tree)) {
                                /* not an error: squashfuse will do */
                                reply->kernel_error = tree;
                                rk_error_clear(&reply->err);
                        } else if (tree < 0)
                                return job_fail(reply, tree);
                }
                if (tree < 0) {
                        /* squashfuse, started here as rockerd's child
                         * (bounded: 5 s); its pidfd goes back with the
                         * reply (worker.h) */
                        tree = image_mount_fuse(c->m->images, image_fd, &reply->err);
                        if (tree < 0)
                                return job_fail(reply, tree);
                        reply->image_fuse = 1;
                }
        }
        /* The worker's copy of the plan: what the layout records goes back
         * in the reply. */
        r = plan_prepare_data_dir(&c->plan, &reply->err);
        if (r < 0)
                return job_fail(reply, r);  /* the mount goes with the worker, squashfuse is killed */
        for (size_t i = 0; i < c->plan.n_overlays; i++) {
                reply->upper_dev[i] = (uint64_t) c->plan.overlays[i].upper_dev;
                reply->upper_ino[i] = (uint64_t) c->plan.overlays[i].upper_ino;
                reply->work_dev[i] = (uint64_t) c->plan.overlays[i].work_dev;
                reply->work_ino[i] = (uint64_t) c->plan.overlays[i].work_ino;
        }
#ifdef ROCKER_TEST_HOOKS
        /* the last moment before the guard: everything is checked and
         * recorded */
        test_hook_build();
#endif
        return TAKE_FD(tree);
}

static void on_build_worker_done(const WorkerReply *reply, int fd, void *userdata) {
        Conn *c = userdata;
        Worker *w = TAKE_PTR(c->worker);
        RkError err = {};
        int k;

        if (rk_error_set(&reply->err)) {
                safe_close(fd);
                return conn_fail(c, "%s", reply->err.msg);
        }
        if (reply->image_fuse && fd >= 0 && !c->image) {
                if (reply->kernel_error < 0)
                        log_info("image %s: kernel squashfs unavailable (%s); using squashfuse", c->plan.pkg_path,
                                 strerror(-reply->kernel_error));
                /* A build that ran beside ours may have cached it meanwhile:
                 * ours then goes (its squashfuse, not taken, is killed and
                 * reaped by worker.c). Else cached here: no file touched. */
                c->image = image_cache_find(c->m->images, &c->image_id, IMAGE_BACKEND_SQUASHFUSE);
                if (c->image)
                        fd = safe_close(fd);
                else {
                        k = image_cache_add(c->m->images, c->plan.pkg_path, &c->image_id, IMAGE_BACKEND_SQUASHFUSE,
                                            TAKE_FD(fd), worker_take_child(w), &c->image, &err);
                        if (k < 0)
                                return conn_fail(c, "%s", err.msg[0] ? err.msg : strerror(-k));
                }
        }
        for (size_t i = 0; i < c->plan.n_overlays; i++) {
                c->plan.overlays[i].upper_dev = (dev_t) reply->upper_dev[i];
                c->plan.overlays[i].upper_ino = (ino_t) reply->upper_ino[i];
                c->plan.overlays[i].work_dev = (dev_t) reply->work_dev[i];
                c->plan.overlays[i].work_ino = (ino_t) reply->work_ino[i];
        }
        conn_build_finish(c, fd);
}

/* Builds the rocker c->plan describes: first the worker's part (data dir,
 * image mount: kernel squashfs or squashfuse), then conn_build_finish(). */
static void conn_build(Conn *c) {
        Manager *m = c->m;
        const char *no_limits;
        bool mount;
        int k;

        /* A limit the host cannot apply is refused unless best effort: the
         * app was configured to be confined, and must not silently run
         * unconfined. */
        no_limits = cgroup_limits_requested(&c->policy.limits) ?
                cgroup_setup_unavailable(m->cgroups, &c->policy.limits) : NULL;
        if (no_limits && !m->cfg.limits_best_effort)
                return conn_fail(c, "app %d asks for resource limits (%s) that cannot be applied: %s; "
                                 "LimitsBestEffort=yes in rockerd.conf runs it without them",
                                 (int) c->plan.app_id, first_limit(m->cgroups, &c->policy.limits), no_limits);
        if (m->registry.n >= m->cfg.max_rockers)
                return conn_fail(c, "too many live rockers (%u)", m->cfg.max_rockers);

        /* The cache is rockerd's memory: looked up here, by the identity the
         * check worker read from the fd it opened. */
        if (!c->image)
                c->image = image_cache_find(m->images, &c->image_id, (ImageBackend) c->policy.image_backend);
        mount = !c->image;
        k = worker_start(m->event, m->reaper, "rockerd-build", build_job, c, mount ? c->image_fd : -EBADF,
                         on_build_worker_done, c, &c->worker);
        if (k < 0)
                return conn_fail(c, "cannot start a worker: %s", strerror(-k));
        (void) conn_set_deadline(c, m->cfg.build_timeout_usec);
}

/* The worker has made the kernel mount of an image not cached (tree_fd,
 * taken) and prepared the data dir. The rest touches no client-named
 * path. */
static void conn_build_finish(Conn *c, int tree_fd) {
        Manager *m = c->m;
        _cleanup_close_ int image_fd = -EBADF, tree = tree_fd;
        RkError err = {};
        _cleanup_close_ int cgroup_fd = -EBADF;
        const char *no_limits;
        Spawned sp;
        Rocker *r;
        int k;

        no_limits = cgroup_limits_requested(&c->policy.limits) ?
                cgroup_setup_unavailable(m->cgroups, &c->policy.limits) : NULL;
        if (m->registry.n >= m->cfg.max_rockers)
                return conn_fail(c, "too many live rockers (%u)", m->cfg.max_rockers);
        if (c->peer.uid != 0 && count_owned(m, c->peer.uid, c) >= m->cfg.max_rockers_per_user)
                return conn_fail(c, "MaxRockersPerUser=%u: uid %u has %u live rockers (or requests in progress) already",
                                 m->cfg.max_rockers_per_user, (unsigned) c->peer.uid, count_owned(m, c->peer.uid, c));
        r = calloc(1, sizeof *r);
        if (!r)
                return conn_fail(c, "out of memory");
        r->manager = m;
        r->owner_uid = c->peer.uid;
        r->pidfd = r->status_fd = r->app_pidfd = -EBADF;
        for (size_t i = 0; i < PROTO_OVERLAY_MAX; i++)
                r->overlay_wds[i] = -1;

        r->image = TAKE_PTR(c->image);
        if (!r->image)  /* a build that ran beside ours may have cached it meanwhile */
                r->image = image_cache_find(m->images, &c->image_id, (ImageBackend) c->policy.image_backend);
        if (!r->image) {
                k = image_cache_add(m->images, c->plan.pkg_path, &c->image_id, IMAGE_BACKEND_KERNEL, TAKE_FD(tree),
                                    -EBADF, &r->image, &err);
                if (k < 0)
                        goto fail;
        }
        c->image_fd = safe_close(c->image_fd);
        tree = safe_close(tree);
        k = registry_new_name(&m->registry, r->name);
        if (k < 0) {
                (void) rk_error(&err, k, "cannot make a guard name: %s", strerror(-k));
                goto fail;
        }
        /* The session bus through a proxy of its own, started now so that
         * the guard can bind its socket (it waits for it to listen). */
        if (c->plan.private_run_user && c->plan.session_bus == PLAN_BUS_FILTERED &&
            bus_host_has_bus(c->plan.uid)) {
                BusProxy bp;

                k = bus_proxy_start(&c->plan, m->cfg.state_dir, r->name, &bp, &err);
                if (k < 0)
                        goto fail;
                /* It exits when its sync pipe closes (the guard's end, or
                 * ours if the build fails): reaped by the loop. */
                (void) reaper_adopt(m->reaper, bp.pidfd);
                c->plan.bus_socket = bp.socket;
                c->plan.bus_sync_fd = bp.sync_fd;
        }
        image_fd = image_clone(r->image);
        if (image_fd < 0) {
                k = image_fd;
                (void) rk_error(&err, k, "cannot clone the image mount: %s", strerror(-k));
                goto fail;
        }
        if (cgroup_setup_root(m->cgroups) && !cgroup_setup_uses_scopes(m->cgroups)) {
                k = cgroup_create(m->cgroups, c->plan.app_id, r->name, &c->policy.limits, m->cfg.limits_best_effort,
                                  &r->cgroup, &cgroup_fd, &err);
                if (k < 0)
                        goto fail;
        }
        k = builder_spawn(&c->plan, kernel_mount_ops(&m->kernel), r->name, image_fd, cgroup_fd,
                          cgroup_setup_root(m->cgroups) && cgroup_setup_uses_scopes(m->cgroups), &sp);
        if (k < 0) {
                (void) rk_error(&err, k, "cannot start the guard: %s", strerror(-k));
                goto fail;
        }
        if (no_limits)
                log_warning("rocker %s of app %d runs without its limits (%s, LimitsBestEffort=yes): %s", r->name,
                            (int) c->plan.app_id, first_limit(m->cgroups, &c->policy.limits), no_limits);
        r->pid = sp.pid;
        r->pidfd = sp.pidfd;
        r->status_fd = sp.status_fd;
        r->started_usec = now_usec();
        r->pidns_ino = pid_pidns_ino(r->pid);  /* our unreaped child: the PID is the guard's */
        {
                char comm[16];
                if (proc_get_identity(r->pid, comm, &r->starttime) < 0)
                        r->starttime = 0;  /* only a restarted rockerd's check suffers */
        }
        r->plan = c->plan;
        r->plan.n_shared_paths = 0;  /* borrowed from c->policy: the guard has its copy */
        r->plan.n_dbus_talk = r->plan.n_dbus_own = r->plan.n_dbus_see = r->plan.n_devices = 0;
        /* The guard holds the proxy's sync pipe now; ours must go, or the
         * proxy would outlive the rocker. */
        if (r->plan.bus_socket)
                r->plan.bus_sync_fd = safe_close(r->plan.bus_sync_fd);
        c->has_plan = false;
        c->plan = (Plan) {};
        r->state = ROCKER_BUILDING;
        r->conn = c;
        c->rocker = r;
        registry_add(&m->registry, r);

        k = sd_event_add_io(m->event, &r->pidfd_source, r->pidfd, EPOLLIN, on_guard_exit, r);
        if (k >= 0)
                k = sd_event_add_io(m->event, &r->status_source, r->status_fd, EPOLLIN, on_guard_status, r);
        if (k < 0) {
                /* Cannot watch it: it must not live unwatched. */
                log_error_errno(k, "rocker %s: cannot watch the guard: %m", r->name);
                (void) pidfd_send_signal(r->pidfd, SIGKILL, NULL, 0);
                (void) waitid(P_PIDFD, (id_t) r->pidfd, &(siginfo_t) {}, WEXITED);
                c->rocker = NULL;
                rocker_free(r);
                return conn_fail(c, "cannot watch the guard: %s", strerror(-k));
        }
        if (cgroup_setup_root(m->cgroups) && cgroup_setup_uses_scopes(m->cgroups)) {
                /* The guard waits for its scope; the build deadline covers
                 * systemd's answer too. */
                k = cgroup_scope_start(m->cgroups, r->plan.app_id, r->name, r->pid, &c->policy.limits,
                                       m->cfg.limits_best_effort, on_scope_done, r, &r->scope_job, &err);
                if (k < 0) {
                        c->rocker = NULL;
                        r->conn = NULL;
                        rocker_kill(r, "it could not get a scope");
                        return conn_fail(c, "%s", err.msg[0] ? err.msg : strerror(-k));
                }
        }
        (void) rocker_save(r);  /* unrecorded, a restarted rockerd would not know it: logged */
        (void) conn_set_deadline(c, m->cfg.build_timeout_usec);
        log_debug("rocker %s: guard pid %d building for pid %d", r->name, (int) r->pid, (int) c->peer.pid);
        return;

fail:
        if (c->plan.bus_socket) {
                /* the proxy sees its pipe close and exits */
                c->plan.bus_sync_fd = safe_close(c->plan.bus_sync_fd);
                (void) bus_proxy_remove_dir(m->cfg.state_dir, r->name);
        }
        if (r->cgroup) {
                (void) cgroup_remove(m->cgroups, r->cgroup);
                free(r->cgroup);
        }
        r->image = image_release(r->image);
        free(r);
        conn_fail(c, "%s", err.msg[0] ? err.msg : strerror(-k));
}

static void conn_start(Conn *c);
static void conn_wait_teardown(Conn *c);
static uint64_t holder_wait_usec(const Manager *m, const Rocker *r);

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
static void conn_wait_teardown(Conn *c) {
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

/* The request is valid; build now, or wait for the data dir's holder. */
static void conn_start(Conn *c) {
        Manager *m = c->m;
        Rocker *holder = registry_find_data_dir(&m->registry, c->plan.data_dir);

        if (!holder)
                holder = registry_find_data_dir(&m->lingering, c->plan.data_dir);

        /* A lower layer inside a live rocker's data dir would be that
         * rocker's live upper layer (undefined behaviour for overlayfs), and
         * would show its app's data to another app. */
        for (size_t i = 0; i < c->plan.n_overlays; i++) {
                Rocker *r = registry_find_data_dir_holding(&m->registry, c->plan.overlays[i].dir);

                if (!r)
                        r = registry_find_data_dir_holding(&m->lingering, c->plan.overlays[i].dir);
                if (r && r->lingering)
                        return conn_fail(c, "app_overlay_dirs[%zu]: \"%.256s\" lies in the data dir of ended rocker %s, "
                                         "whose files are held open outside the rocker", i, c->plan.overlays[i].dir,
                                         r->name);
                if (r)
                        return conn_fail(c, "app_overlay_dirs[%zu]: \"%.256s\" lies in the data dir of live rocker %s "
                                         "(guard pid %d)", i, c->plan.overlays[i].dir, r->name, (int) r->pid);
        }

        if (!holder)
                return conn_build(c);
        /* Only one of the requests waiting for a holder can win (then the
         * others find a live rocker): a few may wait, not a flood of
         * connections each polling /proc every 10 ms. */
        {
                unsigned waiting = 0;

                for (Conn *o = m->conns; o; o = o->next)
                        waiting += o != c && o->waiting_for == holder;
                if (waiting >= MAX_WAITERS_PER_HOLDER)
                        return conn_fail(c, "app_data_dir: \"%.256s\" is held by rocker %s (guard pid %d), for which "
                                         "%u requests wait already", c->plan.data_dir, holder->name, (int) holder->pid,
                                         waiting);
        }
        /* Two live overlays on one upper dir are undefined behaviour: one
         * rocker per data dir. A relaunch right after a kill waits for the
         * old guard's teardown on its pidfd (on_guard_exit), within a bound;
         * a holder not seen dying gets only a short grace, then "in use". */
        c->waiting_for = holder;
        if (holder->lingering || holder->mounts_gone) {
                /* past its exit: the overlay watches decide */
                c->holder_dying = true;
                (void) conn_set_deadline(c, m->cfg.teardown_wait_usec);
                return;
        }
        if (holder->killed || holder->stopping || pid_is_dying(holder->pid))
                return conn_wait_teardown(c);
        c->holder_dying = false;
        (void) conn_set_deadline(c, holder_grace_usec());
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
        for (Conn *c = m->conns; c; c = c->next)
                if (c->waiting_for == r)
                        conn_wait_teardown(c);
}

static int on_guard_status(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
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

static int on_guard_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
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

/* ---- spawn requests (issue 17, spawn.c) ---------------------------------- */

/* The spawned app has exited: its status is kept for the waiting client,
 * and the rocker ends with it (its other processes too). */
static int on_app_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
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

/* The guard of a spawn request's rocker is ready: rockerd starts the app
 * in it, the rocker is claimed at once, and the connection stays open
 * for the app's exit status (conn_spawn_report_exit()). */
static void conn_spawn_app(Conn *c, Rocker *r) {
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
static void conn_spawn_report_exit(Conn *c, const ProtoReply *last) {
        int k;

        k = conn_send(c, last, -EBADF);
        if (k < 0)
                log_debug_errno(k, "cannot send the exit status to pid %d: %m", (int) c->peer.pid);
        (void) conn_set_deadline(c, c->m->cfg.request_timeout_usec);
}

static void conn_list_page(Conn *c, int32_t offset);

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
static void conn_spawn_in(Conn *c, ProtoRequest *req) {
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
static void conn_signal(Conn *c, const ProtoRequest *req) {
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
static void conn_list(Conn *c, int32_t offset) {
        Manager *m = c->m;

        /* A guard that has exited is not listed, even if its pidfd event has
         * not been dispatched yet: its exit is handled first, so that a
         * client that saw the pidfd readable never finds it listed. */
        for (Rocker *r = m->registry.head, *next; r; r = next) {
                struct pollfd p = { .fd = r->pidfd, .events = POLLIN };

                next = r->next;
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

        for (Rocker *r = m->registry.head; r; r = r->next)
                list.total += rocker_visible_to(r, c->peer.uid);
        for (Rocker *r = m->registry.head; r && list.n_entries < PROTO_LIST_PAGE; r = r->next) {
                ProtoRockerInfo *e;

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

static int on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
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

/* Tells a peer no and closes, without giving it a connection slot. */
static void refuse_peer(int fd, const char *text) {
        ProtoReply reply = { .success = 0 };
        _cleanup_free_ char *buf = NULL;
        size_t len;

        snprintf(reply.error, sizeof reply.error, "%s", text);
        if (proto_encode_reply(&reply, &buf, &len) >= 0)
                (void) fdpass_send(fd, buf, len, -EBADF);
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        socklen_t len = sizeof(struct ucred);
        _cleanup_close_ int cfd = -EBADF;
        _cleanup_free_ gid_t *groups = NULL;
        int k, n_groups = 0;
        struct ucred peer;
        Conn *c;

        (void) revents;
        cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) {
                if (errno == EMFILE || errno == ENFILE) {
                        /* The pending connection keeps the socket readable:
                         * pause instead of spinning until an fd is freed. */
                        log_warning_errno(errno, "accept: %m; pausing until a connection or rocker ends");
                        if (sd_event_source_set_enabled(s, SD_EVENT_OFF) >= 0)
                                m->accept_paused = true;
                } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                        log_warning_errno(errno, "accept: %m");
                return 0;
        }
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0) {
                log_warning_errno(errno, "SO_PEERCRED: %m");
                return 0;
        }
        if (peer.uid != 0) {
                k = policy_peer_groups(cfd, &groups, &n_groups);
                if (k < 0) {
                        log_warning_errno(k, "pid %d uid %u: SO_PEERGROUPS: %m", (int) peer.pid, (unsigned) peer.uid);
                        return 0;
                }
        }
        if (!policy_peer_allowed(&m->cfg, &peer, groups, n_groups)) {
                /* Root, and the users of AllowUsers=/AllowGroups= (policy.c,
                 * docs/security.md): anyone else is told at once and
                 * dropped, never holding a slot. */
                char text[192];
                snprintf(text, sizeof text, "permission denied: uid %u may not use rockerd (root only, and the "
                         "users and groups of AllowUsers= and AllowGroups= in rockerd.conf)", (unsigned) peer.uid);
                refuse_peer(cfd, text);
                log_info("pid %d uid %u refused: not root, not in AllowUsers= or AllowGroups=", (int) peer.pid,
                         (unsigned) peer.uid);
                return 0;
        }
        if (m->n_conns >= m->cfg.max_connections) {
                refuse_peer(cfd, "too many connections to rockerd; try again");
                log_warning("too many connections (%u): one refused", m->n_conns);
                return 0;
        }
        c = calloc(1, sizeof *c);
        if (!c)
                return 0;
        c->m = m;
        spawn_request_init(&c->spawn);
        c->image_fd = c->joined_pidfd = -EBADF;
        c->fd = TAKE_FD(cfd);
        c->image_fd = -EBADF;
        c->peer = peer;
        c->peer_groups = TAKE_PTR(groups);
        c->n_peer_groups = n_groups;
        c->next = m->conns;
        if (m->conns)
                m->conns->prev = c;
        m->conns = c;
        m->n_conns++;

        k = sd_event_add_io(m->event, &c->io, c->fd, EPOLLIN | EPOLLRDHUP, on_conn_io, c);
        if (k < 0) {
                log_warning_errno(k, "cannot watch a connection: %m");
                conn_free(c);
                return 0;
        }
        if (conn_set_deadline(c, m->cfg.request_timeout_usec) < 0) {
                conn_free(c);
                return 0;
        }
        return 0;
}

/* ---- setup ---------------------------------------------------------- */

static int listen_socket(const ManagerConfig *cfg) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char dir[sizeof sa.sun_path];
        struct stat st;
        char *slash;
        int n;

        n = sd_listen_fds(1);
        if (n < 0)
                return log_error_errno(n, "sd_listen_fds: %m");
        if (n > 1)
                return log_error_errno(EINVAL, "expected one socket from systemd, got %d", n);
        if (n == 1) {
                if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_SEQPACKET, 1, NULL, 0) <= 0)
                        return log_error_errno(EINVAL, "the socket passed by systemd is not a listening AF_UNIX SOCK_SEQPACKET socket");
                /* systemd hands it over blocking unless told otherwise;
                 * the loop must never block on it. */
                if (fcntl(SD_LISTEN_FDS_START, F_SETFL, fcntl(SD_LISTEN_FDS_START, F_GETFL) | O_NONBLOCK) < 0 ||
                    fcntl(SD_LISTEN_FDS_START, F_SETFD, FD_CLOEXEC) < 0)
                        return log_error_errno(errno, "cannot set up the socket passed by systemd: %m");
                log_info("using the socket passed by systemd");
                return SD_LISTEN_FDS_START;
        }

        if (strlen(cfg->socket_path) >= sizeof sa.sun_path || cfg->socket_path[0] != '/')
                return log_error_errno(EINVAL, "socket path \"%s\" is not an absolute path shorter than %zu bytes",
                                       cfg->socket_path, sizeof sa.sun_path);
        strcpy(sa.sun_path, cfg->socket_path);
        strcpy(dir, cfg->socket_path);
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "cannot create %s: %m", dir);
        }
        /* A stale socket of an earlier rockerd is replaced; anything else is not. */
        if (lstat(sa.sun_path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return log_error_errno(EEXIST, "%s exists and is not a socket", sa.sun_path);
                if (unlink(sa.sun_path) < 0)
                        return log_error_errno(errno, "cannot remove the stale socket %s: %m", sa.sun_path);
        }
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "socket: %m");
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return log_error_errno(errno, "cannot bind %s: %m", sa.sun_path);
        /* Anyone may connect and be told no; root and AllowUsers= /
         * AllowGroups= are served (on_accept()). */
        if (chmod(sa.sun_path, 0666) < 0)
                return log_error_errno(errno, "chmod %s: %m", sa.sun_path);
        if (listen(fd, SOMAXCONN) < 0)
                return log_error_errno(errno, "listen: %m");
        log_info("listening on %s", sa.sun_path);
        return TAKE_FD(fd);
}

/* A record of an earlier rockerd: adopt the rocker if the record still names
 * a live guard (same PID, name and start time), else drop the record. */
static void adopt(StateRecord *rec, void *userdata) {
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

int manager_new(const ManagerConfig *cfg, const KernelFeatures *kernel, Manager **ret) {
        Manager *m = calloc(1, sizeof *m);
        int r;

        if (!m)
                return -ENOMEM;
        m->cfg = *cfg;
        m->kernel = *kernel;
        m->listen_fd = -EBADF;
        m->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (m->inotify_fd < 0) {
                r = -errno;
                free(m);
                return r;
        }
        r = sd_event_new(&m->event);
        if (r >= 0)
                r = sd_event_add_io(m->event, &m->inotify_source, m->inotify_fd, EPOLLIN, on_overlay_watch, m);
        if (r >= 0)
                r = image_cache_new(m->cfg.state_dir, m->kernel.image_staging, m->event, &m->images);
        if (r >= 0) {
                uid_t fuse_uid;
                gid_t fuse_gid;

                if (config_squashfuse_identity(&m->cfg, &fuse_uid, &fuse_gid) > 0)
                        log_info("squashfuse will run as nobody (uid %u): no user %s; see rockerd.conf(5)",
                                 (unsigned) fuse_uid, CONFIG_SQUASHFUSE_USER);
                r = image_cache_set_squashfuse(m->images, m->cfg.squashfuse_path, fuse_uid, fuse_gid);
        }
        if (r >= 0)
                r = reaper_new(m->event, &m->reaper);
        if (r >= 0)
                r = cgroup_setup_new((CgroupMode) m->cfg.cgroup_mode, m->event, &m->cgroups);
        if (r < 0) {
                manager_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        while (m->conns)
                conn_free(m->conns);
        /* Live rockers keep running, and their state records stay for the
         * next rockerd to adopt; rockerd only forgets them. */
        while (m->registry.head) {
                Rocker *r = m->registry.head;
                if (r->state != ROCKER_RUNNING)
                        rocker_kill(r, "rockerd stops before it was claimed");
                rocker_release(r, true);
        }
        /* Forgotten: a restarted rockerd does not know of them (docs/data-dir.md). */
        while (m->lingering.head)
                rocker_free(m->lingering.head);
        sd_event_source_disable_unref(m->inotify_source);
        safe_close(m->inotify_fd);
        sd_event_source_disable_unref(m->listen_source);
        if (m->listen_fd != SD_LISTEN_FDS_START)
                safe_close(m->listen_fd);
        image_cache_free(m->images);
        reaper_free(m->reaper);
        cgroup_setup_free(m->cgroups);
        sd_event_unref(m->event);
        free(m);
        return NULL;
}

int manager_run(Manager *m) {
        sigset_t mask;
        int r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "sigprocmask: %m");
        /* A client that vanishes mid-send must not kill the daemon. */
        if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
                return log_error_errno(errno, "SIGPIPE: %m");
        r = sd_event_add_signal(m->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "cannot watch signals: %m");

        r = state_dir_open(m->cfg.state_dir);
        if (r < 0)
                return log_error_errno(r, "cannot use the state dir %s: %m", m->cfg.state_dir);
        r = state_load_all(m->cfg.state_dir, adopt, m);
        if (r < 0)
                return log_error_errno(r, "cannot read the state dir %s: %m", m->cfg.state_dir);

        m->listen_fd = listen_socket(&m->cfg);
        if (m->listen_fd < 0)
                return m->listen_fd;
        r = sd_event_add_io(m->event, &m->listen_source, m->listen_fd, EPOLLIN, on_accept, m);
        if (r < 0)
                return log_error_errno(r, "cannot watch the socket: %m");

        (void) sd_notify(0, "READY=1");
        manager_status(m);
        r = sd_event_loop(m->event);
        (void) sd_notify(0, "STOPPING=1");
        if (r < 0)
                return log_error_errno(r, "event loop: %m");
        log_info("stopping; %zu live rockers keep running", m->registry.n);
        return 0;
}
