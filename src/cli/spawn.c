/* SPDX-License-Identifier: MIT */
/*
 * Running CMD in a rocker and waiting for it.
 *
 * The library makes the app process our child but puts it in its own session
 * (no controlling terminal), so a Ctrl-C on the terminal reaches rocker only.
 * rocker therefore forwards the usual "please stop" signals to the app's
 * process group, like a terminal would, and never dies of them itself while
 * CMD runs: otherwise the guard would stay behind. The signals are blocked
 * from before the rocker is built (none is lost in between) and taken with
 * sigwaitinfo(); the app process restores the original mask before exec.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH };

static void forward_set(sigset_t *set, bool with_chld) {
        sigemptyset(set);
        for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
                sigaddset(set, forwarded[i]);
        if (with_chld)
                sigaddset(set, SIGCHLD);
}

void cli_spawn_prepare(CliCommand *cmd) {
        sigset_t set;

        /* An inherited SIG_IGN would make the kernel reap CMD for us and
         * lose its status. */
        signal(SIGCHLD, SIG_DFL);
        forward_set(&set, true);
        sigprocmask(SIG_BLOCK, &set, &cmd->saved_mask);
}

int cli_spawn_exec(void *arg) {
        CliCommand *cmd = arg;
        char msg[512];
        int e, n;

        /* This is the app process: CMD gets the signal mask rocker was
         * started with, not the one it waits with. */
        sigprocmask(SIG_SETMASK, &cmd->saved_mask, NULL);
        if (cmd->pty_slave >= 0) {
                e = -cli_pty_attach(cmd);
                if (e) {
                        n = snprintf(msg, sizeof msg, "rocker: cannot take the terminal: %s\n", strerror(e));
                        if (n > 0)
                                (void) !write(STDERR_FILENO, msg, (size_t) n < sizeof msg ? (size_t) n : sizeof msg - 1);
                        return CLI_EXIT_CANNOT_EXEC;
                }
        }
        execvp(cmd->argv[0], cmd->argv);
        e = errno;

        /* One line, written at once: this process is a raw clone, keep it
         * to plain system calls. */
        n = snprintf(msg, sizeof msg, "rocker: %s: %s\n", cmd->argv[0], strerror(e));
        if (n > 0)
                (void) !write(STDERR_FILENO, msg, (size_t) n < sizeof msg ? (size_t) n : sizeof msg - 1);
        return e == ENOENT || e == ENOTDIR ? CLI_EXIT_NOT_FOUND : CLI_EXIT_CANNOT_EXEC;
}

int cli_spawn_wait(pid_t app_pid) {
        sigset_t set;
        int status;

        forward_set(&set, true);
        for (;;) {
                pid_t r = waitpid(app_pid, &status, WNOHANG);
                int sig;

                if (r == app_pid)
                        break;
                if (r < 0 && errno != EINTR) {
                        cli_error("cannot wait for pid %d: %s", (int) app_pid, strerror(errno));
                        return CLI_EXIT_ROCKER;
                }
                /* A SIGCHLD that arrives after the waitpid() above stays
                 * pending, so this cannot sleep through CMD's end. */
                sig = sigwaitinfo(&set, NULL);
                if (sig < 0 || sig == SIGCHLD)
                        continue;
                /* app_pid is our unreaped child: neither it nor its process
                 * group id can be reused yet. Until the app has called
                 * setsid() its group does not exist: signal it alone. */
                if (kill(-app_pid, sig) < 0)
                        (void) kill(app_pid, sig);
        }
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return CLI_EXIT_ROCKER;
}
