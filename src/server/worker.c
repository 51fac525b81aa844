/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
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
#include "procfs.h"
#include "worker.h"

/* The first message of a child started by worker_spawn_child(), sent
 * before anything else, with its own pidfd beside it (never a bare pid: the
 * loop never acts on a number it is told). */
#define WORKER_CHILD_MAGIC 0x68636b72U  /* "rkch" */
typedef struct WorkerChildNote {
        uint32_t magic;
        int32_t pid;            /* for logs only */
} WorkerChildNote;

struct Worker {
        Reaper *reaper;
        pid_t pid;
        int pidfd;
        int sock;               /* our end of the reply socket */
        sd_event_source *source;  /* floating: the loop owns it, and it the Worker */
        WorkerDone done;        /* NULL once replied or killed */
        void *userdata;
        int child_pidfd;        /* the job's child (worker_spawn_child()), or -EBADF */
};

/* In a worker (its own copy): that it is one (fd 3 is its reply socket),
 * and the child it started, or -EBADF. */
static bool worker_self;
static int worker_child = -EBADF;

pid_t worker_pid(const Worker *w) {
        return w->pid;
}

int worker_take_child(Worker *w) {
        return TAKE_FD(w->child_pidfd);
}

/* The child's pidfd (taken): killed and reaped, unless the reaper is gone. */
static void child_kill(Worker *w, int pidfd, bool reap) {
        if (pidfd < 0)
                return;
        if (pidfd_send_signal(pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
                log_warning_errno(errno, "cannot kill a child of worker pid %d: %m", (int) w->pid);
        if (reap)
                (void) reaper_adopt(w->reaper, pidfd);
        else
                safe_close(pidfd);
}

/* The worker's part is over (it replied, died or is being killed): it is
 * reaped when it exits, the loop never waits for it. The Worker stays
 * until its socket's EOF. */
static void worker_detach(Worker *w) {
        w->done = NULL;
        if (w->pidfd >= 0)
                (void) reaper_adopt(w->reaper, TAKE_FD(w->pidfd));
}

/* The source's destroy callback: on EOF (worker_end()), or when the event
 * loop is freed at rockerd's exit (the reaper may be gone by then). */
static void worker_destroy(void *userdata) {
        Worker *w = userdata;

        child_kill(w, TAKE_FD(w->child_pidfd), false);
        safe_close(w->pidfd);
        safe_close(w->sock);
        free(w);
}

/* Every holder of the worker's end has closed it: no child can announce
 * itself any more. One not handed over is killed and reaped. */
static void worker_end(Worker *w) {
        child_kill(w, TAKE_FD(w->child_pidfd), true);
        worker_detach(w);
        /* We hold no reference: this drops the loop's, the source goes
         * after this dispatch, and worker_destroy() with it. */
        (void) sd_event_source_set_enabled(w->source, SD_EVENT_OFF);
        (void) sd_event_source_set_floating(w->source, false);
}

Worker *worker_kill(Worker *w) {
        if (!w)
                return NULL;
        if (pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
                log_warning_errno(errno, "cannot kill worker pid %d: %m", (int) w->pid);
        worker_detach(w);
        return NULL;
}

/* A pidfd (taken) of the job's child, from the child's note or the
 * worker's reply, which may both come. Only a child of rockerd's own is
 * kept (waitid() answers ECHILD for any other process, EINVAL for an fd
 * that is no pidfd); the same process twice is kept once; a second child
 * (not allowed) is killed and reaped at once. */
static void worker_adopt_child(Worker *w, int pidfd) {
        siginfo_t si = {};
        int pid;

        if (waitid(P_PIDFD, (id_t) pidfd, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
                log_warning_errno(errno, "worker pid %d: the child it announced is not rockerd's: %m", (int) w->pid);
                safe_close(pidfd);
                return;
        }
        if (w->child_pidfd < 0) {
                w->child_pidfd = pidfd;
                return;
        }
        pid = pidfd_get_pid(pidfd);
        if (pid > 0 && pid == pidfd_get_pid(w->child_pidfd)) {
                safe_close(pidfd);
                return;
        }
        log_warning("worker pid %d: started a second child (pid %d): killed", (int) w->pid, pid);
        child_kill(w, pidfd, true);
}

static int on_worker_reply(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Worker *w = userdata;
        union {
                WorkerReply reply;
                WorkerChildNote note;
        } *m;
        int fds[2] = { -EBADF, -EBADF };
        size_t n_fds = 0, want;
        WorkerDone done;
        ssize_t n;

        (void) s;
        (void) revents;
        m = calloc(1, sizeof *m);
        if (!m)
                return 0;  /* tried again on the next wakeup */
        n = fdpass_recv_fds(fd, m, sizeof m->reply, fds, 2, &n_fds);
        if (n == -EAGAIN || n == -EBADMSG) {
                /* -EBADMSG: a message that was not ours to take (too
                 * many fds, truncated), consumed: the socket goes on
                 * serving the messages that are. */
                if (n == -EBADMSG)
                        log_warning("worker pid %d: a malformed message, dropped", (int) w->pid);
                free(m);
                return 0;
        }
        if (n == (ssize_t) sizeof m->note && n_fds == 1 && m->note.magic == WORKER_CHILD_MAGIC) {
                worker_adopt_child(w, fds[0]);
                free(m);
                return 0;
        }
        want = n == (ssize_t) sizeof m->reply ? (size_t) __builtin_popcount(m->reply.fds & 3U) : 0;
        if (n != (ssize_t) sizeof m->reply || n_fds != want || !w->done) {
                for (size_t i = 0; i < n_fds; i++)
                        safe_close(fds[i]);
                n_fds = 0;
                if (n > 0 && !w->done) {  /* a late reply (killed): nothing to do */
                        free(m);
                        return 0;
                }
                if (w->done) {
                        /* Died (killed, crashed) before replying, or garbage. */
                        memset(&m->reply, 0, sizeof m->reply);
                        (void) rk_error(&m->reply.err, n < 0 ? (int) n : EPIPE, "the worker ended without a reply");
                }
        }
        if (w->done) {
                int job_fd = -EBADF, child_fd = -EBADF;
                size_t i = 0;

                if (n_fds > 0 && (m->reply.fds & WORKER_FD_JOB))
                        job_fd = fds[i++];
                if (n_fds > i && (m->reply.fds & WORKER_FD_CHILD))
                        child_fd = fds[i++];
                if (child_fd >= 0)
                        worker_adopt_child(w, child_fd);  /* the note's process, as a rule */
                m->reply.err.msg[sizeof m->reply.err.msg - 1] = 0;
                done = w->done;
                worker_detach(w);
                if (rk_error_set(&m->reply.err))
                        child_kill(w, TAKE_FD(w->child_pidfd), true);
                done(&m->reply, job_fd, w->userdata);
                /* Untaken: not wanted. */
                child_kill(w, TAKE_FD(w->child_pidfd), true);
                if (n > 0) {
                        free(m);
                        return 0;  /* EOF comes when the worker exits */
                }
        }
        free(m);
        worker_end(w);
        return 0;
}

int worker_spawn_child(void (*fn)(void *data), void *data, int *ret_pidfd) {
        int pidfd = -EBADF;
        struct clone_args args = {
                /* CLONE_PARENT: exit_signal is the worker's own (SIGCHLD) */
                .flags = CLONE_PARENT | CLONE_PIDFD,
                .pidfd = (uint64_t) (uintptr_t) &pidfd,
        };
        pid_t pid;

        if (!worker_self)
                return -EPERM;  /* a job's only: fd 3 is a worker's reply socket */
        if (worker_child >= 0)
                return -EBUSY;
        pid = (pid_t) syscall(SYS_clone3, &args, sizeof args);
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                WorkerChildNote note = { .magic = WORKER_CHILD_MAGIC, .pid = (int32_t) syscall(SYS_getpid) };
                int self = (int) syscall(SYS_pidfd_open, note.pid, 0);

                /* Before anything else: the loop knows us from here on
                 * (worker.h), by our own pidfd. fd 3 is the worker's reply
                 * socket (worker_self). */
                if (self < 0 || fdpass_send(3, &note, sizeof note, self) < 0)
                        _exit(126);  /* the worker's reply carries our pidfd too */
                (void) close(self);
                fn(data);
                _exit(127);
        }
        worker_child = pidfd;
        *ret_pidfd = pidfd;
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
        worker_self = true;
        out_fd = job(job_data, in_fd >= 0 ? 4 : -EBADF, &reply);
        if (rk_error_set(&reply.err)) {
                out_fd = safe_close(out_fd);
                /* killed here, reaped by the loop, which gets its pidfd
                 * below even if the child's own note was lost */
                if (worker_child >= 0)
                        (void) pidfd_send_signal(worker_child, SIGKILL, NULL, 0);
        }
        {
                int fds[2];
                size_t n = 0;

                reply.fds = 0;
                if (out_fd >= 0) {
                        fds[n++] = out_fd;
                        reply.fds |= WORKER_FD_JOB;
                }
                if (worker_child >= 0) {
                        fds[n++] = worker_child;
                        reply.fds |= WORKER_FD_CHILD;
                }
                if (fdpass_send_fds(3, &reply, sizeof reply, fds, n) < 0)
                        _exit(1);
        }
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
        w->pidfd = w->sock = w->child_pidfd = -EBADF;
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
                (void) pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0);
                (void) reaper_adopt(reaper, TAKE_FD(w->pidfd));
                safe_close(w->sock);
                free(w);
                return r;
        }
        /* The loop owns the source and the source the Worker: it outlives
         * the reply (or worker_kill()) until the socket's EOF. */
        (void) sd_event_source_set_destroy_callback(w->source, worker_destroy);
        r = sd_event_source_set_floating(w->source, true);
        if (r < 0) {
                (void) pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0);
                (void) reaper_adopt(reaper, TAKE_FD(w->pidfd));
                sd_event_source_disable_unref(w->source);  /* and w with it (worker_destroy()) */
                return r;
        }
        sd_event_source_unref(w->source);  /* the loop's reference is the only one now */
        *ret = w;
        return 0;
}
