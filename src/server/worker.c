/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fdpass.h"
#include "log.h"
#include "macro.h"
#include "worker.h"

struct Worker {
        Reaper *reaper;
        pid_t pid;
        int pidfd;
        int sock;               /* our end of the reply socket */
        sd_event_source *source;
        WorkerDone done;
        void *userdata;
};

pid_t worker_pid(const Worker *w) {
        return w->pid;
}

static void worker_free(Worker *w) {
        sd_event_source_disable_unref(w->source);
        safe_close(w->sock);
        /* It has replied (and exits now) or is being killed: reaped when it
         * exits, the loop never waits for it. */
        if (w->pidfd >= 0)
                (void) reaper_adopt(w->reaper, TAKE_FD(w->pidfd));
        free(w);
}

Worker *worker_kill(Worker *w) {
        if (!w)
                return NULL;
        if (pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
                log_warning_errno(errno, "cannot kill worker pid %d: %m", (int) w->pid);
        worker_free(w);
        return NULL;
}

static int on_worker_reply(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Worker *w = userdata;
        WorkerReply *reply;
        int got_fd = -EBADF;
        ssize_t n;

        (void) s;
        (void) revents;
        reply = calloc(1, sizeof *reply);
        if (!reply)
                return 0;  /* tried again on the next wakeup */
        n = fdpass_recv(fd, reply, sizeof *reply, &got_fd);
        if (n == -EAGAIN) {
                free(reply);
                return 0;
        }
        if (n != (ssize_t) sizeof *reply) {
                /* Died (killed, crashed) before replying, or garbage. */
                got_fd = safe_close(got_fd);
                memset(reply, 0, sizeof *reply);
                (void) rk_error(&reply->err, n < 0 ? (int) n : EPIPE, "the worker ended without a reply");
        }
        reply->err.msg[sizeof reply->err.msg - 1] = 0;
        w->done(reply, got_fd, w->userdata);
        free(reply);
        worker_free(w);
        return 0;
}

/* Leaves only the reply socket (as fd 3) and in_fd (as fd 4, if any) of
 * rockerd's fds, besides stdin/out/err. */
static int worker_keep_fds(int sock, int in_fd) {
        int s, i = -EBADF;

        s = fcntl(sock, F_DUPFD_CLOEXEC, 10);
        if (s < 0)
                return -errno;
        if (in_fd >= 0) {
                i = fcntl(in_fd, F_DUPFD_CLOEXEC, 10);
                if (i < 0)
                        return -errno;
        }
        if (dup3(s, 3, O_CLOEXEC) < 0)
                return -errno;
        if (i >= 0 && dup3(i, 4, O_CLOEXEC) < 0)
                return -errno;
        if (syscall(SYS_close_range, i >= 0 ? 5U : 4U, ~0U, 0U) < 0)
                return -errno;
        return 0;
}

_noreturn_ static void worker_main(pid_t parent, const char *name, WorkerJob job, void *job_data, int sock,
                                   int in_fd) {
        static WorkerReply reply;  /* in the child's own copy: no allocation */
        int out_fd, r;

        (void) prctl(PR_SET_NAME, name);
        /* It must not outlive rockerd (a killed rockerd would leave it). */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(1);  /* rockerd died before the signal was armed */
        r = worker_keep_fds(sock, in_fd);
        if (r < 0)
                _exit(1);  /* no reply: "ended without a reply" */
        out_fd = job(job_data, in_fd >= 0 ? 4 : -EBADF, &reply);
        if (rk_error_set(&reply.err))
                out_fd = safe_close(out_fd);
        if (fdpass_send(3, &reply, sizeof reply, out_fd) < 0)
                _exit(1);
        _exit(0);
}

int worker_start(sd_event *event, Reaper *reaper, const char *name, WorkerJob job, void *job_data, int in_fd,
                 WorkerDone done, void *userdata, Worker **ret) {
        _cleanup_close_ int pair0 = -EBADF, pair1 = -EBADF;
        int pair[2], r;
        Worker *w;
        pid_t pid, parent;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0)
                return -errno;
        pair0 = pair[0];
        pair1 = pair[1];
        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->reaper = reaper;
        w->pidfd = w->sock = -EBADF;
        w->done = done;
        w->userdata = userdata;

        parent = getpid();
        pid = fork();
        if (pid < 0) {
                r = -errno;
                free(w);
                return r;
        }
        if (pid == 0)
                worker_main(parent, name, job, job_data, pair1, in_fd);
        pair1 = safe_close(pair1);
        w->pid = pid;
        w->sock = TAKE_FD(pair0);
        /* Our unreaped child: its pid cannot have been reused. */
        w->pidfd = pidfd_open(pid, 0);
        if (w->pidfd < 0) {
                r = -errno;
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                safe_close(w->sock);
                free(w);
                return r;
        }
        r = sd_event_add_io(event, &w->source, w->sock, EPOLLIN, on_worker_reply, w);
        if (r < 0) {
                worker_kill(w);
                return r;
        }
        *ret = w;
        return 0;
}
