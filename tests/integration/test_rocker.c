/* SPDX-License-Identifier: MIT */
/*
 * End-to-end cases against a real rockerd with real images. Callbacks run in
 * the app process inside the rocker: they cannot use cmocka, so they write
 * "key=value" lines to a pipe, and the test asserts on them after waitpid().
 * Every case ends with harness_assert_clean(): no mount, loop device, guard,
 * daemon fd or own fd more than before.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <poll.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rocker/rocker.h>

#include "harness.h"

typedef struct Probe {
        int fd;                 /* the report pipe's write end */
        const char *exec_dir;
        const char *open_dir;   /* an overlaid host dir, mode 0777 */
        const char *tag;        /* unique per case: names the files written */
        pid_t host_pid;         /* the test process, as the host sees it */
        int ret;                /* what the callback returns */
} Probe;

static const char *status_field(const char *key, char *out, size_t size) {
        FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        size_t k = strlen(key);

        out[0] = '\0';
        while (f && fgets(line, sizeof line, f))
                if (strncmp(line, key, k) == 0 && line[k] == ':') {
                        snprintf(out, size, "%s", line + k + 1 + strspn(line + k + 1, " \t"));
                        out[strcspn(out, "\n")] = '\0';
                }
        if (f)
                fclose(f);
        return out;
}

static int write_file(const char *path, const char *content) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int e;

        if (fd < 0)
                return errno;
        e = write(fd, content, strlen(content)) < 0 ? errno : 0;
        if (fsync(fd) < 0 && !e)
                e = errno;
        close(fd);
        return e;
}

/* Everything issue #2 asks to see from inside. */
static int probe_inside(void *arg) {
        const Probe *p = arg;
        char buf[4096], path[4096];
        struct statvfs sv;
        DIR *d;
        struct dirent *de;
        int n, fd, bad_fds = 0;

        report_say(p->fd, "uid=%d %d", (int) getuid(), (int) geteuid());
        report_say(p->fd, "gid=%d %d", (int) getgid(), (int) getegid());
        report_say(p->fd, "groups=%d", getgroups(0, NULL));
        report_say(p->fd, "CapEff=%s", status_field("CapEff", buf, sizeof buf));
        report_say(p->fd, "CapPrm=%s", status_field("CapPrm", buf, sizeof buf));
        report_say(p->fd, "CapInh=%s", status_field("CapInh", buf, sizeof buf));
        report_say(p->fd, "CapBnd=%s", status_field("CapBnd", buf, sizeof buf));
        report_say(p->fd, "CapAmb=%s", status_field("CapAmb", buf, sizeof buf));
        report_say(p->fd, "NoNewPrivs=%s", status_field("NoNewPrivs", buf, sizeof buf));
        report_say(p->fd, "pid=%d", (int) getpid());
        report_say(p->fd, "sid_is_pid=%d", getsid(0) == getpid());
        if (getcwd(buf, sizeof buf))
                report_say(p->fd, "cwd=%s", buf);

        fd = open("/proc/1/comm", O_RDONLY | O_CLOEXEC);
        n = fd >= 0 ? (int) read(fd, buf, sizeof buf - 1) : -1;
        if (fd >= 0)
                close(fd);
        buf[n > 0 ? n - 1 : 0] = '\0';
        report_say(p->fd, "pid1=%s", buf);

        n = 0;
        d = opendir("/proc");
        while (d && (de = readdir(d)))
                n += de->d_name[0] >= '1' && de->d_name[0] <= '9';
        if (d)
                closedir(d);
        report_say(p->fd, "nprocs=%d", n);
        snprintf(path, sizeof path, "/proc/%d", (int) p->host_pid);
        report_say(p->fd, "host_pid_visible=%d", access(path, F_OK) == 0);

        snprintf(path, sizeof path, "%s/README", p->exec_dir);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        n = fd >= 0 ? (int) read(fd, buf, sizeof buf - 1) : -1;
        if (fd >= 0)
                close(fd);
        buf[n > 0 ? n - 1 : 0] = '\0';
        report_say(p->fd, "readme=%s", buf);
        report_say(p->fd, "exec_ro=%d", statvfs(p->exec_dir, &sv) == 0 && (sv.f_flag & ST_RDONLY) && (sv.f_flag & ST_NOSUID) &&
                                     (sv.f_flag & ST_NODEV));

        snprintf(path, sizeof path, "/var/tmp/rocker-it-%s", p->tag);
        report_say(p->fd, "write_var=%d", write_file(path, "var"));
        snprintf(path, sizeof path, "%s/rocker-it-%s", p->open_dir, p->tag);
        report_say(p->fd, "write_open=%d", write_file(path, "open"));
        snprintf(path, sizeof path, "%s/new", p->exec_dir);
        report_say(p->fd, "write_exec=%d", write_file(path, "x"));

        /* fds >= 3 must all be close-on-exec */
        d = opendir("/proc/self/fd");
        while (d && (de = readdir(d))) {
                int f = atoi(de->d_name);
                if (de->d_name[0] == '.' || f < 3 || f == dirfd(d))
                        continue;
                if (!(fcntl(f, F_GETFD) & FD_CLOEXEC))
                        bad_fds++;
        }
        if (d)
                closedir(d);
        report_say(p->fd, "fds_not_cloexec=%d", bad_fds);
        return p->ret;
}

/* Runs fn in a rocker built from req; returns the result, fills *ret_report
 * with what the app said and *ret_status with its wait status. */
static RockerResult run(RockerRequest *req, int (*fn)(void *), Probe *probe, char **ret_report, int *ret_status) {
        int fds[2];
        RockerResult res;

        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        probe->fd = fds[1];
        probe->exec_dir = req->app_exec_dir;
        probe->open_dir = H.open_dir;
        probe->host_pid = getpid();
        res = ROCKER_enter_rocker(req, fn, probe);
        close(fds[1]);
        if (res.err_no == ROCKER_ERR_success) {
                assert_true(res.app_pid > 0);
                assert_int_equal(waitpid(res.app_pid, ret_status, 0), res.app_pid);
        }
        *ret_report = read_all(fds[0]);
        close(fds[0]);
        return res;
}

static bool exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool exists(const char *fmt, ...) {
        char path[4096];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(path, sizeof path, fmt, ap);
        va_end(ap);
        return access(path, F_OK) == 0;
}

static void test_seed_flow(void **state) {
        char buf[1024], *report;
        Probe probe = { .tag = "seed", .ret = 0 };
        RockerRequest req = harness_request("seed", buf, sizeof buf);
        RockerResult res, res2;
        int status;

        (void) state;
        res = run(&req, probe_inside, &probe, &report, &status);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        assert_string_equal(ROCKER_last_error(), "");
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        report_expect(report, "uid", "1000 1000");
        report_expect(report, "gid", "1000 1000");
        report_expect(report, "groups", "0");
        report_expect(report, "CapEff", "0000000000000000");
        report_expect(report, "CapPrm", "0000000000000000");
        report_expect(report, "CapInh", "0000000000000000");
        report_expect(report, "CapBnd", "0000000000000000");
        report_expect(report, "CapAmb", "0000000000000000");
        report_expect(report, "NoNewPrivs", "1");
        report_expect(report, "sid_is_pid", "1");
        report_expect(report, "cwd", "/");
        report_expect(report, "pid1", res.guard_pname);
        report_expect(report, "host_pid_visible", "0");
        report_expect(report, "nprocs", "2");  /* the guard and the app: nothing of the host */
        report_expect(report, "readme", "image v1");
        report_expect(report, "exec_ro", "1");
        report_expect(report, "write_var", "0");
        report_expect(report, "write_open", "0");
        report_expect(report, "write_exec", "30");  /* EROFS */
        report_expect(report, "fds_not_cloexec", "0");
        {
                char *pid = report_get(report, "pid");
                assert_non_null(pid);
                assert_int_not_equal(atoi(pid), 1);
                free(pid);
        }
        free(report);

        /* The guard's name is what ROCKER_get_guardname() reads. */
        assert_int_equal(strlen(res.guard_pname), 15);
        res2 = ROCKER_get_guardname(res.guard_pid);
        assert_int_equal(res2.err_no, ROCKER_ERR_success);
        assert_string_equal(res2.guard_pname, res.guard_pname);

        /* Writes landed in the data dir, not on the host. */
        assert_false(exists("/var/tmp/rocker-it-seed"));
        assert_true(exists("%s/overlay/var/upper/tmp/rocker-it-seed", req.app_data_dir));
        assert_false(exists("%s/rocker-it-seed", H.open_dir));
        assert_true(exists("%s/overlay", req.app_data_dir));

        harness_kill_guard(&res);
        harness_assert_clean();
        /* ...and survive the rocker. */
        assert_true(exists("%s/overlay/var/upper/tmp/rocker-it-seed", req.app_data_dir));
}

static int probe_confined(void *arg) {
        const Probe *p = arg;
        char path[512];
        int fd;

        snprintf(path, sizeof path, "%s/rocker-it-%s", H.ro_dir, p->tag);
        report_say(p->fd, "write_ro=%d", write_file(path, "x"));         /* a 0777 host dir, not overlaid: read-only */
        snprintf(path, sizeof path, "/dev/shm/rocker-it-%s", p->tag);
        report_say(p->fd, "write_shm=%d", write_file(path, "x"));        /* the rocker's own /dev/shm */
        report_say(p->fd, "mount=%d", mount("none", "/mnt", "tmpfs", 0, NULL) == 0 ? 0 : errno);
        fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
        report_say(p->fd, "write_sysctl=%d", fd >= 0 ? 0 : errno);
        if (fd >= 0)
                close(fd);
        report_say(p->fd, "setuid0=%d", setuid(0) == 0 ? 0 : errno);
        return 0;
}

static int probe_attacks(void *arg) {
        const Probe *p = arg;
        int fd;

        /* the guard: no ptrace, no signal, no write through its exe */
        report_say(p->fd, "ptrace_guard=%d", ptrace(PTRACE_ATTACH, 1, NULL, NULL) == 0 ? 0 : errno);
        report_say(p->fd, "kill_guard=%d", kill(1, SIGKILL) == 0 ? 0 : errno);
        report_say(p->fd, "kill_guard_term=%d", kill(1, SIGTERM) == 0 ? 0 : errno);
        fd = open("/proc/1/exe", O_WRONLY | O_CLOEXEC);
        report_say(p->fd, "write_guard_exe=%d", fd >= 0 ? 0 : errno);
        if (fd >= 0)
                close(fd);
        /* its own exe is the launcher's binary on the host: read-only here */
        fd = open("/proc/self/exe", O_WRONLY | O_CLOEXEC);
        report_say(p->fd, "write_own_exe=%d", fd >= 0 ? 0 : errno);
        if (fd >= 0)
                close(fd);
        /* no controlling terminal: nothing to push keystrokes into */
        fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
        report_say(p->fd, "tty=%d", fd >= 0 ? 0 : errno);
        if (fd >= 0) {
                char c = 'x';
                report_say(p->fd, "tiocsti=%d", ioctl(fd, TIOCSTI, &c) == 0 ? 0 : errno);
                close(fd);
        }
        /* a setuid-root binary of the image gives nothing (nosuid, no_new_privs) */
        {
                char path[512];
                pid_t pid;
                int st;
                snprintf(path, sizeof path, "%s/bin/true", p->exec_dir);
                pid = fork();
                if (pid == 0) {
                        execl(path, "true", (char *) NULL);
                        _exit(127);
                }
                report_say(p->fd, "setuid_true=%d", pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        }
        report_say(p->fd, "still_1000=%d", getuid() == 1000 && geteuid() == 1000);
        return 0;
}

/* What an app must not be able to do (issue #3's list). */
static void test_app_attacks_fail(void **state) {
        char buf[1024], *report;
        Probe probe = { .tag = "attacks" };
        RockerRequest req = harness_request("attacks", buf, sizeof buf);
        RockerResult res;
        int status;

        (void) state;
        res = run(&req, probe_attacks, &probe, &report, &status);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        report_expect(report, "ptrace_guard", "1");      /* EPERM */
        report_expect(report, "kill_guard", "1");
        report_expect(report, "kill_guard_term", "1");
        report_expect(report, "write_guard_exe", "13");  /* EACCES */
        {
                char *v = report_get(report, "write_own_exe");
                assert_non_null(v);
                assert_true(atoi(v) == EROFS || atoi(v) == ETXTBSY || atoi(v) == EACCES);
                free(v);
        }
        report_expect(report, "tty", "6");               /* ENXIO: no controlling terminal */
        report_expect(report, "setuid_true", "0");
        report_expect(report, "still_1000", "1");
        free(report);
        assert_int_equal(ROCKER_get_guardname(res.guard_pid).err_no, ROCKER_ERR_success);  /* unharmed */
        harness_kill_guard(&res);
        harness_assert_clean();
}

/* The system call filter: what it refuses, and that what an ordinary
 * program needs (threads, fork, exec) still works. */
static void *thread_ok(void *arg) {
        return arg;
}

static long errno_of(long r) {
        return r < 0 ? errno : 0;
}

static int probe_syscalls(void *arg) {
        const Probe *p = arg;
        struct clone_args ca = { .exit_signal = SIGCHLD };
        pthread_t t;
        void *ret = NULL;
        pid_t pid;
        int st = -1;

        report_say(p->fd, "filtered=%d", prctl(PR_GET_SECCOMP) == 2);
        report_say(p->fd, "unshare_user=%ld", errno_of(unshare(CLONE_NEWUSER)));
        report_say(p->fd, "unshare_mnt=%ld", errno_of(unshare(CLONE_NEWNS)));
        report_say(p->fd, "setns=%ld", errno_of(setns(0, 0)));
        report_say(p->fd, "clone_user=%ld", errno_of(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)));
        report_say(p->fd, "clone3=%ld", errno_of(syscall(SYS_clone3, &ca, sizeof ca)));
        report_say(p->fd, "io_uring=%ld", errno_of(syscall(SYS_io_uring_setup, 1, &(char[120]) {})));
        report_say(p->fd, "bpf=%ld", errno_of(syscall(SYS_bpf, 0, NULL, 0)));
        report_say(p->fd, "userfaultfd=%ld", errno_of(syscall(SYS_userfaultfd, 0)));
        report_say(p->fd, "fsopen=%ld", errno_of(syscall(SYS_fsopen, "tmpfs", 0)));
        report_say(p->fd, "open_tree_attr=%ld", errno_of(syscall(467, -1, "", 0, NULL, 0)));
#if defined(__x86_64__)
        /* The x32 ABI's numbers (bit 30) get the same rules: EPERM, whether
         * or not the kernel runs x32 (Debian's needs syscall.x32=y). */
        report_say(p->fd, "x32_unshare=%ld", errno_of(syscall(0x40000000 | SYS_unshare, CLONE_NEWUSER)));
#endif
        /* what still works */
        report_say(p->fd, "thread=%d", pthread_create(&t, NULL, thread_ok, (void *) 7) == 0 && pthread_join(t, &ret) == 0 &&
                            ret == (void *) 7);
        pid = fork();
        if (pid == 0)
                _exit(0);
        report_say(p->fd, "fork=%d", pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
        pid = fork();
        if (pid == 0) {
                execl("/bin/sh", "sh", "-c", "exit 3", (char *) NULL);
                _exit(127);
        }
        report_say(p->fd, "exec=%d", pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return 0;
}

static void test_app_syscall_filter(void **state) {
        char buf[1024], *report;
        Probe probe = { .tag = "syscalls" };
        RockerRequest req = harness_request("syscalls", buf, sizeof buf);
        RockerResult res;
        int status;
        char want[16];

        (void) state;
        res = run(&req, probe_syscalls, &probe, &report, &status);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        report_expect(report, "filtered", "1");
        snprintf(want, sizeof want, "%d", EPERM);
        report_expect(report, "unshare_user", want);
        report_expect(report, "unshare_mnt", want);
        report_expect(report, "setns", want);
        report_expect(report, "clone_user", want);
        report_expect(report, "bpf", want);
        report_expect(report, "userfaultfd", want);
        report_expect(report, "fsopen", want);
        report_expect(report, "open_tree_attr", want);
#if defined(__x86_64__)
        report_expect(report, "x32_unshare", want);
#endif
        snprintf(want, sizeof want, "%d", ENOSYS);
        report_expect(report, "clone3", want);
        report_expect(report, "io_uring", want);
        report_expect(report, "thread", "1");
        report_expect(report, "fork", "1");
        report_expect(report, "exec", "3");
        free(report);
        harness_kill_guard(&res);
        harness_assert_clean();
}

/* The children of this process (any thread's), by scanning /proc: kernels
 * without CONFIG_PROC_CHILDREN have no task/N/children. */
static int own_children(pid_t *pids, int max) {
        return testlib_children_named(getpid(), "", pids, max);
}

static bool pid_in(pid_t pid, const pid_t *pids, int n) {
        for (int i = 0; i < n; i++)
                if (pids[i] == pid)
                        return true;
        return false;
}

/* Issue 18.3: the app tries to make children of the launcher. */
static int probe_clone_parent(void *arg) {
        const Probe *p = arg;
        struct clone_args ca = { .flags = CLONE_PARENT };  /* CLONE_PARENT takes exit_signal 0 */
        char *argv[] = { "true", NULL };
        pid_t spawned;
        long r;
        int st = -1;

        r = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
        if (r == 0) {
                close(p->fd);
                for (;;)
                        pause();
        }
        report_say(p->fd, "clone_parent=%ld", errno_of(r));
        r = syscall(SYS_clone3, &ca, sizeof ca);
        if (r == 0) {
                close(p->fd);
                for (;;)
                        pause();
        }
        report_say(p->fd, "clone3_parent=%ld", errno_of(r));
        /* what the C library makes with clone3 falls back to clone */
        report_say(p->fd, "posix_spawn=%d", posix_spawn(&spawned, "/bin/true", NULL, NULL, argv, NULL) == 0 &&
                                 waitpid(spawned, &st, 0) == spawned && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        close(p->fd);
        for (;;)
                pause();
        return 0;
}

static void test_app_cannot_make_launcher_children(void **state) {
        enum { MAX = 64 };
        char buf[1024], want[16], *report;
        Probe probe = { .tag = "clone-parent" };
        RockerRequest req = harness_request("clone-parent", buf, sizeof buf);
        pid_t before[MAX], after[MAX];
        struct pollfd pfd;
        RockerInfo *list = NULL;
        RockerResult res;
        int fds[2], n_before, n_after, extra = 0, status, count = 0, listed = 0;

        (void) state;
        n_before = own_children(before, MAX);
        assert_in_range(n_before, 0, MAX);
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        probe.fd = fds[1];
        res = ROCKER_enter_rocker(&req, probe_clone_parent, &probe);
        close(fds[1]);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        report = read_all(fds[0]);  /* returns once every holder of the write end closed it */
        close(fds[0]);
        snprintf(want, sizeof want, "%d", EPERM);
        report_expect(report, "clone_parent", want);
        snprintf(want, sizeof want, "%d", ENOSYS);
        report_expect(report, "clone3_parent", want);
        report_expect(report, "posix_spawn", "0");
        free(report);

        /* The launcher has one new child: the app. */
        n_after = own_children(after, MAX);
        assert_in_range(n_after, 0, MAX);
        for (int i = 0; i < n_after; i++)
                if (!pid_in(after[i], before, n_before) && after[i] != res.app_pid) {
                        print_error("the launcher has a child %d that is not the app %d\n", (int) after[i],
                                    (int) res.app_pid);
                        extra++;
                }
        assert_int_equal(extra, 0);
        assert_true(pid_in(res.app_pid, after, n_after));

        /* Killing the guard ends the rocker at once: its pidfd fires as
         * soon as the launcher has reaped its app. */
        pfd = (struct pollfd) { .fd = (int) pidfd_open(res.guard_pid, 0), .events = POLLIN };
        assert_true(pfd.fd >= 0);
        assert_int_equal(ROCKER_get_guardname(res.guard_pid).err_no, ROCKER_ERR_success);
        assert_int_equal(pidfd_send_signal(pfd.fd, SIGKILL, NULL, 0), 0);
        assert_int_equal(waitpid(res.app_pid, &status, 0), res.app_pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(poll(&pfd, 1, 5000), 1);
        close(pfd.fd);
        harness_assert_clean();

        /* ...and rockerd no longer lists it. */
        assert_int_equal(ROCKER_list_rockers(&list, &count).err_no, ROCKER_ERR_success);
        for (int i = 0; i < count; i++)
                listed += strcmp(list[i].guard_pname, res.guard_pname) == 0;
        ROCKER_free_rockers(list, count);
        assert_int_equal(listed, 0);
}

/* The launcher's OOM protection does not reach the app. */
static int read_oom_score_adj(void) {
        char buf[16] = "";
        int fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;

        if (fd >= 0)
                close(fd);
        return n > 0 ? atoi(buf) : -2000;
}

static int write_oom_score_adj(int v) {
        char buf[16];
        int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC), n;

        if (fd < 0)
                return -1;
        n = snprintf(buf, sizeof buf, "%d", v);
        n = write(fd, buf, (size_t) n) == n ? 0 : -1;
        close(fd);
        return n;
}

static int probe_oom(void *arg) {
        report_say(((Probe *) arg)->fd, "oom_score_adj=%d", read_oom_score_adj());
        return 0;
}

static void test_app_not_oom_protected(void **state) {
        const int launcher[] = { 500, -1000, -300, 0 }, app[] = { 500, 0, 0, 0 };
        int before = read_oom_score_adj(), got[4], status;
        char buf[1024], *report, *v;
        Probe probe = { .tag = "oom" };
        RockerRequest req = harness_request("oom", buf, sizeof buf);
        RockerResult res;

        (void) state;
        for (int i = 0; i < 4; i++) {
                if (write_oom_score_adj(launcher[i]) < 0) {
                        /* Lowering it needs CAP_SYS_RESOURCE, which some
                         * containers (this project's CI) do not grant. */
                        print_message("oom_score_adj %d: cannot be set here (%s), case skipped\n", launcher[i],
                                      strerror(errno));
                        got[i] = app[i];
                        continue;
                }
                res = run(&req, probe_oom, &probe, &report, &status);
                (void) write_oom_score_adj(before);  /* before any assert can end the test */
                assert_int_equal(res.err_no, ROCKER_ERR_success);
                v = report_get(report, "oom_score_adj");
                assert_non_null(v);
                got[i] = atoi(v);
                free(v);
                free(report);
                harness_kill_guard(&res);
                assert_int_equal(got[i], app[i]);
        }
        assert_int_equal(read_oom_score_adj(), before);
        harness_assert_clean();
}

/* An app puts a symlink on the way to a nested overlay dir: the next
 * launch, which overlays both, must not follow it to mount (and make
 * writable) wherever it leads. Here nest/inner -> / makes nest/inner/tmp
 * the rocker's /tmp. */
static int probe_plant_symlink(void *arg) {
        const Probe *p = arg;
        char inner[256], tmp[300];

        snprintf(inner, sizeof inner, "%s/nest/inner", H.dir);
        snprintf(tmp, sizeof tmp, "%s/tmp", inner);
        report_say(p->fd, "rmdir=%d", rmdir(tmp) == 0 && rmdir(inner) == 0 ? 0 : errno);
        report_say(p->fd, "symlink=%d", symlink("/", inner) == 0 ? 0 : errno);
        return 0;
}

static int probe_nothing(void *arg);

static void test_nested_overlay_symlink_refused(void **state) {
        char buf[1024], nest[256], inner[256], nested[300], *report, *text;
        Probe probe = { .tag = "nest" };
        RockerRequest req = harness_request("nest", buf, sizeof buf);
        RockerResult res;
        struct stat st;
        int status;

        (void) state;
        snprintf(nest, sizeof nest, "%s/nest", H.dir);
        snprintf(inner, sizeof inner, "%s/nest/inner", H.dir);
        assert_int_equal(mkdir(nest, 0777), 0);
        assert_int_equal(chmod(nest, 0777), 0);
        assert_int_equal(mkdir(inner, 0777), 0);
        assert_int_equal(chmod(inner, 0777), 0);
        snprintf(nested, sizeof nested, "%s/tmp", inner);
        assert_int_equal(mkdir(nested, 0755), 0);

        req.app_overlay_dirs[0] = nest;
        req.app_overlay_dirs[1] = NULL;
        res = run(&req, probe_plant_symlink, &probe, &report, &status);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        report_expect(report, "rmdir", "0");
        report_expect(report, "symlink", "0");
        free(report);
        harness_kill_guard(&res);
        assert_int_equal(lstat(inner, &st), 0);  /* the host's is untouched */
        assert_true(S_ISDIR(st.st_mode));

        req.app_overlay_dirs[1] = nested;
        req.app_overlay_dirs[2] = NULL;
        res = run(&req, probe_nothing, &probe, &report, &status);
        free(report);
        text = strdup(ROCKER_last_error());
        if (res.err_no == ROCKER_ERR_success)
                harness_kill_guard(&res);
        assert_int_equal(res.err_no, ROCKER_ERR_build_rocker_failed);
        if (!strstr(text, "symlink"))
                print_error("refusal: %s\n", text);
        assert_non_null(strstr(text, "symlink"));
        free(text);
        harness_assert_clean();
}

/* A launcher with a thread blocked reading a stream (a console thread in
 * fgets()) holds that stream's lock: entering a rocker must not wait for
 * it (glibc's fflush(NULL) would). */
typedef struct Reader {
        FILE *f;
        int locked_fd;  /* told once the thread holds the stream's lock */
} Reader;

static void *read_line(void *arg) {
        Reader *rd = arg;
        char line[64], *r;

        /* Held across fgets() (which takes it again, recursively): the main
         * thread learns that the lock is held from the write, not by luck. */
        flockfile(rd->f);
        (void) !write(rd->locked_fd, "l", 1);
        r = fgets(line, sizeof line, rd->f);
        funlockfile(rd->f);
        return r;
}

static int unblock_fd = -1;
static volatile sig_atomic_t hung;

/* A hang is turned into a failure, not a killed test: the line the
 * reader waits for is written from here. */
static void on_alarm(int sig) {
        (void) sig;
        hung = 1;
        (void) !write(unblock_fd, "x\n", 2);
}

static void test_enter_with_a_stream_locked(void **state) {
        char buf[1024], *report;
        Probe probe = { .tag = "locked" };
        RockerRequest req = harness_request("locked", buf, sizeof buf);
        struct sigaction sa = { .sa_handler = on_alarm }, old;
        RockerResult res;
        pthread_t t;
        int fds[2], locked[2], status;
        Reader rd;
        char c;
        FILE *f;

        (void) state;
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        assert_int_equal(pipe2(locked, O_CLOEXEC), 0);
        f = fdopen(fds[0], "r");
        assert_non_null(f);
        rd = (Reader) { .f = f, .locked_fd = locked[1] };
        assert_int_equal(pthread_create(&t, NULL, read_line, &rd), 0);
        /* the thread holds the lock (and is in fgets(), or about to be) */
        assert_int_equal(read(locked[0], &c, 1), 1);
        close(locked[0]);
        close(locked[1]);
        unblock_fd = fds[1];
        hung = 0;
        assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
        alarm(10);
        res = run(&req, probe_nothing, &probe, &report, &status);
        alarm(0);
        (void) sigaction(SIGALRM, &old, NULL);
        free(report);
        if (!hung)
                assert_int_equal(write(fds[1], "x\n", 2), 2);
        assert_int_equal(pthread_join(t, NULL), 0);
        fclose(f);
        close(fds[1]);
        if (res.err_no == ROCKER_ERR_success)
                harness_kill_guard(&res);
        assert_false(hung);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        harness_assert_clean();
}

/* The rest of the host is read-only, the shared paths are the host's, and
 * the app can gain nothing. uid/gid 0 are refused outright: a root app
 * without capabilities would still own root's files and devices. */
static void test_app_is_confined(void **state) {
        char buf[1024], *report;
        Probe probe = { .tag = "confined" };
        RockerRequest req = harness_request("confined", buf, sizeof buf);
        RockerResult res;
        int status;

        (void) state;
        res = run(&req, probe_confined, &probe, &report, &status);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        report_expect(report, "write_ro", "30");    /* EROFS */
        report_expect(report, "write_shm", "0");
        report_expect(report, "mount", "1");        /* EPERM: no capability */
        report_expect(report, "write_sysctl", "13");
        report_expect(report, "setuid0", "1");
        free(report);
        assert_false(exists("%s/rocker-it-confined", H.ro_dir));
        assert_false(exists("/dev/shm/rocker-it-confined"));  /* private: not on the host */
        harness_kill_guard(&res);

        req.uid = 0;
        res = run(&req, probe_confined, &probe, &report, &status);
        free(report);
        assert_int_equal(res.err_no, ROCKER_ERR_build_rocker_failed);
        assert_non_null(strstr(ROCKER_last_error(), "uid: 0"));
        req.uid = 1000;
        req.gid = 0;
        res = run(&req, probe_confined, &probe, &report, &status);
        free(report);
        assert_int_equal(res.err_no, ROCKER_ERR_build_rocker_failed);
        assert_non_null(strstr(ROCKER_last_error(), "gid: 0"));
        harness_assert_clean();
}

static int probe_exit(void *arg) {
        return ((const Probe *) arg)->ret;
}

static void test_exit_status_reaches_waitpid(void **state) {
        char buf[1024], *report;
        Probe probe = { .tag = "exit", .ret = 42 };
        RockerRequest req = harness_request("exit", buf, sizeof buf);
        RockerResult res;
        int status;

        (void) state;
        res = run(&req, probe_exit, &probe, &report, &status);
        free(report);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 42);
        harness_kill_guard(&res);
        harness_assert_clean();
}

static int probe_sleepers(void *arg) {
        const Probe *p = arg;
        pid_t child = fork();

        if (child == 0) {
                close(p->fd);
                setsid();
                for (;;)
                        pause();
        }
        report_say(p->fd, "forked=%d", child > 0);
        close(p->fd);
        for (;;)
                pause();
        return 0;
}

static void test_kill_guard_ends_everything(void **state) {
        char buf[1024], nspath[64], ns[64], *report;
        Probe probe = { .tag = "kill" };
        RockerRequest req = harness_request("kill", buf, sizeof buf);
        RockerResult res;
        int fds[2], status, left = 0;
        struct stat st;
        DIR *d;
        struct dirent *de;

        (void) state;
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        probe.fd = fds[1];
        probe.exec_dir = req.app_exec_dir;
        res = ROCKER_enter_rocker(&req, probe_sleepers, &probe);
        close(fds[1]);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        report = read_all(fds[0]);  /* returns once the app closed its end */
        close(fds[0]);
        report_expect(report, "forked", "1");
        free(report);

        snprintf(nspath, sizeof nspath, "/proc/%d/ns/pid", res.guard_pid);
        assert_int_equal(stat(nspath, &st), 0);
        snprintf(ns, sizeof ns, "pid:[%lu]", (unsigned long) st.st_ino);

        /* The seed's plain kill() */
        assert_int_equal(kill(res.guard_pid, SIGKILL), 0);
        assert_int_equal(waitpid(res.app_pid, &status, 0), res.app_pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        harness_assert_clean();

        /* nobody is left in the rocker's pid namespace */
        d = opendir("/proc");
        while (d && (de = readdir(d))) {
                char p[300], target[64];
                ssize_t n;
                snprintf(p, sizeof p, "/proc/%s/ns/pid", de->d_name);
                n = readlink(p, target, sizeof target - 1);
                if (n > 0) {
                        target[n] = '\0';
                        left += strcmp(target, ns) == 0;
                }
        }
        closedir(d);
        assert_int_equal(left, 0);
}

static long long mono_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int probe_counter(void *arg) {
        const Probe *p = arg;
        char buf[32] = "0";
        long long t = mono_ns();
        int fd = open("/var/tmp/rocker-it-counter", O_RDONLY | O_CLOEXEC);

        report_say(p->fd, "t=%lld", t);
        if (fd >= 0) {
                ssize_t n = read(fd, buf, sizeof buf - 1);
                buf[n > 0 ? n : 0] = '\0';
                close(fd);
        }
        report_say(p->fd, "counter=%d", atoi(buf));
        snprintf(buf, sizeof buf, "%d", atoi(buf) + 1);
        return write_file("/var/tmp/rocker-it-counter", buf);  /* fsync'd */
}

static int cmp_ll(const void *a, const void *b) {
        long long x = *(const long long *) a, y = *(const long long *) b;
        return x < y ? -1 : x > y;
}

/* A launcher restarting its app 20 times: each guard killed right after its
 * app ends, the next launch at once. Every launch sees what the one before
 * wrote; the kernel never warns of two overlays on one upper dir. */
static void test_relaunch_at_once_keeps_data(void **state) {
        enum { LAUNCHES = 20 };
        char buf[1024], want[16], mark[64], *report, *t;
        RockerRequest req = harness_request("relaunch", buf, sizeof buf);
        Probe probe = { .tag = "relaunch" };
        long long killed_at = 0, gaps[LAUNCHES - 1];
        RockerResult res;
        int status;

        (void) state;
        harness_kmsg_mark(mark);
        for (int i = 0; i < LAUNCHES; i++) {
                res = run(&req, probe_counter, &probe, &report, &status);
                if (res.err_no != ROCKER_ERR_success)
                        print_error("launch %d: %s\n", i, ROCKER_last_error());
                assert_int_equal(res.err_no, ROCKER_ERR_success);
                assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
                snprintf(want, sizeof want, "%d", i);
                report_expect(report, "counter", want);
                t = report_get(report, "t");
                assert_non_null(t);
                if (i > 0)
                        gaps[i - 1] = atoll(t) - killed_at;
                free(t);
                free(report);
                killed_at = mono_ns();
                assert_int_equal(kill(res.guard_pid, SIGKILL), 0);  /* no wait before the next launch */
        }
        harness_assert_clean();
        assert_int_equal(harness_overlay_warnings_since(mark), 0);
        qsort(gaps, LAUNCHES - 1, sizeof gaps[0], cmp_ll);
        print_message("relaunch, kill → next callback running: median %.2f ms, max %.2f ms (%d launches)\n",
                      (double) gaps[(LAUNCHES - 1) / 2] / 1e6, (double) gaps[LAUNCHES - 2] / 1e6, LAUNCHES);
        assert_true(exists("%s/overlay/var/upper/tmp/rocker-it-counter", req.app_data_dir));
}

/* A launcher that kills the guard and relaunches before it has reaped the
 * old app: the old guard's pidfd cannot fire until that zombie is reaped, so
 * rockerd must see the old mounts gone by other means, not wait for it. */
static void test_relaunch_before_reaping_old_app(void **state) {
        char buf[1024], mark[64], *report;
        RockerRequest req = harness_request("unreaped", buf, sizeof buf);
        Probe probe = { .tag = "unreaped" };
        RockerResult a, b;
        int fds[2], status;

        (void) state;
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        probe.fd = fds[1];
        probe.exec_dir = req.app_exec_dir;
        a = ROCKER_enter_rocker(&req, probe_sleepers, &probe);
        close(fds[1]);
        assert_int_equal(a.err_no, ROCKER_ERR_success);
        free(read_all(fds[0]));
        close(fds[0]);

        harness_kmsg_mark(mark);
        assert_int_equal(kill(a.guard_pid, SIGKILL), 0);  /* a.app_pid not reaped yet */
        b = run(&req, probe_counter, &probe, &report, &status);
        free(report);
        if (b.err_no != ROCKER_ERR_success)
                print_error("relaunch: %s\n", ROCKER_last_error());
        assert_int_equal(b.err_no, ROCKER_ERR_success);

        assert_int_equal(waitpid(a.app_pid, &status, 0), a.app_pid);
        assert_true(WIFSIGNALED(status));
        harness_kill_guard(&b);
        harness_assert_clean();
        assert_int_equal(harness_overlay_warnings_since(mark), 0);
}

/* The app store renames a new image over the old one while a rocker of the
 * old version runs. */
static int probe_readme(void *arg) {
        const Probe *p = arg;
        char path[512], buf[64];
        int fd, n;

        snprintf(path, sizeof path, "%s/README", p->exec_dir);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        n = fd >= 0 ? (int) read(fd, buf, sizeof buf - 1) : 0;
        if (fd >= 0)
                close(fd);
        buf[n > 0 ? n - 1 : 0] = '\0';
        report_say(p->fd, "readme=%s", buf);
        return 0;
}

/* A squashfuse that dies (a crafted image crashed it, an admin killed it)
 * leaves its mount answering ENOTCONN: the next rocker of that image gets
 * a fresh one, not the dead mount. Only on the squashfuse backend. */
/* SIGKILLs every squashfuse and waits (on pidfds, 10 s at most) until each
 * has exited: rockerd then sees its image's squashfuse dead. */
static int kill_squashfuse(void) {
        pid_t pids[16];
        int n = harness_squashfuse_pids(pids, 16), killed = 0;

        for (int i = 0; i < n && i < 16; i++) {
                int pidfd = pidfd_open(pids[i], 0);
                struct pollfd p = { .fd = pidfd, .events = POLLIN };

                if (pidfd < 0)
                        continue;
                if (pidfd_send_signal(pidfd, SIGKILL, NULL, 0) == 0 && poll(&p, 1, 10000) == 1)
                        killed++;
                close(pidfd);
        }
        return killed;
}

static void test_squashfuse_death(void **state) {
        char buf[1024], buf2[1024], *report;
        RockerRequest a_req = harness_request("fuse-a", buf, sizeof buf);
        RockerRequest b_req = harness_request("fuse-b", buf2, sizeof buf2);
        Probe probe = { .tag = "fuse" };
        RockerResult a, b;
        int status;

        (void) state;
        if (!getenv("ROCKER_TEST_BACKEND") || strcmp(getenv("ROCKER_TEST_BACKEND"), "squashfuse") != 0)
                skip();
        probe.exec_dir = a_req.app_exec_dir;
        a = run(&a_req, probe_readme, &probe, &report, &status);
        assert_int_equal(a.err_no, ROCKER_ERR_success);
        report_expect(report, "readme", "image v1");
        free(report);
        assert_int_equal(kill_squashfuse(), 1);

        probe.exec_dir = b_req.app_exec_dir;
        b = run(&b_req, probe_readme, &probe, &report, &status);
        if (b.err_no == ROCKER_ERR_success)
                harness_kill_guard(&b);
        harness_kill_guard(&a);
        assert_int_equal(b.err_no, ROCKER_ERR_success);
        report_expect(report, "readme", "image v1");
        free(report);
        harness_assert_clean();
}

/* The value of a "Key:\t..." line of /proc/<pid>/status, or "". */
static void pid_status_field(pid_t pid, const char *key, char *ret, size_t size) {
        char path[64], line[256];
        size_t klen = strlen(key);
        FILE *f;

        ret[0] = '\0';
        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        f = fopen(path, "re");
        while (f && fgets(line, sizeof line, f))
                if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
                        snprintf(ret, size, "%s", line + klen + 1 + strspn(line + klen + 1, " \t"));
                        ret[strcspn(ret, "\n")] = '\0';
                        break;
                }
        if (f)
                fclose(f);
}

/* squashfuse parses untrusted images: it runs from its absolute path as a
 * user that is not root, with no capability, no supplementary group and
 * no_new_privs (rockerd mounted the FUSE filesystem for it). Only on the
 * squashfuse backend. */
static void test_squashfuse_unprivileged(void **state) {
        char buf[1024], field[256], exe[PATH_MAX], path[64], *report;
        RockerRequest req = harness_request("fuse-unpriv", buf, sizeof buf);
        Probe probe = { .tag = "fuse" };
        RockerResult res;
        pid_t pid;
        ssize_t n;
        int status;

        (void) state;
        if (!getenv("ROCKER_TEST_BACKEND") || strcmp(getenv("ROCKER_TEST_BACKEND"), "squashfuse") != 0)
                skip();
        probe.exec_dir = req.app_exec_dir;
        res = run(&req, probe_readme, &probe, &report, &status);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        report_expect(report, "readme", "image v1");
        free(report);
        assert_int_equal(harness_squashfuse_pids(&pid, 1), 1);

        /* real, effective, saved and fs ids: none is root */
        for (int i = 0; i < 2; i++) {
                unsigned ids[4];

                pid_status_field(pid, i == 0 ? "Uid" : "Gid", field, sizeof field);
                assert_int_equal(sscanf(field, "%u %u %u %u", &ids[0], &ids[1], &ids[2], &ids[3]), 4);
                for (int j = 0; j < 4; j++)
                        assert_int_not_equal(ids[j], 0);
        }
        pid_status_field(pid, "Groups", field, sizeof field);
        assert_string_equal(field, "");
        pid_status_field(pid, "CapEff", field, sizeof field);
        assert_string_equal(field, "0000000000000000");
        pid_status_field(pid, "CapPrm", field, sizeof field);
        assert_string_equal(field, "0000000000000000");
        pid_status_field(pid, "NoNewPrivs", field, sizeof field);
        assert_string_equal(field, "1");
        snprintf(path, sizeof path, "/proc/%d/exe", (int) pid);
        n = readlink(path, exe, sizeof exe - 1);
        assert_true(n > 0);
        exe[n] = '\0';
        assert_string_equal(exe, "/usr/bin/squashfuse");

        harness_kill_guard(&res);
        harness_assert_clean();
}

/* squashfuse is never looked up in PATH: a SquashfusePath= that does not
 * exist refuses the request, naming it, even with a squashfuse in PATH. */
static void test_squashfuse_by_absolute_path(void **state) {
        char buf[1024], etc[128], missing[160], *report;
        RockerRequest req = harness_request("fuse-path", buf, sizeof buf);
        Probe probe = { .tag = "fuse" };
        RockerResult res;
        int status;

        (void) state;
        snprintf(etc, sizeof etc, "%s/etc-fuse-path", H.dir);
        snprintf(missing, sizeof missing, "%s/no-such-squashfuse", H.dir);
        assert_int_equal(harness_sh("mkdir -p %s && printf '[Daemon]\\nImageBackend=squashfuse\\nSquashfusePath=%s\\n' "
                                    "> %s/rockerd.conf", etc, missing, etc), 0);
        assert_int_equal(harness_stop_daemon(SIGTERM), 0);
        snprintf(H.config, sizeof H.config, "%s/rockerd.conf", etc);
        assert_int_equal(harness_restart_daemon(0), 0);

        probe.exec_dir = req.app_exec_dir;
        res = run(&req, probe_readme, &probe, &report, &status);
        free(report);
        assert_int_equal(res.err_no, ROCKER_ERR_build_rocker_failed);
        assert_non_null(strstr(ROCKER_last_error(), missing));

        assert_int_equal(harness_stop_daemon(SIGTERM), 0);
        snprintf(H.config, sizeof H.config, "%s", H.base_config);
        assert_int_equal(harness_restart_daemon(0), 0);
        harness_assert_clean();
}

static void test_image_upgrade(void **state) {
        char buf[1024], buf2[1024], image[256], *report;
        RockerRequest old_req = harness_request("upgrade-old", buf, sizeof buf);
        RockerRequest new_req = harness_request("upgrade-new", buf2, sizeof buf2);
        Probe probe = { .tag = "upgrade" };
        RockerResult old_res, new_res;
        int status, loops_before;

        (void) state;
        snprintf(image, sizeof image, "%s/upgrade.squashfs", H.dir);
        assert_int_equal(harness_sh("cp %s %s", H.image, image), 0);
        old_req.app_pkg_path = new_req.app_pkg_path = image;

        old_res = run(&old_req, probe_readme, &probe, &report, &status);
        assert_int_equal(old_res.err_no, ROCKER_ERR_success);
        report_expect(report, "readme", "image v1");
        free(report);

        /* written beside it, renamed over it */
        assert_int_equal(harness_sh("cp %s %s.new && mv %s.new %s", H.image_v2, image, image, image), 0);
        new_res = run(&new_req, probe_readme, &probe, &report, &status);
        assert_int_equal(new_res.err_no, ROCKER_ERR_success);
        report_expect(report, "readme", "image v2");
        free(report);

        /* the old rocker still sees its version: look through its guard's root */
        assert_int_equal(harness_sh("grep -qx 'image v1' /proc/%d/root%s/README", old_res.guard_pid,
                                    old_req.app_exec_dir), 0);
        assert_int_equal(harness_sh("grep -qx 'image v2' /proc/%d/root%s/README", new_res.guard_pid,
                                    new_req.app_exec_dir), 0);
        {
                Snapshot now;
                snapshot_take(&now);
                loops_before = now.loops;
                assert_int_equal(loops_before, H.baseline.loops + 2);  /* one per version */
        }
        harness_kill_guard(&old_res);
        harness_kill_guard(&new_res);
        harness_assert_clean();  /* both loop devices released */
}

/* Owners and modes: the data dir is root's and private, the merged dirs keep
 * the host dirs' owner and mode. */
static int probe_modes(void *arg) {
        const Probe *p = arg;
        struct stat st;

        if (stat("/var", &st) == 0)
                report_say(p->fd, "var=%o %d %d", st.st_mode & 07777, (int) st.st_uid, (int) st.st_gid);
        if (stat(p->open_dir, &st) == 0)
                report_say(p->fd, "open=%o %d %d", st.st_mode & 07777, (int) st.st_uid, (int) st.st_gid);
        return 0;
}

static void test_data_dir_modes(void **state) {
        char buf[1024], want[64], *report;
        RockerRequest req = harness_request("modes", buf, sizeof buf);
        Probe probe = { .tag = "modes" };
        RockerResult res;
        struct stat st;
        int status;

        (void) state;
        res = run(&req, probe_modes, &probe, &report, &status);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        assert_int_equal(stat("/var", &st), 0);
        snprintf(want, sizeof want, "%o %d %d", st.st_mode & 07777, (int) st.st_uid, (int) st.st_gid);
        report_expect(report, "var", want);
        report_expect(report, "open", "777 0 0");
        free(report);

        assert_int_equal(stat(req.app_data_dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        assert_int_equal(st.st_uid, 0);
        {
                char p[1024];
                snprintf(p, sizeof p, "%s/overlay/var", req.app_data_dir);
                assert_int_equal(stat(p, &st), 0);
                assert_int_equal(st.st_mode & 07777, 0700);
        }
        harness_kill_guard(&res);
        harness_assert_clean();
}

/* A broken layout is repaired where that loses nothing (a missing work dir)
 * and refused where it would (an upper that is a file) — never emptied; a
 * failed launch leaves the data dir as it was. */
static void test_data_dir_broken_layout(void **state) {
        char buf[1024], *report;
        RockerRequest req = harness_request("broken", buf, sizeof buf);
        Probe probe = { .tag = "broken" };
        RockerResult res;
        int status;

        (void) state;
        res = run(&req, probe_counter, &probe, &report, &status);
        free(report);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        harness_kill_guard(&res);
        harness_assert_clean();

        /* work dir gone: repaired, data kept */
        assert_int_equal(harness_sh("rm -rf %s/overlay/var/work", req.app_data_dir), 0);
        res = run(&req, probe_counter, &probe, &report, &status);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        report_expect(report, "counter", "1");
        free(report);
        harness_kill_guard(&res);
        harness_assert_clean();

        /* a bad image: refused, the data untouched */
        req.app_pkg_path = H.bad_image;
        res = run(&req, probe_counter, &probe, &report, &status);
        free(report);
        assert_int_equal(res.err_no, ROCKER_ERR_build_rocker_failed);
        assert_int_equal(harness_sh("grep -qx 2 %s/overlay/var/upper/tmp/rocker-it-counter", req.app_data_dir), 0);
        req.app_pkg_path = H.image;

        /* an upper that is a file: refused with the path, nothing removed */
        assert_int_equal(harness_sh("mv %s/overlay/etc/upper %s/overlay/etc/upper.saved && "
                                    "echo keep > %s/overlay/etc/upper",
                                    req.app_data_dir, req.app_data_dir, req.app_data_dir), 0);
        res = run(&req, probe_counter, &probe, &report, &status);
        free(report);
        assert_int_equal(res.err_no, ROCKER_ERR_build_rocker_failed);
        assert_non_null(strstr(ROCKER_last_error(), "overlay/etc/upper"));
        assert_int_equal(harness_sh("grep -qx keep %s/overlay/etc/upper", req.app_data_dir), 0);
        assert_int_equal(harness_sh("grep -qx 2 %s/overlay/var/upper/tmp/rocker-it-counter", req.app_data_dir), 0);
        harness_assert_clean();
}

static int probe_wait_for_close(void *arg) {
        const Probe *p = arg;
        close(p->fd);
        return 0;
}

static void test_data_dir_in_use(void **state) {
        char buf[1024], buf2[1024], *report;
        RockerRequest req = harness_request("busy", buf, sizeof buf);
        RockerRequest other = harness_request("busy-other", buf2, sizeof buf2);
        Probe probe = { .tag = "busy" };
        RockerResult res, res2, res3;
        int status;

        (void) state;
        res = run(&req, probe_wait_for_close, &probe, &report, &status);
        free(report);
        assert_int_equal(res.err_no, ROCKER_ERR_success);

        res2 = run(&req, probe_wait_for_close, &probe, &report, &status);
        free(report);
        assert_int_equal(res2.err_no, ROCKER_ERR_build_rocker_failed);
        assert_non_null(strstr(ROCKER_last_error(), res.guard_pname));
        assert_non_null(strstr(ROCKER_last_error(), "app_data_dir"));
        /* the live rocker is undisturbed */
        assert_int_equal(ROCKER_get_guardname(res.guard_pid).err_no, ROCKER_ERR_success);

        /* another data dir of the same app and image runs beside it */
        res3 = run(&other, probe_wait_for_close, &probe, &report, &status);
        free(report);
        assert_int_equal(res3.err_no, ROCKER_ERR_success);
        assert_string_not_equal(res3.guard_pname, res.guard_pname);

        /* nor may another rocker overlay a dir inside the live one's data
         * dir: its lower layer would be the live rocker's upper */
        {
                RockerRequest peek = harness_request("busy-peek", buf2, sizeof buf2);
                char upper[600];
                RockerResult res4;

                snprintf(upper, sizeof upper, "%s/overlay/var/upper", req.app_data_dir);
                peek.app_overlay_dirs[0] = upper;
                peek.app_overlay_dirs[1] = NULL;
                res4 = run(&peek, probe_wait_for_close, &probe, &report, &status);
                free(report);
                if (res4.err_no == ROCKER_ERR_success)
                        harness_kill_guard(&res4);
                assert_int_equal(res4.err_no, ROCKER_ERR_build_rocker_failed);
                assert_non_null(strstr(ROCKER_last_error(), "lies in the data dir of live rocker"));
                assert_non_null(strstr(ROCKER_last_error(), res.guard_pname));
        }

        harness_kill_guard(&res);
        harness_kill_guard(&res3);
        harness_assert_clean();
}

/* Issue 18.1: a mount the host has read-only stays read-only in a rocker
 * even under a shared path (/tmp here, where H.dir lies), and the shared
 * path around it stays writable. */
static char shared_ro_dir[256], shared_rw_dir[256];

static int probe_shared_ro(void *arg) {
        const Probe *p = arg;
        char path[300];

        snprintf(path, sizeof path, "%s/x", shared_ro_dir);
        report_say(p->fd, "ro_write=%d", write_file(path, "x"));
        snprintf(path, sizeof path, "%s/y", shared_rw_dir);
        report_say(p->fd, "rw_write=%d", write_file(path, "y"));
        return 0;
}

static void test_shared_path_keeps_host_readonly(void **state) {
        char buf[1024], *report, want[16];
        RockerRequest req = harness_request("sharedro", buf, sizeof buf);
        Probe probe = { .tag = "sharedro" };
        RockerResult res;
        int status;

        (void) state;
        snprintf(shared_rw_dir, sizeof shared_rw_dir, "%s/shared-rw", H.dir);
        snprintf(shared_ro_dir, sizeof shared_ro_dir, "%s/shared-ro", H.dir);
        assert_int_equal(harness_sh("mkdir -m 0777 %s %s && mount --bind %s %s && mount -o remount,bind,ro %s",
                                    shared_rw_dir, shared_ro_dir, shared_rw_dir, shared_ro_dir, shared_ro_dir), 0);
        res = run(&req, probe_shared_ro, &probe, &report, &status);
        (void) umount2(shared_ro_dir, MNT_DETACH);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        harness_kill_guard(&res);
        snprintf(want, sizeof want, "%d", EROFS);
        report_expect(report, "ro_write", want);
        report_expect(report, "rw_write", "0");
        free(report);
        harness_assert_clean();
}

/* Issue 18.4: /proc/<pid>/mountinfo has no ptrace check, so every local
 * user may read the guard's. It shows the rocker's mount points (the
 * overlaid dirs, the exec dir), but not where on the host the data dir
 * and its layers are: overlay layers are given as /proc/self/fd/N. */
static void test_mountinfo_hides_data_dir(void **state) {
        char buf[1024], path[256], *report, *info;
        RockerRequest req = harness_request("mountinfo", buf, sizeof buf);
        Probe probe = { .tag = "mountinfo" };
        RockerResult res;
        int status, fd;

        (void) state;
        res = run(&req, probe_wait_for_close, &probe, &report, &status);
        free(report);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        snprintf(path, sizeof path, "%s/guard-mountinfo", H.dir);
        assert_int_equal(harness_sh("setpriv --reuid=65534 --regid=65534 --clear-groups cat /proc/%d/mountinfo > %s",
                                    (int) res.guard_pid, path), 0);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        info = read_all(fd);
        close(fd);
        assert_non_null(strstr(info, " - overlay "));
        assert_non_null(strstr(info, req.app_exec_dir));  /* a mount point: visible */
        assert_non_null(strstr(info, H.open_dir));         /* an overlaid dir: a mount point too */
        harness_kill_guard(&res);
        if (strstr(info, req.app_data_dir) || !strstr(info, "upperdir=/proc/self/fd/")) {
                print_error("the guard's mountinfo names host paths of overlay layers:\n%s\n", info);
                fail();
        }
        free(info);
        harness_assert_clean();
}

static void test_bad_requests(void **state) {
        char buf[1024], *report, datadir[512];
        RockerRequest req;
        Probe probe = { .tag = "bad" };
        RockerResult res;
        int status;

        (void) state;
        res = ROCKER_enter_rocker(NULL, probe_exit, &probe);
        assert_int_equal(res.err_no, ROCKER_ERR_param_invalid);
        req = harness_request("bad", buf, sizeof buf);
        res = ROCKER_enter_rocker(&req, NULL, &probe);
        assert_int_equal(res.err_no, ROCKER_ERR_param_invalid);
        req.app_exec_dir = "relative/dir";
        res = ROCKER_enter_rocker(&req, probe_exit, &probe);
        assert_int_equal(res.err_no, ROCKER_ERR_param_invalid);
        assert_non_null(strstr(ROCKER_last_error(), "app_exec_dir"));

        /* refused by rockerd: nothing is created for them */
        req = harness_request("bad", buf, sizeof buf);
        snprintf(datadir, sizeof datadir, "%s", req.app_data_dir);
        req.app_pkg_path = H.bad_image;
        res = run(&req, probe_exit, &probe, &report, &status);
        free(report);
        assert_int_equal(res.err_no, ROCKER_ERR_build_rocker_failed);
        assert_non_null(strstr(ROCKER_last_error(), "app_pkg_path"));
        assert_false(exists("%s", datadir));

        req = harness_request("bad", buf, sizeof buf);
        req.app_overlay_dirs[0] = "/nonexistent-rocker-dir";
        res = run(&req, probe_exit, &probe, &report, &status);
        free(report);
        assert_int_equal(res.err_no, ROCKER_ERR_build_rocker_failed);
        assert_non_null(strstr(ROCKER_last_error(), "app_overlay_dirs[0]"));
        assert_false(exists("%s", datadir));

        req = harness_request("bad", buf, sizeof buf);
        req.app_overlay_dirs[0] = "/proc";
        res = run(&req, probe_exit, &probe, &report, &status);
        free(report);
        assert_int_equal(res.err_no, ROCKER_ERR_build_rocker_failed);
        assert_non_null(strstr(ROCKER_last_error(), "app_overlay_dirs[0]"));
        assert_false(exists("%s", datadir));

        harness_assert_clean();
}

/* rockerd says once, at start, which mechanism it picked for each thing
 * kernels differ in; ROCKER_FORCE_FALLBACK (the *-fallback ctest variants)
 * must really put it on the fallbacks. */
static void test_kernel_mechanisms_logged(void **state) {
        const char *forced = getenv("ROCKER_FORCE_FALLBACK");
        bool all = forced && !strcmp(forced, "all");
        char path[128], *log, *line;
        int fd;

        (void) state;
        snprintf(path, sizeof path, "%s/rockerd.log", H.dir);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        log = read_all(fd);
        close(fd);
        line = strstr(log, "rockerd: kernel ");
        assert_non_null(line);
        line[strcspn(line, "\n")] = '\0';
        assert_non_null(strstr(line, "overlay layers as /proc/self/fd strings"));
        if (all) {
                assert_non_null(strstr(line, "image clones from a staging mount namespace"));
                assert_non_null(strstr(line, "mount flags by bind remounts"));
        } else if (!forced || !*forced) {
                /* what the running kernel has (docs/kernels.md) */
                struct utsname u;
                int version;

                assert_int_equal(uname(&u), 0);
                version = atoi(u.release) * 1000 + (strchr(u.release, '.') ? atoi(strchr(u.release, '.') + 1) : 0);
                assert_non_null(strstr(line, version >= 6015 ? "image clones from detached mounts" :
                                       "image clones from a staging mount namespace"));
                assert_non_null(strstr(line, version >= 5012 ? "mount flags by mount_setattr" :
                                       "mount flags by bind remounts"));
        }
        free(log);
}

static void test_no_daemon(void **state) {
        char buf[1024], sock[256];
        RockerRequest req = harness_request("nodaemon", buf, sizeof buf);
        Probe probe = {};
        RockerResult res;

        (void) state;
        snprintf(sock, sizeof sock, "%s/no-such.sock", H.dir);
        setenv("ROCKER_SOCKET", sock, 1);
        res = ROCKER_enter_rocker(&req, probe_exit, &probe);
        setenv("ROCKER_SOCKET", H.socket, 1);
        assert_int_equal(res.err_no, ROCKER_ERR_server_unaddr_invalid);
        assert_non_null(strstr(ROCKER_last_error(), sock));
        harness_assert_clean();
}

/* A launcher that is not root is told why, not "broken pipe". */
static void test_non_root_caller_is_told_why(void **state) {
        char buf[1024], *text;
        int fds[2], status;
        pid_t pid;

        (void) state;
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                RockerRequest req = harness_request("nonroot", buf, sizeof buf);
                Probe probe = {};
                RockerResult res;

                if (setgroups(0, NULL) < 0 || setresgid(1000, 1000, 1000) < 0 || setresuid(1000, 1000, 1000) < 0)
                        _exit(99);
                res = ROCKER_enter_rocker(&req, probe_exit, &probe);
                (void) !write(fds[1], ROCKER_last_error(), strlen(ROCKER_last_error()));
                _exit(res.err_no);
        }
        close(fds[1]);
        text = read_all(fds[0]);
        close(fds[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) != ROCKER_ERR_build_rocker_failed)
                print_error("err_no %d: %s\n", WEXITSTATUS(status), text);
        assert_int_equal(WEXITSTATUS(status), ROCKER_ERR_build_rocker_failed);
        assert_non_null(strstr(text, "permission denied"));
        free(text);
        harness_assert_clean();
}

/* A process that is not a guard, named as the test likes; it dies with
 * the test process even if an assertion ends the test early. */
static pid_t start_named(const char *name) {
        int fds[2];
        pid_t pid;
        char c;

        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
                prctl(PR_SET_NAME, name, 0, 0, 0);
                (void) !write(fds[1], "x", 1);
                pause();
                _exit(0);
        }
        close(fds[1]);
        assert_int_equal(read(fds[0], &c, 1), 1);
        close(fds[0]);
        return pid;
}

static int probe_nothing(void *arg) {
        (void) arg;
        return 0;
}

static void test_guardname(void **state) {
        RockerResult res;
        pid_t pid;

        (void) state;
        pid = start_named("a b) (c");
        res = ROCKER_get_guardname(pid);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        assert_string_equal(res.guard_pname, "a b) (c");
        assert_int_equal(res.guard_pid, pid);

        /* a wrong name is never signalled, nor is a right name on a process
         * that is no guard */
        res = ROCKER_kill_rocker(pid, "rk-notthisone0", SIGKILL);
        assert_int_equal(res.err_no, ROCKER_ERR_get_guardname_failed);
        res = ROCKER_kill_rocker(pid, "a b) (c", SIGKILL);
        assert_int_equal(res.err_no, ROCKER_ERR_get_guardname_failed);
        assert_int_equal(kill(pid, 0), 0);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);

        res = ROCKER_get_guardname(pid);  /* reaped: gone */
        assert_int_equal(res.err_no, ROCKER_ERR_get_guardname_failed);
        res = ROCKER_get_guardname(-5);
        assert_int_equal(res.err_no, ROCKER_ERR_get_guardname_failed);
}

/* Anyone can name a process "rk-...": a dead guard's PID taken over by an
 * impostor with its name is neither joined (the app would run in the
 * impostor's namespaces, outside any rocker) nor signalled. */
static void test_impostor_guard_refused(void **state) {
        RockerResult res;
        pid_t pid = start_named("rk-abcdefghijkl");

        (void) state;
        res = ROCKER_join_rocker(pid, "rk-abcdefghijkl", 1000, 1000, probe_nothing, NULL);
        assert_int_equal(res.err_no, ROCKER_ERR_get_guardname_failed);
        assert_non_null(strstr(ROCKER_last_error(), "not a guard"));
        res = ROCKER_kill_rocker(pid, "rk-abcdefghijkl", SIGKILL);
        assert_int_equal(res.err_no, ROCKER_ERR_get_guardname_failed);
        assert_int_equal(kill(pid, 0), 0);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        harness_assert_clean();
}

static void test_caller_untouched(void **state) {
        char buf[1024], *report, before[64], after[64];
        RockerRequest req = harness_request("caller", buf, sizeof buf);
        Probe probe = { .tag = "caller" };
        RockerResult res;
        int status;
        ssize_t n;

        (void) state;
        n = readlink("/proc/self/ns/mnt", before, sizeof before - 1);
        before[n > 0 ? n : 0] = '\0';
        res = run(&req, probe_exit, &probe, &report, &status);
        free(report);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        n = readlink("/proc/self/ns/mnt", after, sizeof after - 1);
        after[n > 0 ? n : 0] = '\0';
        assert_string_equal(before, after);
        assert_int_equal(getuid(), 0);
        assert_int_equal(geteuid(), 0);
        /* the app was reaped by run(), and the helper left no zombie behind
         * (our only other child is rockerd, alive) */
        assert_int_equal(waitpid(-1, NULL, WNOHANG), 0);
        harness_kill_guard(&res);
        harness_assert_clean();  /* includes our own fd count */
}

/* rockerd SIGKILLed with a live rocker, then restarted: the rocker lives on,
 * the new rockerd adopts it (its data dir stays taken, its name stays
 * unique), notices its death, and serves new requests. */
static void test_daemon_restart_adopts_live_rockers(void **state) {
        char buf[1024], buf2[1024], state_file[256], *report;
        RockerRequest req = harness_request("restart", buf, sizeof buf);
        RockerRequest other = harness_request("restart-other", buf2, sizeof buf2);
        Probe probe = { .tag = "restart" };
        RockerResult a, b, c;
        int status;

        (void) state;
        a = run(&req, probe_wait_for_close, &probe, &report, &status);
        free(report);
        assert_int_equal(a.err_no, ROCKER_ERR_success);
        snprintf(state_file, sizeof state_file, "%s/state/%s", H.dir, a.guard_pname);
        assert_true(exists("%s", state_file));

        harness_stop_daemon(SIGKILL);
        assert_int_equal(ROCKER_get_guardname(a.guard_pid).err_no, ROCKER_ERR_success);
        assert_int_equal(harness_restart_daemon(1), 0);

        /* the adopted rocker still holds its data dir */
        c = run(&req, probe_wait_for_close, &probe, &report, &status);
        free(report);
        assert_int_equal(c.err_no, ROCKER_ERR_build_rocker_failed);
        assert_non_null(strstr(ROCKER_last_error(), a.guard_pname));

        /* new requests are served */
        b = run(&other, probe_wait_for_close, &probe, &report, &status);
        free(report);
        assert_int_equal(b.err_no, ROCKER_ERR_success);
        assert_string_not_equal(b.guard_pname, a.guard_pname);

        /* its death is noticed: killed, then relaunched at once */
        assert_int_equal(kill(a.guard_pid, SIGKILL), 0);
        c = run(&req, probe_wait_for_close, &probe, &report, &status);
        free(report);
        if (c.err_no != ROCKER_ERR_success)
                print_error("relaunch after restart: %s\n", ROCKER_last_error());
        assert_int_equal(c.err_no, ROCKER_ERR_success);
        assert_false(exists("%s", state_file));

        harness_kill_guard(&b);
        harness_kill_guard(&c);
        harness_assert_clean();
}

static int probe_pid1(void *arg) {
        const Probe *p = arg;
        char buf[64] = "";
        int fd = open("/proc/1/comm", O_RDONLY | O_CLOEXEC);
        int n = fd >= 0 ? (int) read(fd, buf, sizeof buf - 1) : 0;

        if (fd >= 0)
                close(fd);
        buf[n > 0 ? n - 1 : 0] = '\0';
        report_say(p->fd, "pid1=%s", buf);
        report_say(p->fd, "uid=%d", (int) getuid());
        report_say(p->fd, "readme_ok=%d", access("/var/tmp/rocker-it-join", F_OK) == 0);
        return 3;
}

static int probe_mark(void *arg) {
        const Probe *p = arg;
        close(p->fd);
        return write_file("/var/tmp/rocker-it-join", "x");
}

/* Extensions: list the live rockers, join one, and never a wrong one. */
static void test_list_and_join(void **state) {
        char buf[1024], *report;
        RockerRequest req = harness_request("join", buf, sizeof buf);
        Probe probe = { .tag = "join" };
        RockerResult res, j;
        RockerInfo *list = NULL;
        int n = 0, found = 0, status, fds[2];

        (void) state;
        res = run(&req, probe_mark, &probe, &report, &status);
        free(report);
        assert_int_equal(res.err_no, ROCKER_ERR_success);

        assert_int_equal(ROCKER_list_rockers(&list, &n).err_no, ROCKER_ERR_success);
        for (int i = 0; i < n; i++)
                if (strcmp(list[i].guard_pname, res.guard_pname) == 0) {
                        found++;
                        assert_int_equal(list[i].guard_pid, res.guard_pid);
                        assert_int_equal(list[i].app_id, 1000);
                        assert_int_equal(list[i].uid, 1000);
                        assert_string_equal(list[i].app_data_dir, req.app_data_dir);
                        assert_string_equal(list[i].app_exec_dir, req.app_exec_dir);
                        assert_string_equal(list[i].app_pkg_path, H.image);
                        assert_true(list[i].age_ms >= 0);
                }
        ROCKER_free_rockers(list, n);
        assert_int_equal(found, 1);

        /* join it: same rocker, the app's earlier write visible */
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        probe.fd = fds[1];
        j = ROCKER_join_rocker(res.guard_pid, res.guard_pname, 1000, 1000, probe_pid1, &probe);
        close(fds[1]);
        assert_int_equal(j.err_no, ROCKER_ERR_success);
        assert_int_equal(waitpid(j.app_pid, &status, 0), j.app_pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 3);
        report = read_all(fds[0]);
        close(fds[0]);
        report_expect(report, "pid1", res.guard_pname);
        report_expect(report, "uid", "1000");
        report_expect(report, "readme_ok", "1");
        free(report);

        j = ROCKER_join_rocker(res.guard_pid, "rk-notthisone0", 1000, 1000, probe_pid1, &probe);
        assert_int_equal(j.err_no, ROCKER_ERR_get_guardname_failed);
        harness_kill_guard(&res);
        j = ROCKER_join_rocker(res.guard_pid, res.guard_pname, 1000, 1000, probe_pid1, &probe);
        assert_int_equal(j.err_no, ROCKER_ERR_get_guardname_failed);
        harness_assert_clean();
}

static int probe_network(void *arg) {
        const Probe *p = arg;
        struct if_nameindex *ifs = if_nameindex();
        struct ifreq ifr = {};
        char target[64] = "", path[512];
        int n = 0, fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ssize_t k = readlink("/proc/self/ns/net", target, sizeof target - 1);

        target[k > 0 ? k : 0] = '\0';
        report_say(p->fd, "netns=%s", target);
        for (struct if_nameindex *i = ifs; i && i->if_index; i++)
                n++;
        if (ifs)
                if_freenameindex(ifs);
        report_say(p->fd, "ifaces=%d", n);
        snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
        report_say(p->fd, "lo_up=%d", fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP));
        if (fd >= 0)
                close(fd);
        snprintf(path, sizeof path, "%s/rocker-it-%s", H.ro_dir, p->tag);
        report_say(p->fd, "write_shared=%d", write_file(path, "x"));
        return 0;
}

/* rockerd.conf and per-app policy: a private network, an extra shared path,
 * allowed image dirs; a bad file stops rockerd with the file and line. */
static void test_config_and_app_policy(void **state) {
        char buf[1024], host_netns[64] = "", etc[128], bad[300], *report, *out;
        RockerRequest req = harness_request("config", buf, sizeof buf);
        Probe probe = { .tag = "config" };
        RockerResult res;
        int status;
        ssize_t k;

        (void) state;
        k = readlink("/proc/self/ns/net", host_netns, sizeof host_netns - 1);
        host_netns[k > 0 ? k : 0] = '\0';
        snprintf(etc, sizeof etc, "%s/etc", H.dir);
        assert_int_equal(harness_sh("mkdir -p %s/apps.d && printf '[Daemon]\\nAppsDir=%s/apps.d\\nImageBackend=%s\\n"
                                    "[Policy]\\nSharedWritablePaths=/dev /tmp\\n' > %s/rockerd.conf && "
                                    "printf '[Rocker]\\nPrivateNetwork=yes\\nSharedWritablePaths=%s\\n' > %s/apps.d/4242.conf && "
                                    "printf '[Rocker]\\nImageDirs=/nonexistent-images\\n' > %s/apps.d/4343.conf && "
                                    "printf '[Rocker]\\nImageDirs=%s/allowed\\n' > %s/apps.d/4444.conf && "
                                    "mkdir %s/allowed && ln %s %s/allowed/app.squashfs && ln -s %s %s/allowed/link",
                                    etc, etc, getenv("ROCKER_TEST_BACKEND") ? getenv("ROCKER_TEST_BACKEND") : "auto",
                                    etc, H.ro_dir, etc, etc, H.dir, etc, H.dir, H.image, H.dir, H.dir, H.dir), 0);

        /* a bad file: rockerd refuses to start, naming file and line */
        snprintf(bad, sizeof bad, "%s/bad.conf", etc);
        assert_int_equal(harness_sh("printf '[Daemon]\\nMaxRockers=lots\\n' > %s", bad), 0);
        assert_int_equal(harness_sh("%s --config %s --socket %s/bad.sock --state-dir %s/bad-state 2>%s/bad.err",
                                    ROCKERD_PATH, bad, H.dir, H.dir, H.dir), 1);
        out = NULL;
        assert_int_equal(harness_sh("grep -q 'bad.conf:2: expected a number' %s/bad.err", H.dir), 0);
        free(out);

        assert_int_equal(harness_stop_daemon(SIGTERM), 0);
        snprintf(H.config, sizeof H.config, "%s/rockerd.conf", etc);
        assert_int_equal(harness_restart_daemon(0), 0);

        req.app_id = 4242;
        res = run(&req, probe_network, &probe, &report, &status);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        report_expect(report, "ifaces", "1");
        report_expect(report, "lo_up", "1");
        report_expect(report, "write_shared", "0");
        {
                char *ns = report_get(report, "netns");
                assert_non_null(ns);
                assert_string_not_equal(ns, host_netns);
                free(ns);
        }
        free(report);
        assert_true(exists("%s/rocker-it-config", H.ro_dir));
        harness_kill_guard(&res);

        req.app_id = 4343;
        res = run(&req, probe_network, &probe, &report, &status);
        free(report);
        assert_int_equal(res.err_no, ROCKER_ERR_build_rocker_failed);
        assert_non_null(strstr(ROCKER_last_error(), "not in the image dirs allowed for app 4343"));

        /* under ImageDirs=, a symlink on the way could lead out of them */
        {
                char img[300];

                req.app_id = 4444;
                snprintf(img, sizeof img, "%s/allowed/link/app.squashfs", H.dir);
                req.app_pkg_path = img;
                res = run(&req, probe_network, &probe, &report, &status);
                free(report);
                assert_int_equal(res.err_no, ROCKER_ERR_build_rocker_failed);
                assert_non_null(strstr(ROCKER_last_error(), "a symlink on the way"));
                snprintf(img, sizeof img, "%s/allowed/app.squashfs", H.dir);
                res = run(&req, probe_network, &probe, &report, &status);
                free(report);
                assert_int_equal(res.err_no, ROCKER_ERR_success);
                harness_kill_guard(&res);
                req.app_pkg_path = H.image;
        }

        /* an app without a policy file: the host's network, the default paths */
        req.app_id = 1000;
        res = run(&req, probe_network, &probe, &report, &status);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        {
                char *ns = report_get(report, "netns");
                assert_non_null(ns);
                assert_string_equal(ns, host_netns);
                free(ns);
        }
        report_expect(report, "write_shared", "30");
        free(report);
        harness_kill_guard(&res);

        assert_int_equal(harness_stop_daemon(SIGTERM), 0);
        snprintf(H.config, sizeof H.config, "%s", H.base_config);
        assert_int_equal(harness_restart_daemon(0), 0);
        harness_assert_clean();
}

/* Writes to an existing device node: no O_CREAT, no fsync. */
static int write_node(const char *path) {
        int fd = open(path, O_WRONLY | O_CLOEXEC), e;

        if (fd < 0)
                return errno;
        e = write(fd, "x", 1) == 1 ? 0 : errno;
        close(fd);
        return e;
}

static int probe_dev(void *arg) {
        const Probe *p = arg;
        struct statvfs sv;
        struct stat st;
        char path[512];
        int fd;

        /* none of the host's disks, loop devices or kernel log */
        report_say(p->fd, "loop0=%d", stat("/dev/loop0", &st) == 0 ? 0 : errno);
        report_say(p->fd, "loop_control=%d", stat("/dev/loop-control", &st) == 0 ? 0 : errno);
        report_say(p->fd, "kmsg=%d", stat("/dev/kmsg", &st) == 0 ? 0 : errno);
        report_say(p->fd, "vda=%d", stat("/dev/vda", &st) == 0 ? 0 : errno);
        /* the base nodes work */
        report_say(p->fd, "null=%d", write_node("/dev/null"));
        fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        report_say(p->fd, "urandom=%d", fd >= 0 && read(fd, path, 8) == 8 ? 0 : errno);
        if (fd >= 0)
                close(fd);
        /* a pty of its own devpts */
        fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        report_say(p->fd, "ptmx=%d", fd >= 0 && grantpt(fd) == 0 && unlockpt(fd) == 0 ? 0 : errno);
        if (fd >= 0) {
                char *name = ptsname(fd);
                report_say(p->fd, "ptsname_ok=%d", name && strncmp(name, "/dev/pts/", 9) == 0);
                close(fd);
        }
        /* /dev itself takes nothing new; /dev/shm is its own, of its size */
        report_say(p->fd, "write_dev=%d", write_file("/dev/rocker-it-new", "x"));
        snprintf(path, sizeof path, "/dev/shm/rocker-it-%s", p->tag);
        report_say(p->fd, "write_shm=%d", write_file(path, "x"));
        report_say(p->fd, "shm_mib=%llu", statvfs("/dev/shm", &sv) == 0 ?
                (unsigned long long) sv.f_blocks * sv.f_frsize / (1024 * 1024) : 0ULL);
        /* the device the policy names, the group it names */
        report_say(p->fd, "node=%d", write_node("/dev/rocker-it-node"));
        report_say(p->fd, "kvm=%d", stat("/dev/kvm", &st) == 0 ? 0 : errno);
        return 0;
}

static int probe_userns(void *arg) {
        const Probe *p = arg;
        pid_t pid;
        int st;

        /* in a child: unshare() changes the caller */
        pid = fork();
        if (pid == 0)
                _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : errno);
        report_say(p->fd, "unshare_user=%d", pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        pid = (pid_t) syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | SIGCHLD, NULL, NULL, NULL, 0);
        if (pid == 0)
                _exit(0);
        report_say(p->fd, "clone_userns=%d", pid > 0 && waitpid(pid, &st, 0) == pid ? 0 : errno);
        pid = (pid_t) syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, 0);
        if (pid == 0)
                _exit(0);
        report_say(p->fd, "clone_parent=%d", pid > 0 ? 0 : errno);
        report_say(p->fd, "setns=%d", setns(0, 0) == 0 ? 0 : errno);
        return 0;
}

/* User namespaces, for apps that sandbox themselves (Chromium), only by the
 * app's policy (AllowUserNamespaces=yes); CLONE_PARENT and setns() stay
 * refused either way. */
static void test_user_namespaces_by_policy(void **state) {
        char buf[1024], etc[128], *report;
        RockerRequest req = harness_request("userns", buf, sizeof buf);
        Probe probe = { .tag = "userns" };
        RockerResult res;
        int status;

        (void) state;
        snprintf(etc, sizeof etc, "%s/etc-userns", H.dir);
        assert_int_equal(harness_sh("mkdir -p %s/apps.d && printf '[Daemon]\\nAppsDir=%s/apps.d\\nImageBackend=%s\\n' "
                                    "> %s/rockerd.conf && printf '[Rocker]\\nAllowUserNamespaces=yes\\n' > "
                                    "%s/apps.d/4747.conf",
                                    etc, etc, getenv("ROCKER_TEST_BACKEND") ? getenv("ROCKER_TEST_BACKEND") : "auto",
                                    etc, etc), 0);
        assert_int_equal(harness_stop_daemon(SIGTERM), 0);
        snprintf(H.config, sizeof H.config, "%s/rockerd.conf", etc);
        assert_int_equal(harness_restart_daemon(0), 0);

        req.app_id = 1000;  /* no policy: refused */
        res = run(&req, probe_userns, &probe, &report, &status);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        harness_kill_guard(&res);
        report_expect(report, "unshare_user", "1");    /* EPERM */
        report_expect(report, "clone_userns", "1");
        report_expect(report, "clone_parent", "1");
        report_expect(report, "setns", "1");
        free(report);

        req.app_id = 4747;  /* AllowUserNamespaces=yes */
        res = run(&req, probe_userns, &probe, &report, &status);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        harness_kill_guard(&res);
        report_expect(report, "unshare_user", "0");
        report_expect(report, "clone_userns", "0");
        report_expect(report, "clone_parent", "1");
        report_expect(report, "setns", "1");
        free(report);

        assert_int_equal(harness_stop_daemon(SIGTERM), 0);
        snprintf(H.config, sizeof H.config, "%s", H.base_config);
        assert_int_equal(harness_restart_daemon(0), 0);
        harness_assert_clean();
}

/* A private /dev by default (like bwrap --dev): the base nodes, a devpts
 * and a /dev/shm of its own, none of the host's disks; host devices only as
 * the app's Devices= names them; Devices=all gives the host's /dev. */
static void test_private_dev(void **state) {
        char buf[1024], etc[128], node[64], *report;
        RockerRequest req = harness_request("dev", buf, sizeof buf);
        Probe probe = { .tag = "dev" };
        RockerResult res;
        struct stat st;
        bool kvm = stat("/dev/kvm", &st) == 0;
        int status;

        (void) state;
        snprintf(etc, sizeof etc, "%s/etc-dev", H.dir);
        snprintf(node, sizeof node, "/dev/rocker-it-node");
        /* a test node in the host's /dev: the null device's numbers, 0666 */
        (void) unlink(node);
        assert_int_equal(mknod(node, S_IFCHR | 0666, makedev(1, 3)), 0);
        assert_int_equal(chmod(node, 0666), 0);
        assert_int_equal(harness_sh("mkdir -p %s/apps.d && printf '[Daemon]\\nAppsDir=%s/apps.d\\nImageBackend=%s\\n' "
                                    "> %s/rockerd.conf && "
                                    "printf '[Rocker]\\nDevices=%s kvm\\nDevShmSize=8M\\n' > %s/apps.d/4545.conf && "
                                    "printf '[Rocker]\\nDevices=all\\n' > %s/apps.d/4646.conf",
                                    etc, etc, getenv("ROCKER_TEST_BACKEND") ? getenv("ROCKER_TEST_BACKEND") : "auto",
                                    etc, node, etc, etc), 0);
        assert_int_equal(harness_stop_daemon(SIGTERM), 0);
        snprintf(H.config, sizeof H.config, "%s/rockerd.conf", etc);
        assert_int_equal(harness_restart_daemon(0), 0);

        /* the default: nothing of the host's but the base nodes */
        req.app_id = 1000;
        res = run(&req, probe_dev, &probe, &report, &status);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        harness_kill_guard(&res);  /* first: a failed expect must leave no rocker */
        report_expect(report, "loop0", "2");           /* ENOENT */
        report_expect(report, "loop_control", "2");
        report_expect(report, "kmsg", "2");
        report_expect(report, "vda", "2");
        report_expect(report, "null", "0");
        report_expect(report, "urandom", "0");
        report_expect(report, "ptmx", "0");
        report_expect(report, "ptsname_ok", "1");
        report_expect(report, "write_dev", "30");      /* EROFS */
        report_expect(report, "write_shm", "0");
        report_expect(report, "shm_mib", "512");       /* DevShmSize= default */
        report_expect(report, "node", "2");
        report_expect(report, "kvm", "2");
        free(report);
        assert_false(exists("/dev/shm/rocker-it-dev"));
        assert_false(exists("/dev/rocker-it-new"));

        /* Devices= brings the node and the group, DevShmSize= the size */
        req.app_id = 4545;
        res = run(&req, probe_dev, &probe, &report, &status);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        harness_kill_guard(&res);  /* first: a failed expect must leave no rocker */
        report_expect(report, "loop0", "2");
        report_expect(report, "node", "0");
        report_expect(report, "kvm", kvm ? "0" : "2");
        report_expect(report, "shm_mib", "8");
        free(report);

        /* Devices=all: the host's /dev, shared as it is */
        req.app_id = 4646;
        res = run(&req, probe_dev, &probe, &report, &status);
        assert_int_equal(res.err_no, ROCKER_ERR_success);
        harness_kill_guard(&res);  /* first: a failed expect must leave no rocker */
        report_expect(report, "loop_control", "0");
        report_expect(report, "node", "0");
        report_expect(report, "write_shm", "0");
        free(report);
        assert_true(exists("/dev/shm/rocker-it-dev"));
        (void) unlink("/dev/shm/rocker-it-dev");

        assert_int_equal(unlink(node), 0);
        /* a shared path inside /dev is refused: devices come by Devices= */
        assert_int_equal(harness_sh("printf '[Policy]\\nSharedWritablePaths=/dev/shm\\n' > %s/bad-dev.conf && "
                                    "! %s --config %s/bad-dev.conf --socket %s/bad-dev.sock --state-dir %s/bad-dev-state "
                                    "2>%s/bad-dev.err && grep -q 'bad-dev.conf:2: .*Devices=' %s/bad-dev.err",
                                    etc, ROCKERD_PATH, etc, H.dir, H.dir, etc, etc), 0);
        assert_int_equal(harness_stop_daemon(SIGTERM), 0);
        snprintf(H.config, sizeof H.config, "%s", H.base_config);
        assert_int_equal(harness_restart_daemon(0), 0);
        harness_assert_clean();
}

typedef struct Worker {
        int id;
        int failures;
} Worker;

static void *worker(void *arg) {
        Worker *w = arg;
        char tag[32], buf[1024];

        for (int i = 0; i < 5; i++) {
                snprintf(tag, sizeof tag, "thread%d", w->id);
                RockerRequest req = harness_request(tag, buf, sizeof buf);
                Probe probe = { .tag = tag, .fd = -1, .ret = 7 };
                RockerResult res = ROCKER_enter_rocker(&req, probe_exit, &probe);
                int status;

                if (res.err_no != ROCKER_ERR_success) {
                        fprintf(stderr, "thread %d: %s\n", w->id, ROCKER_last_error());
                        w->failures++;
                        continue;
                }
                if (waitpid(res.app_pid, &status, 0) != res.app_pid || !WIFEXITED(status) || WEXITSTATUS(status) != 7)
                        w->failures++;
                if (ROCKER_kill_rocker(res.guard_pid, res.guard_pname, SIGKILL).err_no != ROCKER_ERR_success)
                        w->failures++;
        }
        return NULL;
}

static void test_concurrent_launchers(void **state) {
        pthread_t t[4];
        Worker w[4];

        (void) state;
        for (int i = 0; i < 4; i++) {
                w[i] = (Worker) { .id = i };
                assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
                pthread_join(t[i], NULL);
                assert_int_equal(w[i].failures, 0);
        }
        harness_assert_clean();
}

/* Issue 16.2: distinct app PIDs. Each app reports its PID, its PID 1's
 * name and the PID of a child it forks. */
static int probe_pids(void *arg) {
        const Probe *p = arg;
        char buf[64] = "";
        int fd = open("/proc/1/comm", O_RDONLY | O_CLOEXEC);
        int n = fd >= 0 ? (int) read(fd, buf, sizeof buf - 1) : 0;
        pid_t child;

        if (fd >= 0)
                close(fd);
        buf[n > 0 ? n - 1 : 0] = '\0';
        report_say(p->fd, "pid=%d", (int) getpid());
        report_say(p->fd, "pid1=%s", buf);
        child = fork();
        if (child == 0)
                _exit(0);
        report_say(p->fd, "child=%d", child > 0 && waitpid(child, NULL, 0) == child ? (int) child : -1);
        return 0;
}

enum { PID_ROCKERS = 20, PID_RANDOM_MIN = 1024 /* src/client/join.c */ };

typedef struct PidWorker {
        int id;
        pthread_barrier_t *start;
        RockerResult res;
        int status;
        char *report;
} PidWorker;

static void *pid_worker(void *arg) {
        PidWorker *w = arg;
        char tag[32], buf[1024];
        Probe probe = {};
        int fds[2];

        snprintf(tag, sizeof tag, "pids%d", w->id);
        RockerRequest req = harness_request(tag, buf, sizeof buf);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return NULL;
        probe.fd = fds[1];
        pthread_barrier_wait(w->start);
        w->res = ROCKER_enter_rocker(&req, probe_pids, &probe);
        close(fds[1]);
        if (w->res.err_no == ROCKER_ERR_success)
                (void) waitpid(w->res.app_pid, &w->status, 0);
        else
                fprintf(stderr, "rocker %d: %s\n", w->id, ROCKER_last_error());
        w->report = read_all(fds[0]);  /* once every app that copied the write end has exited */
        close(fds[0]);
        return NULL;
}

/* 20 rockers started at once: their apps' PIDs inside are pairwise
 * distinct, and each guard is still PID 1. The app's PID is its guard's PID
 * outside (src/client/join.c), which the live guard holds: distinct by
 * construction, so the probability of a collision here is 0. What is random
 * (a joined process's PID, the first PID of an app's children) is drawn from
 * [1024, pid_max): two given ones collide with probability 1/(pid_max-1024),
 * i.e. 1/31744 with pid_max 32768 and 1/4193280 with 4194304; this test only
 * checks that they are not 2. */
static void test_app_pids_distinct(void **state) {
        PidWorker w[PID_ROCKERS];
        pthread_t t[PID_ROCKERS];
        pthread_barrier_t start;
        int pids[PID_ROCKERS], fds[2], status;
        Probe probe = {};
        RockerResult j;
        char *report;

        (void) state;
        assert_int_equal(pthread_barrier_init(&start, NULL, PID_ROCKERS), 0);
        for (int i = 0; i < PID_ROCKERS; i++) {
                w[i] = (PidWorker) { .id = i, .start = &start };
                assert_int_equal(pthread_create(&t[i], NULL, pid_worker, &w[i]), 0);
        }
        for (int i = 0; i < PID_ROCKERS; i++)
                pthread_join(t[i], NULL);
        pthread_barrier_destroy(&start);

        for (int i = 0; i < PID_ROCKERS; i++) {
                assert_int_equal(w[i].res.err_no, ROCKER_ERR_success);
                assert_non_null(w[i].report);
                assert_true(WIFEXITED(w[i].status) && WEXITSTATUS(w[i].status) == 0);
                report_expect(w[i].report, "pid1", w[i].res.guard_pname);
                pids[i] = report_int(w[i].report, "pid", -1);
                assert_true(pids[i] > 1);
                assert_int_equal(pids[i], w[i].res.guard_pid);
                /* its children do not start at 2 either */
                assert_in_range(report_int(w[i].report, "child", -1), PID_RANDOM_MIN, INT32_MAX);
                for (int k = 0; k < i; k++)
                        if (pids[k] == pids[i]) {
                                print_error("rockers %d and %d: both apps are PID %d\n", k, i, pids[i]);
                                fail();
                        }
        }
        print_message("app PIDs inside: %d, %d, %d, ... (their guards' PIDs outside)\n", pids[0], pids[1], pids[2]);

        /* A joined process (rocker enter) gets a random PID, the guard is PID 1. */
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        probe.fd = fds[1];
        j = ROCKER_join_rocker(w[0].res.guard_pid, w[0].res.guard_pname, 1000, 1000, probe_pids, &probe);
        close(fds[1]);
        assert_int_equal(j.err_no, ROCKER_ERR_success);
        assert_int_equal(waitpid(j.app_pid, &status, 0), j.app_pid);
        report = read_all(fds[0]);
        close(fds[0]);
        report_expect(report, "pid1", w[0].res.guard_pname);
        assert_in_range(report_int(report, "pid", -1), PID_RANDOM_MIN, INT32_MAX);
        print_message("a joined process is PID %d inside\n", report_int(report, "pid", -1));
        free(report);

        for (int i = 0; i < PID_ROCKERS; i++) {
                harness_kill_guard(&w[i].res);
                free(w[i].report);
        }
        harness_assert_clean();
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_seed_flow),
                cmocka_unit_test(test_app_is_confined),
                cmocka_unit_test(test_app_attacks_fail),
                cmocka_unit_test(test_app_syscall_filter),
                cmocka_unit_test(test_app_cannot_make_launcher_children),
                cmocka_unit_test(test_app_not_oom_protected),
                cmocka_unit_test(test_exit_status_reaches_waitpid),
                cmocka_unit_test(test_kill_guard_ends_everything),
                cmocka_unit_test(test_relaunch_at_once_keeps_data),
                cmocka_unit_test(test_relaunch_before_reaping_old_app),
                cmocka_unit_test(test_data_dir_in_use),
                cmocka_unit_test(test_image_upgrade),
                cmocka_unit_test(test_squashfuse_death),
                cmocka_unit_test(test_squashfuse_unprivileged),
                cmocka_unit_test(test_squashfuse_by_absolute_path),
                cmocka_unit_test(test_data_dir_modes),
                cmocka_unit_test(test_data_dir_broken_layout),
                cmocka_unit_test(test_mountinfo_hides_data_dir),
                cmocka_unit_test(test_shared_path_keeps_host_readonly),
                cmocka_unit_test(test_bad_requests),
                cmocka_unit_test(test_kernel_mechanisms_logged),
                cmocka_unit_test(test_no_daemon),
                cmocka_unit_test(test_guardname),
                cmocka_unit_test(test_impostor_guard_refused),
                cmocka_unit_test(test_nested_overlay_symlink_refused),
                cmocka_unit_test(test_enter_with_a_stream_locked),
                cmocka_unit_test(test_non_root_caller_is_told_why),
                cmocka_unit_test(test_caller_untouched),
                cmocka_unit_test(test_concurrent_launchers),
                cmocka_unit_test(test_app_pids_distinct),
                cmocka_unit_test(test_list_and_join),
                cmocka_unit_test(test_config_and_app_policy),
                cmocka_unit_test(test_private_dev),
                cmocka_unit_test(test_user_namespaces_by_policy),
                cmocka_unit_test(test_daemon_restart_adopts_live_rockers),
        };

        if (getenv("ROCKER_TEST_FILTER"))
                cmocka_set_test_filter(getenv("ROCKER_TEST_FILTER"));
        if (geteuid() != 0) {
                fprintf(stderr, "the integration tests need root\n");
                return 77;
        }
        return cmocka_run_group_tests_name("integration", tests, harness_setup, harness_teardown);
}
