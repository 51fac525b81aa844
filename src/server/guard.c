/* SPDX-License-Identifier: MIT */
/*
 * Everything here runs as root in the rocker's fresh namespaces, before any
 * untrusted code exists in them. The order matters and is the checklist:
 *
 *   1. close every inherited fd but ours; own session; default signals
 *   2. make the whole mount tree private: nothing we do propagates to the host
 *   3. create every overlay detached, then attach them (parents first)
 *   4. create the exec dir's mount point if missing
 *   5. make the whole tree read-only, then writable again: the overlays and,
 *      under the shared paths (/tmp), each mount that was writable
 *      (mount_setattr, or bind remounts before 5.12: mountops.h); a private
 *      /dev (dev.c) and /run/user (rundir.c)
 *   6. attach the image at the exec dir; a fresh /proc with /proc/sys read-only
 *   7. name, drop every capability but CAP_KILL, no_new_privs, not dumpable
 *   8. report ready, then reap orphans until a stop signal (stop_rocker())
 *
 * Any failure reports the step and errno and exits; the kernel then tears the
 * namespaces, and every mount made in them, down.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <dirent.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "caps.h"
#include "dev.h"
#include "guard.h"
#include "rundir.h"
#include "macro.h"
#include "mountinfo.h"
#include "mountops.h"
#include "procfs.h"
#include "util.h"

/* Pieces of procfs a process must not write even as uid 0 without caps. */
static const char *const proc_readonly_paths[] = { "/proc/sys", "/proc/sysrq-trigger", "/proc/irq",
                                                   "/proc/bus", NULL };

typedef struct Guard {
        const Plan *plan;
        const MountOps *mnt;    /* mount_setattr or bind remounts, as the kernel allows */
        int status_fd;
        int image_fd;
        int overlay_fds[PROTO_OVERLAY_MAX];
} Guard;

/* Reports the failed step to rockerd (error: its -errno, taken by the
 * caller right after the call that failed) and ends the guard. */
_Noreturn _printf_(3, 4)
static void guard_fail(Guard *g, int error, const char *fmt, ...) {
        GuardReport rep = { .state = GUARD_REPORT_FAILED };
        char what[sizeof rep.err.msg];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        (void) rk_error(&rep.err, error < 0 ? error : -EIO, "%s: %m", what);
        (void) send(g->status_fd, &rep, sizeof rep, MSG_NOSIGNAL);
        _exit(1);
}

static int close_all_but(const int *keep, size_t n) {
        /* keep[] is tiny: close the gaps between the kept fds. */
        unsigned lo = 3;

        for (;;) {
                unsigned next = ~0U;
                for (size_t i = 0; i < n; i++)
                        if (keep[i] >= (int) lo && (unsigned) keep[i] < next)
                                next = (unsigned) keep[i];
                if (next > lo && close_range(lo, next == ~0U ? ~0U : next - 1, 0) < 0)
                        return negative_errno();
                if (next == ~0U)
                        return 0;
                lo = next + 1;
        }
}

/* While the rocker is being built, SIGTERM, SIGINT and SIGHUP end the guard
 * (and so the rocker) like SIGKILL: no app runs yet. Once it runs they are
 * blocked and taken by reap_forever() as a request for a graceful stop. Only
 * processes that may signal a root process can send them. */
static void on_terminate(int sig) {
        (void) sig;
        _exit(0);
}

static void reset_process(Guard *g) {
        /* the bus proxy's sync pipe: held for the rocker's life, it keeps
         * the proxy alive (bus.c) */
        int keep[PROTO_OVERLAY_MAX + 3] = { g->status_fd, g->image_fd, g->plan->bus_socket ? g->plan->bus_sync_fd : -1 };
        int null_fd, r;
        sigset_t all;

        r = close_all_but(keep, g->plan->bus_socket ? 3 : 2);
        if (r < 0)
                guard_fail(g, r, "close inherited fds");
        /* stdio to /dev/null: the guard has nothing to say but the report. */
        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd < 0)
                guard_fail(g, negative_errno(), "open /dev/null");
        for (int fd = 0; fd < 3; fd++)
                if (dup2(null_fd, fd) < 0)
                        guard_fail(g, negative_errno(), "dup2 /dev/null");
        if (null_fd > 2)
                safe_close(null_fd);
        if (setsid() < 0)
                guard_fail(g, negative_errno(), "setsid");
        /* rockerd's only disposition that is not the default is SIGPIPE
         * ignored (its signals are read from a signalfd, with a mask). */
        if (signal(SIGPIPE, SIG_DFL) == SIG_ERR ||
            signal(SIGTERM, on_terminate) == SIG_ERR || signal(SIGINT, on_terminate) == SIG_ERR ||
            signal(SIGHUP, on_terminate) == SIG_ERR)
                guard_fail(g, negative_errno(), "signal handlers");
        sigemptyset(&all);
        if (sigprocmask(SIG_SETMASK, &all, NULL) < 0)
                guard_fail(g, negative_errno(), "sigprocmask");
}

static bool is_mount_root(const char *path) {
        struct statx stx;

        if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, 0, &stx) < 0)
                return false;
        return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/* Mount targets are opened with mount_open_target() (mountops.h), refusing
 * a symlink in any component. Once an overlay is attached, a path below it
 * runs through its upper layer, where the app of an earlier launch may have
 * put a symlink: followed, it would move a mount, or make one writable,
 * anywhere. */

/* A recursive bind of path onto itself, so that it has a mount of its own
 * whose flags can differ from its parent's. */
static int bind_onto_itself(const char *path) {
        _cleanup_close_ int target = mount_open_target(path), tree = -EBADF;

        if (target < 0)
                return target;
        tree = open_tree(target, "", OPEN_TREE_CLONE | AT_RECURSIVE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (tree < 0)
                return negative_errno();
        if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return negative_errno();
        return 0;
}

/* An O_PATH fd of an overlay layer, refusing a symlink in any component. */
static int open_layer(const char *path) {
        return openat2_fd(AT_FDCWD, path, O_PATH | O_DIRECTORY | O_NOFOLLOW, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

/* Gives overlayfs the layer fd as the string "/proc/self/fd/N" (N ours:
 * no ':' ',' '\' or '=' that could split it or inject an option). The kernel
 * follows that magic link to the very directory opened above, resolving no
 * path of the host again. Strings, not FSCONFIG_SET_FD: every kernel from
 * 5.10 takes them (6.1 and older through the legacy mount data, where
 * fd-typed values are refused; fd layers arrived in 6.13, O_PATH ones in
 * 6.15), and mountinfo, which every local user may read for the guard,
 * then shows "/proc/self/fd/N", where the fd form shows the data dir's
 * host path. */
static int set_layer(int fs, const char *key, int fd) {
        char value[32];

        snprintf(value, sizeof value, "/proc/self/fd/%d", fd);
        return fsconfig(fs, FSCONFIG_SET_STRING, key, value, 0) < 0 ? negative_errno() : 0;
}

/* Refuses (-ESTALE) a directory opened at a path the plan recorded the
 * identity of (dev, ino; 0 0: none recorded) if it is another one now.
 * what names it, as a format. */
_printf_(5, 6)
static void check_identity(Guard *g, int fd, dev_t dev, ino_t ino, const char *what, ...) {
        char name[PROTO_PATH_MAX + 128];
        struct stat st;
        va_list ap;

        if (ino == 0)
                return;
        va_start(ap, what);
        vsnprintf(name, sizeof name, what, ap);
        va_end(ap);
        if (fstat(fd, &st) < 0)
                guard_fail(g, negative_errno(), "%s: fstat", name);
        if (st.st_dev != dev || st.st_ino != ino)
                guard_fail(g, -ESTALE, "%s was replaced after the request was checked", name);
}

static void make_overlays(Guard *g) {
        const Plan *p = g->plan;

        for (size_t i = 0; i < p->n_overlays; i++) {
                const PlanOverlay *o = &p->overlays[i];
                _cleanup_close_ int fs = -EBADF, lower = -EBADF, upper = -EBADF, work = -EBADF;
                char log[256] = "";
                int r;

                /* Every layer is opened once, refusing symlinks (the plan
                 * validated the host dir's path and made the data dir's
                 * layout without any), and only ever named by that fd. */
                lower = open_layer(o->dir);
                if (lower < 0)
                        guard_fail(g, lower, "overlay for %s: open the host dir (a component is a symlink or missing)",
                                   o->dir);
                /* The directory the request's check saw, not one swapped in
                 * at its path since (renamed over, a mount put on it). */
                check_identity(g, lower, o->dev, o->ino, "overlay for %.256s: the host dir", o->dir);
                upper = open_layer(o->upper);
                if (upper < 0)
                        guard_fail(g, upper, "overlay for %s: open %s", o->dir, o->upper);
                /* And the layers the build laid out: a dir renamed into the
                 * data dir since could be any other of the host's. */
                check_identity(g, upper, o->upper_dev, o->upper_ino, "overlay for %.256s: the upper dir %.256s", o->dir,
                               o->upper);
                work = open_layer(o->work);
                if (work < 0)
                        guard_fail(g, work, "overlay for %s: open %s", o->dir, o->work);
                check_identity(g, work, o->work_dev, o->work_ino, "overlay for %.256s: the work dir %.256s", o->dir, o->work);
                fs = fsopen("overlay", FSOPEN_CLOEXEC);
                if (fs < 0)
                        guard_fail(g, negative_errno(), "overlay for %s: fsopen", o->dir);
                r = set_layer(fs, "lowerdir", lower);
                if (r >= 0)
                        r = set_layer(fs, "upperdir", upper);
                if (r >= 0)
                        r = set_layer(fs, "workdir", work);
                if (r >= 0 && fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                        r = negative_errno();
                if (r < 0) {
                        struct statvfs sv;

                        fs_context_log(fs, log, sizeof log);
                        /* Overlayfs through legacy mount data (before 6.5)
                         * says why only in the kernel log: name the usual
                         * reason ourselves. */
                        if (!log[0] && fstatvfs(upper, &sv) == 0 && (sv.f_flag & ST_RDONLY))
                                snprintf(log, sizeof log, "the data dir's file system is read-only");
                        guard_fail(g, r, "overlay for %s (upper %s)%s%s", o->dir, o->upper, log[0] ? ": " : "",
                                   log);
                }
                g->overlay_fds[i] = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
                if (g->overlay_fds[i] < 0)
                        guard_fail(g, negative_errno(), "overlay for %s: fsmount", o->dir);
        }
        /* Only now attach: every layer above was opened on the untouched
         * host tree, not through an overlay attached before it. */
        for (size_t i = 0; i < p->n_overlays; i++) {
                _cleanup_close_ int target = mount_open_target(p->overlays[i].dir);

                if (target < 0)
                        guard_fail(g, target, "attach overlay at %s: a component of the path is a symlink or missing",
                                   p->overlays[i].dir);
                if (move_mount(g->overlay_fds[i], "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                        guard_fail(g, negative_errno(), "attach overlay at %s", p->overlays[i].dir);
                g->overlay_fds[i] = safe_close(g->overlay_fds[i]);
        }
}

/* mkdir -p as root, one component at a time through O_NOFOLLOW fds: a
 * symlink planted anywhere on the way (by a host user in a dir they own, or
 * by an app in its overlay's upper layer) is refused, never followed. Under
 * an overlaid dir the new dirs land in that overlay's upper layer (the data
 * dir); elsewhere on the host. Returns an O_PATH fd of the mount point. */
static int make_mount_point(Guard *g, const char *path, bool create) {
        char buf[PROTO_PATH_MAX + 1], *save = NULL;
        int dfd, parent = -EBADF;

        snprintf(buf, sizeof buf, "%s", path);
        dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                guard_fail(g, negative_errno(), "open /");
        for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                int fd;

                if (create && mkdirat(dfd, c, 0755) < 0 && errno != EEXIST)
                        guard_fail(g, negative_errno(), "create app_exec_dir %s (at \"%s\")", path, c);
                fd = openat(dfd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        guard_fail(g, negative_errno(), "app_exec_dir %s: \"%s\" is a symlink or not a directory",
                                   path, c);
                safe_close(parent);
                parent = dfd;
                dfd = fd;
        }
        /* The mount point lies in the directory the request's check saw as
         * its parent (plan.h says when it recorded one), not in one renamed
         * there since. */
        if (parent >= 0)
                check_identity(g, parent, g->plan->exec_parent_dev, g->plan->exec_parent_ino,
                               "app_exec_dir %.256s: its parent", path);
        safe_close(parent);
        return dfd;
}

/* Makes the mount at mount_point writable if it is still the mount e
 * names (its ID): one covered since, or whose path now leads elsewhere,
 * stays read-only, the safe side. */
static void make_writable(Guard *g, const MountEntry *e) {
        _cleanup_close_ int target = mount_open_target(e->mount_point);
        int id, r;

        if (target < 0)
                return;
        r = mount_id_of(target, &id);
        if (r < 0)
                guard_fail(g, r, "mount ID of %s", e->mount_point);
        if (id != e->id)
                return;
        r = g->mnt->set_readonly(target, false);
        if (r < 0)
                guard_fail(g, r, "make %s writable", e->mount_point);
}

static void make_readonly(Guard *g) {
        const Plan *p = g->plan;
        MountTable before = {};
        int r;

        /* Shared paths that are not mounts of their own get one, so that
         * their write access can differ from their parent's. */
        for (size_t i = 0; i < p->n_shared_paths; i++) {
                const char *path = p->shared_paths[i];
                struct stat st;

                if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) || is_mount_root(path))
                        continue;
                r = bind_onto_itself(path);
                if (r < 0)
                        guard_fail(g, r, "bind %s", path);
        }
        /* A shared path is shared as the host has it: each mount under it
         * keeps its own read-only flag. So which were writable is read
         * before everything is made read-only, and only those are made
         * writable again, one by one; never recursively, which would make
         * writable a mount the host has read-only (issue 18.1). */
        r = mount_table_read(&before);
        if (r < 0)
                guard_fail(g, r, "read the mount table");
        r = g->mnt->set_readonly_tree("/");
        if (r < 0)
                guard_fail(g, r, "make the host tree read-only");
        for (size_t i = 0; i < p->n_shared_paths; i++) {
                const char *path = p->shared_paths[i];
                struct stat st;

                if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                for (size_t j = 0; j < before.n; j++)
                        if (!before.entries[j].ro && path_contains(path, before.entries[j].mount_point))
                                make_writable(g, &before.entries[j]);
        }
        mount_table_done(&before);
        for (size_t i = 0; i < p->n_overlays; i++) {
                _cleanup_close_ int target = mount_open_target(p->overlays[i].dir);

                if (target < 0)
                        guard_fail(g, target, "open overlay %s", p->overlays[i].dir);
                r = g->mnt->set_readonly(target, false);
                if (r < 0)
                        guard_fail(g, r, "make overlay %s writable", p->overlays[i].dir);
        }
}

/* A private network namespace has only a loopback device, down: up it.
 * Through an AF_UNIX socket: interface ioctls work on any socket, and the
 * shipped unit lets rockerd, so its guards, make AF_UNIX sockets only
 * (RestrictAddressFamilies=AF_UNIX). */
static void make_loopback(Guard *g) {
        struct ifreq ifr = {};
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                guard_fail(g, negative_errno(), "socket for lo");
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                guard_fail(g, negative_errno(), "get the flags of lo");
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                guard_fail(g, negative_errno(), "bring lo up");
}

static void make_proc(Guard *g) {
        if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                guard_fail(g, negative_errno(), "mount /proc");
        for (size_t i = 0; proc_readonly_paths[i]; i++) {
                int r;

                if (access(proc_readonly_paths[i], F_OK) < 0)
                        continue;
                r = bind_onto_itself(proc_readonly_paths[i]);
                if (r < 0)
                        guard_fail(g, r, "bind %s", proc_readonly_paths[i]);
                r = g->mnt->set_readonly_tree(proc_readonly_paths[i]);
                if (r < 0)
                        guard_fail(g, r, "make %s read-only", proc_readonly_paths[i]);
        }
}

static void drop_privileges(Guard *g) {
        static const cap_value_t kill_only[] = { CAP_KILL };
        const char *step = "";
        cap_t keep;
        int r;

        /* The guard only waits, reaps and, on a stop, forwards SIGTERM to the
         * rocker's processes, which run as another uid: CAP_KILL is all it
         * keeps (effective and permitted only; it never execs, so the empty
         * bounding set does not matter to it). kill(-1) from a PID
         * namespace's init reaches that namespace's processes only. It runs
         * no untrusted code and is not dumpable (docs/security.md). The
         * same drop as every app process's (caps.h), staying root. */
        keep = cap_init();
        if (!keep)
                guard_fail(g, negative_errno(), "drop capabilities: cap_init");
        if (cap_set_flag(keep, CAP_EFFECTIVE, 1, kill_only, CAP_SET) < 0 ||
            cap_set_flag(keep, CAP_PERMITTED, 1, kill_only, CAP_SET) < 0)
                guard_fail(g, negative_errno(), "drop capabilities: cap_set_flag");
        r = caps_drop(keep, NULL, &step);
        if (r < 0)
                guard_fail(g, r, "drop capabilities: %s", step);
        (void) cap_free(keep);
        /* Not dumpable: no process of the rocker may ptrace it or read its memory. */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                guard_fail(g, negative_errno(), "clear dumpable");
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

static void reap_orphans(void) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

/* At most this many pidfds are watched at once: a rocker with more processes
 * is rescanned whenever one of the watched ones exits (and the namespace is
 * only taken for empty after a full scan found nothing alive). */
#define STOP_WATCH_MAX 256

/* Opens pidfds of the processes of the rocker that have not exited yet (a
 * zombie counts as exited: the launcher, whose child the app is, may not
 * have reaped it yet, and nothing here can). Returns how many, up to max. */
static size_t watch_live_processes(struct pollfd *fds, size_t max) {
        _cleanup_closedir_ DIR *d = NULL;
        size_t n = 0;
        pid_t pid;

        /* This /proc is the rocker's own (make_proc()): it shows exactly the
         * processes of its PID namespace. */
        if (procfs_pids_open(PROCFS_AT, &d) < 0)
                return 0;
        while (n < max && procfs_pid_next(d, &pid)) {
                struct pollfd p;

                if (pid <= 1)
                        continue;
                p = (struct pollfd) { .fd = pidfd_open(pid, 0), .events = POLLIN };
                if (p.fd < 0)
                        continue;  /* gone meanwhile */
                /* A pidfd is readable once its process has exited (zombie or reaped). */
                if (poll(&p, 1, 0) != 0 || (p.revents & POLLIN)) {
                        close(p.fd);
                        continue;
                }
                fds[n++] = p;
        }
        return n;
}

static void close_watched(struct pollfd *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                close(fds[i].fd);
}

/* A graceful stop: SIGTERM to every process of the rocker, then wait until
 * each has exited or the grace period is over, then SIGKILL whatever is
 * left and end (the kernel kills the rest of the namespace with us anyway).
 * The app process is the launcher's child, not ours: the guard cannot
 * waitpid() it, so it watches pidfds of what its /proc shows. */
_Noreturn static void stop_rocker(Guard *g, uint64_t grace_usec) {
        GuardReport rep = { .state = GUARD_REPORT_STOPPING };
        uint64_t deadline = now_usec() + grace_usec;
        struct pollfd fds[STOP_WATCH_MAX];

        /* rockerd learns that the rocker is ending: a relaunch on its data
         * dir waits for it, as for a killed one. */
        rep.stop_grace_ms = (uint32_t) (grace_usec / 1000);
        if (g->status_fd >= 0)
                (void) send(g->status_fd, &rep, sizeof rep, MSG_NOSIGNAL | MSG_DONTWAIT);
        /* With CAP_KILL: the processes run as the app's uid. */
        (void) kill(-1, SIGTERM);
        for (;;) {
                size_t n;
                uint64_t now;
                int r;

                reap_orphans();
                n = watch_live_processes(fds, STOP_WATCH_MAX);
                if (n == 0)
                        _exit(0);
                now = now_usec();
                if (now >= deadline) {
                        close_watched(fds, n);
                        break;
                }
                /* Wakes when any watched process exits; then a rescan
                 * finds processes forked meanwhile. */
                r = ppoll(fds, n, &(struct timespec) { .tv_sec = (time_t) ((deadline - now) / 1000000),
                                                       .tv_nsec = (long) ((deadline - now) % 1000000) * 1000 },
                          NULL);
                close_watched(fds, n);
                if (r < 0 && errno != EINTR)
                        break;
        }
        (void) kill(-1, SIGKILL);
        _exit(GUARD_EXIT_STOP_FORCED);
}

/* The grace of a stop: the plan's StopTimeoutSec=, unless the sender queued
 * its own in milliseconds (sigqueue(), as ROCKER_stop_rocker() does). Only a
 * process allowed to signal this root process can send either. */
static uint64_t stop_grace(const Guard *g, const siginfo_t *si) {
        if (si->si_code == SI_QUEUE && si->si_value.sival_int >= 0 &&
            (uint64_t) si->si_value.sival_int * 1000ULL <= 3600ULL * 1000000ULL)
                return (uint64_t) si->si_value.sival_int * 1000ULL;
        return g->plan->stop_timeout_usec;
}

static void stop_signals(sigset_t *set) {
        sigemptyset(set);
        sigaddset(set, SIGCHLD);
        sigaddset(set, SIGTERM);
        sigaddset(set, SIGINT);
        sigaddset(set, SIGHUP);
}

_Noreturn static void reap_forever(Guard *g) {
        sigset_t set;

        /* Blocked by guard_run() before it reported ready. */
        stop_signals(&set);
        for (;;) {
                siginfo_t si;
                int sig;

                /* Orphans of the rocker are reparented to us: reap them. A
                 * signal arriving between the loop and sigwaitinfo() stays
                 * pending, so none is missed. */
                reap_orphans();
                sig = sigwaitinfo(&set, &si);
                if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
                        stop_rocker(g, stop_grace(g, &si));
        }
}

/* The command line a guard shows (ps, pgrep -f): its own name, not
 * rockerd's, which it inherits with rockerd's memory — or "pkill -f
 * rockerd" would end every rocker. Set once by main(). */
char *guard_cmdline_area;
size_t guard_cmdline_size;

static void set_cmdline(const char *name) {
        if (!guard_cmdline_area || guard_cmdline_size == 0)
                return;
        memset(guard_cmdline_area, 0, guard_cmdline_size);
        snprintf(guard_cmdline_area, guard_cmdline_size, "%s", name);
}

_Noreturn void guard_run(const Plan *plan, const MountOps *mnt, const char *name, int image_fd, int status_fd) {
        Guard g = { .plan = plan, .mnt = mnt, .status_fd = status_fd, .image_fd = image_fd };
        GuardReport ready = { .state = GUARD_REPORT_READY };
        int exec_fd;

        for (size_t i = 0; i < PROTO_OVERLAY_MAX; i++)
                g.overlay_fds[i] = -EBADF;
        reset_process(&g);

        if (plan->private_network)
                make_loopback(&g);

        /* 2. Without this, every mount below would propagate to the host. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                guard_fail(&g, negative_errno(), "make the mount tree private");

        make_overlays(&g);
        /* Created while the tree is writable; opened again after the binds
         * of make_readonly(), whose mounts may now cover the first walk. */
        safe_close(make_mount_point(&g, plan->exec_dir, !plan->exec_dir_no_create));
        make_readonly(&g);
        if (plan->private_dev) {
                const char *step = "";
                int r = dev_make_private(plan, &step);

                if (r < 0)
                        guard_fail(&g, r, "private /dev: %s", step);
        }
        if (plan->private_run_user) {
                const char *step = "";
                int r = rundir_make_private(plan, &step);

                if (r < 0)
                        guard_fail(&g, r, "private /run/user: %s", step);
        }
        exec_fd = make_mount_point(&g, plan->exec_dir, false);

        /* 6. The image clone was made read-only, nosuid and nodev by rockerd;
         * it goes onto the very directory checked above, by fd. */
        if (move_mount(g.image_fd, "", exec_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                guard_fail(&g, negative_errno(), "attach the image at %s", plan->exec_dir);
        g.image_fd = safe_close(g.image_fd);
        exec_fd = safe_close(exec_fd);
        make_proc(&g);
        if (chdir("/") < 0)
                guard_fail(&g, negative_errno(), "chdir /");

        if (prctl(PR_SET_NAME, name, 0, 0, 0) < 0)
                guard_fail(&g, negative_errno(), "set the guard's name");
        set_cmdline(name);
        drop_privileges(&g);

        /* From here a stop signal is a graceful stop (reap_forever()): an
         * app may run as soon as rockerd has the report. */
        {
                sigset_t set;

                stop_signals(&set);
                if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
                        guard_fail(&g, negative_errno(), "block the stop signals");
        }
        if (send(g.status_fd, &ready, sizeof ready, MSG_NOSIGNAL) != (ssize_t) sizeof ready)
                _exit(1);  /* rockerd is gone: nobody could ever use this rocker */
        /* The status socket stays open: a stop is reported on it. */
        reap_forever(&g);
}
