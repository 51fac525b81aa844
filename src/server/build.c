/* SPDX-License-Identifier: MIT */
/*
 * Building a rocker for a checked request: wait for the data dir's dying
 * holder if there is one (conn_start()), then the build worker (the image's
 * kernel mount or squashfuse's start, and the data dir's layout, out of the
 * loop), then the guard
 * cloned into its cgroup or systemd scope (conn_build_finish()). The guard's
 * report ends the build (lifecycle.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "builder.h"
#include "bus.h"
#include "cgroup.h"
#include "image.h"
#include "kernel.h"
#include "log.h"
#include "macro.h"
#include "manager-internal.h"
#include "plan.h"
#include "reaper.h"
#include "registry.h"
#include "util.h"
#include "worker.h"

/* A request slower than the dying holder's grace gets "in use": the holder is
 * not being killed. The grace covers the instant between a SIGKILL being
 * dequeued and the exit becoming visible in /proc. */
#define HOLDER_GRACE_USEC (50 * 1000ULL)

/* Requests that may wait for one holder (conn_start()). */
#define MAX_WAITERS_PER_HOLDER 8

static void conn_build(Conn *c);
static void conn_build_finish(Conn *c, int tree_fd);

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
        /* A path the app's user controls (a FUSE mount there could hang):
         * looked at here, never in the loop. */
        if (c->plan.private_run_user && c->plan.session_bus == PLAN_BUS_FILTERED)
                reply->host_has_bus = bus_host_has_bus(c->plan.uid);
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
        c->host_has_bus = reply->host_has_bus;
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
        if (c->plan.private_run_user && c->plan.session_bus == PLAN_BUS_FILTERED && c->host_has_bus) {
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

/* The request is valid; build now, or wait for the data dir's holder. */
void conn_start(Conn *c) {
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

                LIST_FOREACH(conns, o, m->conns)
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
