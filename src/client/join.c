/* SPDX-License-Identifier: MIT */
/*
 * The caller must not change: not its namespaces, credentials, fds, signal
 * state nor its children's list beyond the one app process. So the joining is
 * done in a forked helper, and the app is created from there with
 * CLONE_PARENT, which makes it the caller's child: the caller can waitpid()
 * it and gets SIGCHLD for it (the helper's own exit signal).
 *
 * After fork() only async-signal-safe work is done until app() runs: raw
 * syscalls and the libcap calls on a cap_t allocated before the fork.
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
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "join.h"
#include "lasterr.h"
#include "macro.h"
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

/* In the app process: become the app's user, with nothing more. Any failure
 * here ends the process with status 127, before app() could run. */
static void become_app(uid_t uid, gid_t gid, cap_t empty) {
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
        /* The bounding set needs CAP_SETPCAP: drop it while we have it, up
         * to the kernel's last capability (EINVAL), not the headers'. */
        for (cap_value_t cap = 0;; cap++)
                if (cap_drop_bound(cap) < 0) {
                        if (errno == EINVAL && cap > 0)
                                break;
                        _exit(127);
                }
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
                _exit(127);
        /* Raw syscalls: glibc's wrappers would try to synchronise threads
         * this process (a raw clone) does not know the state of. */
        if (syscall(SYS_setgroups, 0, NULL) < 0 ||
            syscall(SYS_setresgid, gid, gid, gid) < 0 ||
            syscall(SYS_setresuid, uid, uid, uid) < 0)
                _exit(127);
        if (cap_set_proc(empty) < 0)
                _exit(127);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                _exit(127);
        if (seccomp_install() < 0)
                _exit(127);
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                _exit(127);
}

_Noreturn static void helper(int pidfd, int cgroup_fd, int report_fd, uid_t uid, gid_t gid, int (*app)(void *),
                             void *app_args, int close_in_app, cap_t empty, const sigset_t *caller_mask) {
        struct clone_args args;
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
        /* CLONE_PARENT requires exit_signal 0: the child inherits ours. */
        memset(&args, 0, sizeof args);
        args.flags = CLONE_PARENT;
        if (cgroup_fd >= 0) {
                /* Born in the rocker's cgroup, under its limits (Linux 5.7). */
                args.flags |= CLONE_INTO_CGROUP;
                args.cgroup = (uint64_t) cgroup_fd;
        }
        pid = syscall(SYS_clone3, &args, sizeof args);
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
                become_app(uid, gid, empty);
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
        char buf[2048], *p;
        ssize_t n;
        int fd;

        fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
        n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        if (fd >= 0)
                close(fd);
        if (n > 0) {
                buf[n] = '\0';
                p = strstr(buf, "\nThreads:\t");
                if (p && p[10] == '1' && p[11] == '\n') {
                        fflush(NULL);
                        return;
                }
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
 * would never come. The report's length, 0 if the helper died first. */
static ssize_t read_report(int rfd, pid_t helper_pid, HelperReport *rep) {
        _cleanup_close_ int hfd = (int) pidfd_open(helper_pid, 0);  /* our unreaped child */
        struct pollfd p[2] = { { .fd = rfd, .events = POLLIN }, { .fd = hfd, .events = POLLIN } };
        ssize_t n;

        while (poll(p, hfd >= 0 ? 2 : 1, -1) < 0)
                if (errno != EINTR)
                        return -1;
        if (!(p[0].revents & (POLLIN | POLLHUP)))
                return 0;  /* exited without a word */
        do
                n = read(rfd, rep, sizeof *rep);
        while (n < 0 && errno == EINTR);
        return n;
}

/* The pid behind a pidfd, in our PID namespace, from its fdinfo. */
static pid_t pidfd_pid(int pidfd) {
        char path[64], buf[1024], *p;
        ssize_t n;
        int fd;

        snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        safe_close(fd);
        if (n <= 0)
                return -1;
        buf[n] = '\0';
        p = strstr(buf, "\nPid:\t");
        return p ? (pid_t) strtol(p + 6, NULL, 10) : -1;
}

/* The rocker's own cgroup, opened for CLONE_INTO_CGROUP: the cgroup the
 * kernel says its guard is in (/proc/<pid>/cgroup, read while the pidfd
 * pins that pid, and checked after), if it bears the rocker's stable name
 * (docs/cgroups.md). No path comes from the request or the daemon. -ENOENT
 * if the rocker has none (no cgroup v2, Cgroups=no, an older rockerd): the
 * app then stays in the caller's cgroup. */
static int rocker_cgroup_open(int pidfd, const char *guard_name) {
        static const char *const roots[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
        char path[64], buf[4096], cg[PATH_MAX];
        pid_t pid = pidfd_pid(pidfd);
        ssize_t n;
        int fd;

        if (pid <= 0 || !guard_name)
                return -ENOENT;
        snprintf(path, sizeof path, "/proc/%d/cgroup", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        safe_close(fd);
        if (n <= 0)
                return -ENOENT;
        buf[n] = '\0';
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
                          void *app_args, int close_in_app, pid_t *ret_app_pid) {
        _cleanup_close_ int rfd = -EBADF, wfd = -EBADF, cgroup_fd = -EBADF;
        HelperReport rep = {};
        int fds[2], status = 0;
        sigset_t all, caller_mask;
        cap_t empty;
        pid_t helper_pid;
        ssize_t n;

        empty = cap_init();  /* all clear */
        if (!empty) {
                lasterr_set("cap_init: %s", strerror(errno));
                return ROCKER_ERR_sys;
        }
        if (pipe2(fds, O_CLOEXEC) < 0) {
                lasterr_set("pipe2: %s", strerror(errno));
                cap_free(empty);
                return ROCKER_ERR_sys;
        }
        rfd = fds[0];
        wfd = fds[1];
        cgroup_fd = rocker_cgroup_open(pidfd, guard_name);
        if (cgroup_fd < 0 && cgroup_fd != -ENOENT) {
                lasterr_set("cannot open the rocker's cgroup: %s", strerror(-cgroup_fd));
                cap_free(empty);
                return cgroup_fd == -ESRCH ? ROCKER_ERR_enter_rocker_failed : ROCKER_ERR_sys;
        }

        flush_caller_output();
        /* The helper must not run the caller's signal handlers (an atexit
         * or a self-pipe write from a copy of the caller): every signal is
         * blocked from before the fork; the caller's mask comes back at
         * once, and in the app just before app(). */
        sigfillset(&all);
        if (pthread_sigmask(SIG_SETMASK, &all, &caller_mask) != 0) {
                lasterr_set("pthread_sigmask: failed");
                cap_free(empty);
                return ROCKER_ERR_sys;
        }
        helper_pid = fork();
        if (helper_pid == 0) {
                rfd = safe_close(rfd);
                helper(pidfd, cgroup_fd, wfd, uid, gid, app, app_args, close_in_app, empty, &caller_mask);
        }
        (void) pthread_sigmask(SIG_SETMASK, &caller_mask, NULL);  /* a mask it had: cannot fail */
        if (helper_pid < 0) {
                lasterr_set("fork: %s", strerror(errno));
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
                        lasterr_set("the join helper was killed by signal %d before reporting", WTERMSIG(status));
                else
                        lasterr_set("the join helper died before reporting (status 0x%x)", (unsigned) status);
                return ROCKER_ERR_app_exec_failed;
        }
        if (rep.stage == STAGE_SETNS) {
                lasterr_set("cannot join the rocker's namespaces: setns: %s", strerror(rep.error));
                return ROCKER_ERR_enter_rocker_failed;
        }
        if (rep.stage == STAGE_CLONE) {
                lasterr_set("cannot create the app process: clone3: %s", strerror(rep.error));
                return ROCKER_ERR_app_exec_failed;
        }
        *ret_app_pid = (pid_t) rep.app_pid;
        return ROCKER_ERR_success;
}
