/* SPDX-License-Identifier: MIT */
/*
 * Threat model: the app is as untrusted as any rocker app, and its argv,
 * envp and stdio come from the peer. None of them is interpreted by rockerd:
 * argv and envp go to execve() only after the app process has become the
 * request's uid/gid without capabilities (join.c's become_app()), and the
 * stdio fds are only dup'ed into it. So a peer gets exactly what it would
 * get by running the program itself as that uid inside the rocker.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "join.h"
#include "macro.h"
#include "spawn.h"

void spawn_request_init(SpawnRequest *s) {
        *s = (SpawnRequest) { .stdio = { -EBADF, -EBADF, -EBADF } };
}

static void strv_free(char **v) {
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

void spawn_request_done(SpawnRequest *s) {
        strv_free(s->argv);
        strv_free(s->envp);
        for (size_t i = 0; i < 3; i++)
                safe_close(s->stdio[i]);
        spawn_request_init(s);
}

int spawn_request_take_stdio(SpawnRequest *s, int *fds, size_t n, RkError *err) {
        if (n != 3) {
                for (size_t i = 0; i < n; i++)
                        safe_close(fds[i]);
                return rk_error(err, EBADMSG, "a request carrying file descriptors must be a spawn carrying exactly 3 (stdin, "
                                "stdout, stderr), not %zu", n);
        }
        for (size_t i = 0; i < 3; i++) {
                safe_close(s->stdio[i]);
                s->stdio[i] = fds[i];  /* close-on-exec from recvmsg(MSG_CMSG_CLOEXEC) */
        }
        return 0;
}

typedef struct AppArgs {
        const SpawnRequest *s;
} AppArgs;

/* In the app, after join.c made it the app's user: async-signal-safe only
 * (a raw clone of rockerd). rockerd blocks and handles signals for its
 * loop; none of that is the app's. */
static int app_exec(void *userdata) {
        const AppArgs *a = userdata;
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        sigset_t none;

        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) sigaction(sig, &dfl, NULL);  /* EINVAL for the libc's own: fine */
        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                _exit(127);
        /* stdio[] are >= 3 (checked by spawn_app()), so no dup2() overwrites
         * one still to be copied; dup2() clears close-on-exec on 0-2. */
        for (int i = 0; i < 3; i++)
                if (dup2(a->s->stdio[i], i) < 0)
                        _exit(127);
        execve(a->s->argv[0], a->s->argv, a->s->envp);
        _exit(errno == ENOENT ? 127 : 126);
}

int spawn_app(int guard_pidfd, const char *guard_name, uid_t uid, gid_t gid, bool user_namespaces,
              bool as_guard_pid, const SpawnRequest *s, pid_t *ret_pid, int *ret_pidfd, RkError *err) {
        AppArgs args = { .s = s };
        _cleanup_(sigkill_waitp) pid_t pid = 0;
        ROCKER_ERR e;
        int pidfd;

        if (!s->argv || !s->argv[0] || !s->envp) {
                return rk_error(err, EINVAL, "spawn: no argv");
        }
        for (size_t i = 0; i < 3; i++)
                if (s->stdio[i] < 3) {
                        return rk_error(err, EBADF, "spawn: stdio fd %zu missing", i);
                }
        e = join_and_spawn(guard_pidfd, guard_name, uid, gid, app_exec, &args, -EBADF,
                           (as_guard_pid ? JOIN_AS_GUARD_PID : 0) | (user_namespaces ? JOIN_USER_NAMESPACES : 0),
                           &pid, err);
        if (e != ROCKER_ERR_success)
                return rk_error_wrap(err, "cannot start the app");
        /* Our unreaped child (CLONE_PARENT from our helper): the PID cannot
         * be reused before we reap it. */
        pidfd = pidfd_open(pid, 0);
        if (pidfd < 0) {
                int r = -errno;
                /* pid's cleanup kills and reaps it: nothing could watch it */
                return rk_error(err, r, "cannot watch the app (pid %d): %s", (int) pid, strerror(-r));
        }
        *ret_pid = TAKE_PID(pid);
        *ret_pidfd = pidfd;
        return 0;
}

int spawn_wait_status(const siginfo_t *si) {
        switch (si->si_code) {
        case CLD_EXITED:
                return (si->si_status & 0xff) << 8;
        case CLD_KILLED:
                return si->si_status & 0x7f;
        case CLD_DUMPED:
                return (si->si_status & 0x7f) | 0x80;
        default:
                return 0;
        }
}
