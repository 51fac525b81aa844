/* SPDX-License-Identifier: MIT */
/*
 * rocker run / rocker enter for a non-root user (issue 17): it cannot join a
 * rocker, so rockerd creates CMD (ROCKER_spawn_rocker(),
 * ROCKER_spawn_in_rocker()) with rocker's own stdio, and tells its exit
 * status on a handle. CMD runs as our own uid, so the "please stop" signals
 * rocker gets are forwarded to it directly, as cli_spawn_wait() does.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rocker/rocker.h>

#include "cli.h"

static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2 };

int cli_spawned_argv(char **cmd, const char **argv, size_t size) {
        size_t n = 0;

        /* "sh -c 'exec "$0" "$@"' CMD ARGS": a CMD without a slash is
         * looked up in the rocker's PATH, as execvp() does for root. */
        if (!strchr(cmd[0], '/')) {
                argv[n++] = "/bin/sh";
                argv[n++] = "-c";
                argv[n++] = "exec \"$0\" \"$@\"";
        }
        for (size_t i = 0; cmd[i]; i++) {
                if (n >= size - 1)
                        return -E2BIG;
                argv[n++] = cmd[i];
        }
        argv[n] = NULL;
        return 0;
}

void cli_spawned_block(sigset_t *ret_old) {
        sigset_t set;

        sigemptyset(&set);
        for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
                sigaddset(&set, forwarded[i]);
        sigprocmask(SIG_BLOCK, &set, ret_old);
}

int cli_spawned_wait(int handle, pid_t app_pid, const sigset_t *old) {
        sigset_t set;
        int sfd, ws = 0;
        RockerResult w;

        sigemptyset(&set);
        for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
                sigaddset(&set, forwarded[i]);
        sfd = signalfd(-1, &set, SFD_CLOEXEC);
        for (;;) {
                struct pollfd p[2] = { { .fd = handle, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
                struct signalfd_siginfo si;

                if (poll(p, sfd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
                        break;
                if (p[0].revents)
                        break;
                /* CMD is in a session of its own: its group, as a terminal
                 * would signal it. */
                if ((p[1].revents & POLLIN) && read(sfd, &si, sizeof si) == (ssize_t) sizeof si &&
                    kill(-app_pid, (int) si.ssi_signo) < 0)
                        (void) kill(app_pid, (int) si.ssi_signo);
        }
        w = ROCKER_wait_rocker(handle, &ws);
        close(handle);
        if (sfd >= 0)
                close(sfd);
        sigprocmask(SIG_SETMASK, old, NULL);
        if (w.err_no != ROCKER_ERR_success)
                return cli_lib_error(w.err_no, "lost track of the command (pid %d)", (int) app_pid);
        if (WIFEXITED(ws))
                return WEXITSTATUS(ws);
        if (WIFSIGNALED(ws))
                return 128 + WTERMSIG(ws);
        return CLI_EXIT_ROCKER;
}
