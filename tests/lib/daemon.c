/* SPDX-License-Identifier: MIT */
/* A private rockerd for a test run or a benchmark, and its images. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

static long mono_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Waits for "READY=1" on notify_fd or the daemon's exit (its pidfd). */
static int wait_for_ready(pid_t pid, int notify_fd, int timeout_ms) {
        int pidfd = pidfd_open(pid, 0), r = -ETIMEDOUT;
        long end = mono_ms() + timeout_ms;

        if (pidfd < 0)
                return -errno;
        for (;;) {
                struct pollfd p[2] = { { .fd = notify_fd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
                long left = end - mono_ms();
                char buf[512];
                ssize_t n;
                int k;

                if (left <= 0)
                        break;
                k = poll(p, 2, (int) left);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = -errno;
                        break;
                }
                if (k == 0)
                        break;
                if (p[1].revents) {
                        (void) waitpid(pid, NULL, 0);
                        r = -ECHILD;
                        break;
                }
                n = recv(notify_fd, buf, sizeof buf - 1, MSG_DONTWAIT);
                if (n <= 0)
                        continue;
                buf[n] = '\0';
                if (strstr(buf, "READY=1")) {
                        r = 0;
                        break;
                }
        }
        close(pidfd);
        return r;
}

static void exec_daemon(const TestDaemon *d, pid_t parent) {
        const char *argv[12];
        int fd, n = 0;

        /* Should the test or the benchmark die without its cleanup, the
         * daemon follows. */
        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
                _exit(1);
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
                dup2(fd, 0);
        fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
        }
        setenv("NOTIFY_SOCKET", d->notify, 1);
        argv[n++] = "rockerd";
        argv[n++] = "--socket";
        argv[n++] = d->socket;
        argv[n++] = "--state-dir";
        argv[n++] = d->state_dir;
        if (d->config) {
                argv[n++] = "--config";
                argv[n++] = d->config;
        }
        if (d->debug)
                argv[n++] = "--debug";
        argv[n] = NULL;
        execv(d->rockerd, (char *const *) argv);
        _exit(127);
}

int testlib_daemon_start(const TestDaemon *d, pid_t *ret_pid) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        pid_t parent = getpid(), pid;
        int notify_fd, r;

        if (strlen(d->notify) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, d->notify, strlen(d->notify) + 1);
        (void) unlink(sa.sun_path);
        notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (notify_fd < 0)
                return -errno;
        if (bind(notify_fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                r = -errno;
                close(notify_fd);
                return r;
        }
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(notify_fd);
                (void) unlink(sa.sun_path);
                return r;
        }
        if (pid == 0)
                exec_daemon(d, parent);
        r = wait_for_ready(pid, notify_fd, d->ready_timeout_ms);
        close(notify_fd);
        (void) unlink(sa.sun_path);
        if (r != -ECHILD)
                *ret_pid = pid;
        return r;
}

int testlib_daemon_stop(pid_t pid, int sig, int timeout_ms) {
        int pidfd = pidfd_open(pid, 0), status = 0;

        if (pidfd < 0)
                return -errno;
        (void) pidfd_send_signal(pidfd, sig, NULL, 0);
        {
                struct pollfd p = { .fd = pidfd, .events = POLLIN };
                int k;

                while ((k = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
                        ;
                if (k != 1)
                        (void) pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
        }
        close(pidfd);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return status;
}

int testlib_make_image(const char *workdir, const char *path, const char *readme) {
        return testlib_sh("set -e; d=$(mktemp -d %s/src.XXXXXX); chmod 0755 $d; mkdir -p $d/bin; echo '%s' > $d/README; "
                          "cp /bin/true $d/bin/; chmod 4755 $d/bin/true; "
                          "mksquashfs $d %s -noappend -quiet -all-root -no-progress >/dev/null; rm -rf $d",
                          workdir, readme, path) == 0 ? 0 : -EIO;
}
