/* SPDX-License-Identifier: MIT */
/*
 * rocker run -t / rocker enter -t: CMD on a pseudo-terminal of its own, as
 * machinectl shell or podman run -it give. The pty is allocated by rocker
 * (outside the rocker, on the host's devpts); CMD gets its slave as stdin,
 * stdout, stderr and controlling terminal, so its job control, Ctrl-C and
 * window size work, and nothing it does (TIOCSTI included) reaches the
 * terminal rocker runs in: that one only ever sees CMD's output, written by
 * rocker. rocker's terminal is in raw mode while CMD runs and restored after.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

int cli_pty_open(CliCommand *cmd) {
        char name[64];
        struct termios tio;
        struct winsize ws;
        int master, slave;

        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0) {
                cli_error("cannot allocate a pseudo-terminal: %s", strerror(errno));
                if (master >= 0)
                        close(master);
                return CLI_EXIT_ROCKER;
        }
        slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0) {
                cli_error("cannot open %s: %s", name, strerror(errno));
                close(master);
                return CLI_EXIT_ROCKER;
        }
        /* CMD starts with the modes and size of the terminal it was asked
         * from, as if it ran there. */
        if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &tio) == 0)
                (void) tcsetattr(slave, TCSANOW, &tio);
        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                (void) ioctl(master, TIOCSWINSZ, &ws);
        cmd->pty_master = master;
        cmd->pty_slave = slave;
        return 0;
}

int cli_pty_attach(const CliCommand *cmd) {
        /* The library made this process a session leader without a
         * terminal: the pty becomes its controlling terminal. */
        if (ioctl(cmd->pty_slave, TIOCSCTTY, 0) < 0)
                return -errno;
        for (int fd = 0; fd < 3; fd++)
                if (dup2(cmd->pty_slave, fd) < 0)
                        return -errno;
        if (cmd->pty_slave > 2)
                close(cmd->pty_slave);
        close(cmd->pty_master);
        return 0;
}

/* Writes all of buf to fd (a pty or rocker's stdout, both blocking). */
static int write_all(int fd, const char *buf, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, buf, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                buf += k;
                n -= (size_t) k;
        }
        return 0;
}

static int exit_status(int status) {
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return CLI_EXIT_ROCKER;
}

int cli_pty_wait(CliCommand *cmd, pid_t app_pid) {
        static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2 };
        struct termios saved, raw;
        bool raw_set = false, in_open = true, exited = false;
        sigset_t set;
        int sfd, status = 0, rc;
        char buf[4096];

        close(cmd->pty_slave);
        cmd->pty_slave = -1;
        /* The signals cli_spawn_prepare() blocked, read from a signalfd. */
        sigemptyset(&set);
        for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
                sigaddset(&set, forwarded[i]);
        sigaddset(&set, SIGWINCH);
        sigaddset(&set, SIGCHLD);
        sfd = signalfd(-1, &set, SFD_CLOEXEC);
        if (sfd < 0) {
                cli_error("signalfd: %s", strerror(errno));
                return cli_spawn_wait(app_pid);
        }
        if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
                raw = saved;
                cfmakeraw(&raw);
                raw_set = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
        }

        for (;;) {
                struct pollfd p[3] = {
                        { .fd = sfd, .events = POLLIN },
                        { .fd = cmd->pty_master, .events = POLLIN },
                        { .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN },
                };

                if (!exited && waitpid(app_pid, &status, WNOHANG) == app_pid)
                        exited = true;
                /* After CMD's end, what it wrote is drained; then done
                 * (EIO: no process has the slave open any more). */
                if (poll(p, 3, exited ? 0 : -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                        ssize_t n = read(cmd->pty_master, buf, sizeof buf);

                        if (n > 0) {
                                if (write_all(STDOUT_FILENO, buf, (size_t) n) < 0)
                                        in_open = false;
                                continue;
                        }
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (exited)
                                break;
                        /* EIO before CMD's end: every holder of the slave
                         * closed it; wait for CMD only. */
                        p[1].fd = -1;
                        if (waitpid(app_pid, &status, 0) == app_pid)
                                exited = true;
                        break;
                }
                if (exited)
                        break;
                if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
                        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);

                        if (n > 0)
                                (void) write_all(cmd->pty_master, buf, (size_t) n);
                        else if (n == 0 || errno != EINTR) {
                                /* end of input: CMD gets EOF as from a terminal */
                                static const char eof = 4;  /* VEOF, ^D */
                                (void) write_all(cmd->pty_master, &eof, 1);
                                in_open = false;
                        }
                }
                if (p[0].revents & POLLIN) {
                        struct signalfd_siginfo si;

                        if (read(sfd, &si, sizeof si) != (ssize_t) sizeof si)
                                continue;
                        if (si.ssi_signo == SIGCHLD)
                                continue;
                        if (si.ssi_signo == SIGWINCH) {
                                struct winsize ws;
                                /* the kernel tells CMD's foreground group */
                                if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                                        (void) ioctl(cmd->pty_master, TIOCSWINSZ, &ws);
                                continue;
                        }
                        if (kill(-app_pid, (int) si.ssi_signo) < 0)
                                (void) kill(app_pid, (int) si.ssi_signo);
                }
        }
        if (!exited && waitpid(app_pid, &status, 0) != app_pid)
                status = -1;
        if (raw_set)
                (void) tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
        close(sfd);
        close(cmd->pty_master);
        cmd->pty_master = -1;
        rc = status < 0 ? CLI_EXIT_ROCKER : exit_status(status);
        return rc;
}
