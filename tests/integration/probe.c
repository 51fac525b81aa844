/* SPDX-License-Identifier: MIT */
/* Apps that report from inside a rocker: see probe.h. */
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
#include "probe.h"

int write_file(const char *path, const char *content) {
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

RockerResult probe_run(RockerRequest *req, int (*fn)(void *), Probe *probe, char **ret_report, int *ret_status) {
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

bool exists(const char *fmt, ...) {
        char path[4096];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(path, sizeof path, fmt, ap);
        va_end(ap);
        return access(path, F_OK) == 0;
}

int probe_exit(void *arg) {
        return ((const Probe *) arg)->ret;
}

long long mono_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int probe_counter(void *arg) {
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

int probe_wait_for_close(void *arg) {
        const Probe *p = arg;
        close(p->fd);
        return 0;
}

int probe_nothing(void *arg) {
        (void) arg;
        return 0;
}
