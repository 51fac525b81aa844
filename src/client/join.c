/* SPDX-License-Identifier: MIT */
/*
 * The caller must not change: not its namespaces, credentials, fds, signal
 * state nor its children's list beyond the one app process. So the joining is
 * done in a forked helper, and the app is created from there with
 * CLONE_PARENT, which makes it the caller's child: the caller can waitpid()
 * it and gets SIGCHLD for it (the helper's own exit signal).
 *
 * After fork() only async-signal-safe work is done until app() runs: raw
 * syscalls, the libcap calls on a cap_t allocated before the fork and the
 * loading of a seccomp program built before it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/keyctl.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/capability.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "join.h"
#include "macro.h"
#include "procfs.h"
#include "seccomp.h"
#include "util.h"

/* CLONE_NEWNET too: the app gets the guard's network namespace, which is
 * rockerd's (the host's, as a rule: not necessarily the caller's) or the
 * rocker's private one. */
#define ROCKER_NAMESPACES (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP | CLONE_NEWNET)

enum {
        STAGE_OK,
        STAGE_SETNS,
        STAGE_CLONE,
};

/* The app's PID inside its rocker (issue 16.2). Every app used to be PID 2,
 * so pid-named files in the shared /tmp and D-Bus names built from the PID
 * collided across rockers. The app is created with clone3(set_tid) (Linux
 * 5.5; needs CAP_SYS_ADMIN over the rocker's PID namespace, which a root
 * caller has): the app of a new rocker as the PID its guard has in the
 * caller's PID namespace. That PID is held by the live guard, so no two live
 * rockers' apps get the same one, and no live host process has it either,
 * whatever pid_max is. A joined process, or an app whose guard PID is
 * refused, gets a random PID in [PID_RANDOM_MIN, pid_max), a few tries
 * over, then whatever the kernel gives. The new process also writes a random value to
 * the rocker's ns_last_pid, so that its children are not numbered 2, 3, ...
 * in every rocker either. */
#define PID_RANDOM_MIN 1024
#define PID_TRIES 8

typedef struct PidPlan {
        pid_t tids[PID_TRIES];  /* candidates in order; 0 ends the list */
        int ns_last_pid_fd;     /* the caller's /proc/sys/kernel/ns_last_pid, or -1 */
        char ns_last_pid[16];   /* what to write to it, formatted before the fork */
} PidPlan;

/* The PID of the process behind pidfd in our PID namespace, or 0. */
static pid_t pidfd_pid(int pidfd) {
        int pid = pidfd_get_pid(pidfd);

        return pid > 0 ? (pid_t) pid : 0;
}

static long read_pid_max(void) {
        char buf[32];

        return procfs_read(PROCFS_AT, PROCFS_TOP, "sys/kernel/pid_max", buf, sizeof buf) > 0 ? atol(buf) : 0;
}

/* Everything the helper and the app need to pick PIDs, made before the fork
 * (after it, only raw system calls). */
static void pid_plan_make(int pidfd, bool as_guard_pid, PidPlan *ret) {
        long pid_max = read_pid_max();
        uint32_t rnd[PID_TRIES + 1];
        size_t n = 0;
        pid_t guard;

        memset(ret, 0, sizeof *ret);
        ret->ns_last_pid_fd = -1;
        guard = as_guard_pid ? pidfd_pid(pidfd) : 0;
        if (guard > 1 && (pid_max <= 0 || guard < pid_max))
                ret->tids[n++] = guard;
        if (pid_max <= PID_RANDOM_MIN + PID_TRIES ||
            getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t) sizeof rnd)
                return;
        while (n < PID_TRIES) {
                ret->tids[n] = PID_RANDOM_MIN + (pid_t) (rnd[n] % (uint32_t) (pid_max - PID_RANDOM_MIN));
                n++;
        }
        /* Written by the new process, whose active PID namespace is the
         * rocker's: the kernel sets the counter of the writer's namespace,
         * whichever /proc the fd came from (the rocker's /proc/sys is
         * read-only). The next PID is the value + 1. */
        snprintf(ret->ns_last_pid, sizeof ret->ns_last_pid, "%u",
                 (unsigned) (PID_RANDOM_MIN + rnd[PID_TRIES] % (uint32_t) (pid_max - PID_RANDOM_MIN - 1)));
        ret->ns_last_pid_fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
}

/* clone3(CLONE_PARENT) with each candidate PID in turn, then without; into
 * the rocker's cgroup (Linux 5.7) if it has one. */
static long clone_app(const PidPlan *pp, int cgroup_fd) {
        struct clone_args args;
        long pid = -1;

        /* CLONE_PARENT requires exit_signal 0: the child inherits ours. */
        for (size_t i = 0; i < PID_TRIES && pp->tids[i] > 0; i++) {
                pid_t tid = pp->tids[i];

                memset(&args, 0, sizeof args);
                args.flags = CLONE_PARENT | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
                args.cgroup = cgroup_fd >= 0 ? (uint64_t) cgroup_fd : 0;
                args.set_tid = (uint64_t) (uintptr_t) &tid;
                args.set_tid_size = 1;
                pid = syscall(SYS_clone3, &args, sizeof args);
                /* EEXIST: taken; EINVAL: beyond the namespace's pid_max;
                 * EPERM: no CAP_SYS_ADMIN over it. */
                if (pid >= 0 || (errno != EEXIST && errno != EINVAL && errno != EPERM))
                        return pid;
                if (errno == EPERM)
                        break;
        }
        memset(&args, 0, sizeof args);
        args.flags = CLONE_PARENT | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0);
        args.cgroup = cgroup_fd >= 0 ? (uint64_t) cgroup_fd : 0;
        return syscall(SYS_clone3, &args, sizeof args);
}

/* What the helper reports to the caller through a pipe. */
typedef struct HelperReport {
        int32_t stage;
        int32_t error;    /* errno */
        int32_t app_pid;
} HelperReport;

static void report(int fd, int32_t stage, int32_t error, int32_t app_pid) {
        HelperReport rep = { .stage = stage, .error = error, .app_pid = app_pid };

        (void) !write(fd, &rep, sizeof rep);
}

/* Raw reads and writes of /proc/self/oom_score_adj (the rocker's /proc,
 * which shows this process). 0 or -1. */
static int oom_score_adj_not_negative(void) {
        char buf[16] = "";
        ssize_t n;
        int fd;

        fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return -1;
        n = read(fd, buf, sizeof buf - 1);
        if (n <= 0 || (buf[0] == '-' && pwrite(fd, "0", 1, 0) != 1)) {
                close(fd);
                return -1;
        }
        return close(fd);
}

/* True if ROCKER_FORCE_FALLBACK (docs/kernels.md) names "all" or name. */
static bool fallback_forced(const char *name) {
        const char *v = secure_getenv("ROCKER_FORCE_FALLBACK");
        size_t n = strlen(name);

        while (v && *v) {
                size_t k = strcspn(v, ",");

                if ((k == 3 && !strncmp(v, "all", 3)) || (k == n && !strncmp(v, name, n)))
                        return true;
                v += k + (v[k] == ',');
        }
        return false;
}

/* Marks every fd from 3 on close-on-exec. close_range() takes
 * CLOSE_RANGE_CLOEXEC from Linux 5.11; before (EINVAL), each fd listed in
 * /proc/self/fd is marked, read with getdents64 into the stack: no
 * allocation in this raw clone. */
static int cloexec_from_3(void) {
        _cleanup_close_ int dir = -EBADF;
        char buf[4096];
        long n;

        if (!fallback_forced("cloexec-walk") && close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
                return 0;
        if (!fallback_forced("cloexec-walk") && errno != EINVAL)
                return -1;
        dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return -1;
        while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0)
                for (long off = 0; off < n;) {
                        struct {
                                uint64_t ino;
                                int64_t off;
                                unsigned short reclen;
                                unsigned char type;
                                char name[];
                        } *d = (void *) (buf + off);
                        int fd = 0;
                        bool number = d->name[0] != '\0';

                        for (const char *c = d->name; *c && number; c++) {
                                number = *c >= '0' && *c <= '9' && fd < 100000000;
                                fd = fd * 10 + (*c - '0');
                        }
                        if (number && fd >= 3 && fd != dir && fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
                                return -1;
                        off += d->reclen;
                }
        return n < 0 ? -1 : 0;
}

/* In the app process: become the app's user, with nothing more. Any failure
 * here ends the process with status 127, before app() could run. */
static void become_app(uid_t uid, gid_t gid, cap_t empty, const struct sock_fprog *filter) {
        if (chdir("/") < 0)
                _exit(127);
        /* Its own session: no controlling terminal, so no TIOCSTI into the
         * launcher's. */
        if (setsid() < 0)
                _exit(127);
        /* A launcher protected from the OOM killer (systemd's
         * OOMScoreAdjust=, often -1000 for a session's core) must not pass
         * that on to an untrusted app: a negative value becomes 0, a
         * positive one (the launcher's choice to die first) stays. */
        if (oom_score_adj_not_negative() < 0)
                _exit(127);
        /* Not the launcher's session keyring: a fresh anonymous one. */
        if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0)
                _exit(127);
        /* Every capability, the bounding and ambient sets, the caller's
         * groups, then no_new_privs (caps.h has the order and why). */
        if (caps_drop(empty, &(CapsUser) { .uid = uid, .gid = gid }, NULL) < 0)
                _exit(127);
        if (seccomp_program_load(filter) < 0)
                _exit(127);
        if (cloexec_from_3() < 0)
                _exit(127);
}

_Noreturn static void helper(int pidfd, int cgroup_fd, int report_fd, uid_t uid, gid_t gid, int (*app)(void *),
                             void *app_args, int close_in_app, cap_t empty, const sigset_t *caller_mask,
                             const PidPlan *pp, const struct sock_fprog *filter) {
        long pid;

        safe_close(close_in_app);
        /* With a cgroup of the rocker's own, its cgroup namespace is joined
         * by the app itself, after the clone: the kernel lets a process be
         * cloned into a cgroup only from where the cloner's cgroup
         * namespace sees both the source and the target cgroup, and the
         * rocker's namespace sees only the rocker's cgroup. */
        if (setns(pidfd, cgroup_fd >= 0 ? ROCKER_NAMESPACES & ~CLONE_NEWCGROUP : ROCKER_NAMESPACES) < 0) {
                report(report_fd, STAGE_SETNS, errno, 0);
                _exit(1);
        }
        pid = clone_app(pp, cgroup_fd);
        if (pid < 0) {
                report(report_fd, STAGE_CLONE, errno, 0);
                _exit(1);
        }
        if (pid == 0) {
                int r;

                safe_close(report_fd);
                if (cgroup_fd >= 0 && setns(pidfd, CLONE_NEWCGROUP) < 0)
                        _exit(127);
                safe_close(cgroup_fd);
                safe_close(pidfd);
                /* Still root with every capability: the kernel checks
                 * CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE) over the rocker's
                 * PID namespace. Best effort: the app runs either way. */
                if (pp->ns_last_pid_fd >= 0) {
                        (void) !write(pp->ns_last_pid_fd, pp->ns_last_pid, strlen(pp->ns_last_pid));
                        safe_close(pp->ns_last_pid_fd);
                }
                become_app(uid, gid, empty, filter);
                /* What the caller had buffered is the caller's to write. */
                __fpurge(stdout);
                __fpurge(stderr);
                /* The caller's signal mask; the helper ran with all blocked. */
                if (sigprocmask(SIG_SETMASK, caller_mask, NULL) < 0)
                        _exit(127);
                r = app(app_args);
                fflush(NULL);
                _exit(r);
        }
        report(report_fd, STAGE_OK, 0, (int32_t) pid);
        _exit(0);
}

/* The caller's buffered output must not be written twice (by the caller
 * and by an app that exits). fflush(NULL) takes the lock of every stream,
 * and blocks while another thread holds one (one sitting in fgets(stdin),
 * say): in a caller with threads, only stdout and stderr are flushed, and
 * only if free. The app drops its copies of those two anyway. */
static void flush_caller_output(void) {
        char buf[2048], threads[16];
        int n;

        n = procfs_read(PROCFS_AT, PROCFS_SELF, "status", buf, sizeof buf);
        if (n > 0 && procfs_status_field(buf, (size_t) n, "Threads", threads, sizeof threads) == 0 &&
            strcmp(threads, "1") == 0) {
                fflush(NULL);
                return;
        }
        FILE *streams[] = { stdout, stderr };
        for (size_t i = 0; i < 2; i++)
                if (ftrylockfile(streams[i]) == 0) {
                        (void) fflush_unlocked(streams[i]);
                        funlockfile(streams[i]);
                }
}

/* Waits for the helper's report, or for its death: another thread of the
 * caller that forks meanwhile would hold the pipe's write end, and its EOF
 * would never come. The report's length, 0 if the helper died without one. */
static ssize_t read_report(int rfd, pid_t helper_pid, HelperReport *rep) {
        _cleanup_close_ int hfd = (int) pidfd_open(helper_pid, 0);  /* our unreaped child */
        struct pollfd p[2] = { { .fd = rfd, .events = POLLIN }, { .fd = hfd, .events = POLLIN } };
        ssize_t n;

        while (poll(p, hfd >= 0 ? 2 : 1, -1) < 0)
                if (errno != EINTR)
                        return -1;
        if (!(p[0].revents & (POLLIN | POLLHUP))) {
                /* The helper has exited. poll() looks at its fds in turn,
                 * so it may have found the pipe empty just before the helper
                 * reported and exited, and the helper gone just after: what
                 * it wrote is in the pipe now. Look again, without waiting. */
                p[0].revents = 0;
                if (poll(p, 1, 0) <= 0 || !(p[0].revents & (POLLIN | POLLHUP)))
                        return 0;  /* exited without a word */
        }
        do
                n = read(rfd, rep, sizeof *rep);
        while (n < 0 && errno == EINTR);
        return n;
}

/* The rocker's own cgroup, opened for CLONE_INTO_CGROUP: the cgroup the
 * kernel says its guard is in (/proc/<pid>/cgroup, read while the pidfd
 * pins that pid, and checked after), if it bears the rocker's stable name
 * (docs/cgroups.md). No path comes from the request or the daemon. -ENOENT
 * if the rocker has none (no cgroup v2, Cgroups=no, an older rockerd): the
 * app then stays in the caller's cgroup. */
static int rocker_cgroup_open(int pidfd, const char *guard_name) {
        static const char *const roots[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
        char buf[4096], cg[PATH_MAX];
        pid_t pid = pidfd_pid(pidfd);
        int fd;

        if (pid <= 0 || !guard_name)
                return -ENOENT;
        if (procfs_read(PROCFS_AT, pid, "cgroup", buf, sizeof buf) <= 0)
                return -ENOENT;
        /* still the guard: the pid was not reused while we read */
        if (pidfd_send_signal(pidfd, 0, NULL, 0) < 0)
                return -ESRCH;
        if (proc_cgroup_parse(buf, cg, sizeof cg) < 0 || !cgroup_path_is_rockers(cg, guard_name))
                return -ENOENT;
        for (size_t i = 0; i < 2; i++) {
                struct statfs sf;
                int root;

                if (statfs(roots[i], &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC)
                        continue;
                root = open(roots[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (root < 0)
                        return negative_errno();
                fd = openat(root, cg + 1, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0)
                        fd = negative_errno();
                safe_close(root);
                return fd;
        }
        return -ENOENT;
}

ROCKER_ERR join_and_spawn(int pidfd, const char *guard_name, uid_t uid, gid_t gid, int (*app)(void *),
                          void *app_args, int close_in_app, unsigned flags, pid_t *ret_app_pid, RkError *err) {
        _cleanup_close_ int rfd = -EBADF, wfd = -EBADF, cgroup_fd = -EBADF;
        HelperReport rep = {};
        PidPlan pp;
        int fds[2], status = 0;
        sigset_t all, caller_mask;
        cap_t empty;
        pid_t helper_pid;
        ssize_t n;
        int r;
        /* Built here (once per process), where allocating is allowed; the
         * app only loads it. */
        const struct sock_fprog *filter;

        r = seccomp_program_get(flags & JOIN_USER_NAMESPACES, &filter);
        if (r < 0) {
                (void) rk_error(err, r, "cannot build the system call filter: libseccomp: %m");
                return ROCKER_ERR_sys;
        }
        empty = cap_init();  /* all clear */
        if (!empty) {
                (void) rk_error(err, errno, "cap_init: %m");
                return ROCKER_ERR_sys;
        }
        if (pipe2(fds, O_CLOEXEC) < 0) {
                (void) rk_error(err, errno, "pipe2: %m");
                cap_free(empty);
                return ROCKER_ERR_sys;
        }
        rfd = fds[0];
        wfd = fds[1];
        cgroup_fd = rocker_cgroup_open(pidfd, guard_name);
        if (cgroup_fd < 0 && cgroup_fd != -ENOENT) {
                (void) rk_error(err, cgroup_fd, "cannot open the rocker's cgroup: %m");
                cap_free(empty);
                return cgroup_fd == -ESRCH ? ROCKER_ERR_enter_rocker_failed : ROCKER_ERR_sys;
        }

        flush_caller_output();
        /* The helper must not run the caller's signal handlers (an atexit
         * or a self-pipe write from a copy of the caller): every signal is
         * blocked from before the fork; the caller's mask comes back at
         * once, and in the app just before app(). */
        sigfillset(&all);
        r = pthread_sigmask(SIG_SETMASK, &all, &caller_mask);
        if (r != 0) {
                (void) rk_error(err, r, "pthread_sigmask: %m");
                cap_free(empty);
                return ROCKER_ERR_sys;
        }
        pid_plan_make(pidfd, flags & JOIN_AS_GUARD_PID, &pp);
        helper_pid = fork();
        if (helper_pid == 0) {
                rfd = safe_close(rfd);
                helper(pidfd, cgroup_fd, wfd, uid, gid, app, app_args, close_in_app, empty, &caller_mask, &pp,
                       filter);
        }
        safe_close(pp.ns_last_pid_fd);
        (void) pthread_sigmask(SIG_SETMASK, &caller_mask, NULL);  /* a mask it had: cannot fail */
        if (helper_pid < 0) {
                (void) rk_error(err, errno, "fork: %m");
                cap_free(empty);
                return ROCKER_ERR_app_exec_failed;
        }
        wfd = safe_close(wfd);
        cap_free(empty);

        n = read_report(rfd, helper_pid, &rep);
        /* The helper is ours to reap; the caller's SIGCHLD handler may have
         * beaten us to it (ECHILD), which is fine. */
        while (waitpid(helper_pid, &status, 0) < 0 && errno == EINTR)
                ;

        if (n != (ssize_t) sizeof rep) {
                if (WIFSIGNALED(status))
                        (void) rk_error(err, ECHILD, "the join helper was killed by signal %d before reporting", WTERMSIG(status));
                else
                        (void) rk_error(err, ECHILD, "the join helper died before reporting (status 0x%x)", (unsigned) status);
                return ROCKER_ERR_app_exec_failed;
        }
        if (rep.stage == STAGE_SETNS) {
                (void) rk_error(err, rep.error, "cannot join the rocker's namespaces: setns: %m");
                return ROCKER_ERR_enter_rocker_failed;
        }
        if (rep.stage == STAGE_CLONE) {
                (void) rk_error(err, rep.error, "cannot create the app process: clone3: %m");
                return ROCKER_ERR_app_exec_failed;
        }
        *ret_app_pid = (pid_t) rep.app_pid;
        return ROCKER_ERR_success;
}
