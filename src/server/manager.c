/* SPDX-License-Identifier: MIT */
/*
 * rockerd's manager: the event loop and what it owns (the listening socket,
 * the connections, the registry of live rockers, the image cache, the
 * reaper, the cgroup setup), set up, run and freed here. The rest is split
 * by concern, sharing manager-internal.h:
 *   listen.c     the listening socket and the peer policy at accept
 *   conn.c       a connection's state machine: request, check, deadlines, reply
 *   build.c      building a rocker for a request: holder wait, build worker, guard
 *   requests.c   spawn, spawn into a live rocker, signal, list
 *   lifecycle.c  a rocker's life after its guard exists, to its teardown
 *   adopt.c      the rockers of an earlier rockerd, adopted at start
 *
 * Threat model: any local process may connect; only root peers
 * (SO_PEERCRED, filled in by the kernel) and the users of AllowUsers= /
 * AllowGroups= are served, the latter under policy.c's rules (spawn only). Every request is decoded
 * strictly and turned into a Plan by plan_parse_request() before anything is
 * created. The loop does not block on a client: sockets are non-blocking,
 * each phase of a connection has a deadline, and the loop touches no path a
 * client names: the host checks, the image's open and read, its loop device
 * and squashfs mount (or squashfuse's start) and the data dir layout run in
 * workers (worker.h), forked per step and killed at the deadline; the
 * building happens in the guard.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <time.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "cgroup.h"
#include "config.h"
#include "image.h"
#include "log.h"
#include "macro.h"
#include "manager-internal.h"
#include "reaper.h"
#include "registry.h"
#include "state.h"

uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

void manager_status(Manager *m) {
        sd_notifyf(0, "STATUS=%zu live rockers, %zu cached images, %u connections", m->registry.n,
                   image_cache_size(m->images), m->n_conns);
}

/* An fd was freed: if accept() had run out of them, resume it. */
void manager_fd_freed(Manager *m) {
        if (m->accept_paused && sd_event_source_set_enabled(m->listen_source, SD_EVENT_ON) >= 0)
                m->accept_paused = false;
}

int manager_new(const ManagerConfig *cfg, const KernelFeatures *kernel, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = calloc(1, sizeof *m);
        int r;

        if (!m)
                return -ENOMEM;
        m->cfg = *cfg;
        m->kernel = *kernel;
        m->listen_fd = -EBADF;
        m->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (m->inotify_fd < 0)
                return -errno;
        r = sd_event_new(&m->event);
        if (r >= 0)
                r = sd_event_add_io(m->event, &m->inotify_source, m->inotify_fd, EPOLLIN, on_overlay_watch, m);
        if (r >= 0)
                r = image_cache_new(m->kernel.image_staging, m->event, &m->images);
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
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        while (m->conns)
                conn_free(m->conns);
        /* Live rockers keep running, and their state records stay for the
         * next rockerd to adopt; rockerd only forgets them. */
        while (m->registry.rockers) {
                Rocker *r = m->registry.rockers;
                if (r->state != ROCKER_RUNNING)
                        rocker_kill(r, "rockerd stops before it was claimed");
                rocker_release(r, true);
        }
        /* Forgotten: a restarted rockerd does not know of them (docs/data-dir.md). */
        while (m->lingering.rockers)
                rocker_free(m->lingering.rockers);
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
        r = state_load_all(m->cfg.state_dir, rocker_adopt, m);
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
