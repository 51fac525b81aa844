/* SPDX-License-Identifier: MIT */
/*
 * Threat model: the proxy filters what an untrusted app may say on its
 * user's session bus; without it, the app could ask the user's services
 * (systemd --user through the bus, or any other service) to act outside the
 * rocker. The proxy runs outside the rocker's namespaces (no process of the
 * rocker can see, signal or ptrace it: they are in a PID namespace of their
 * own), as the app's uid with no capability and no_new_privs, which is what
 * the bus requires to let it in, and no more.
 *
 * Its directory lies in rockerd's state dir (root's, 0700): it is reached
 * through an O_PATH fd the proxy inherits (/proc/self/fd/N/bus), so no path
 * of it is reachable by any other process of that uid, and the socket path
 * stays short. The guard binds the socket refusing symlinks and anything
 * but a socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus.h"
#include "helper.h"
#include "macro.h"
#include "util.h"

/* What every app may reach when its policy names nothing: the portals and
 * notifications, as flatpak gives. */
static const char *const default_talk[] = { "org.freedesktop.portal.*", "org.freedesktop.Notifications", NULL };

bool bus_host_has_bus(uid_t uid) {
        char path[64];
        struct stat st;

        snprintf(path, sizeof path, "/run/user/%u/bus", (unsigned) uid);
        return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

bool bus_name_is_valid(const char *s) {
        size_t n = strlen(s);
        bool dot = false;

        if (n == 0 || n > 255)
                return false;
        if (n >= 2 && strcmp(s + n - 2, ".*") == 0)
                n -= 2;
        if (n == 0 || s[0] == '.' || s[n - 1] == '.' || (s[0] >= '0' && s[0] <= '9'))
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (c == '.') {
                        if (s[i + 1] == '.' || (s[i + 1] >= '0' && s[i + 1] <= '9'))
                                return false;
                        dot = true;
                } else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                             c == '-'))
                        return false;
        }
        return dot;
}

static int dir_name(const char *name, char *buf, size_t len) {
        if ((size_t) snprintf(buf, len, ".bus-%s", name) >= len)
                return -ENAMETOOLONG;
        return 0;
}

int bus_proxy_remove_dir(const char *state_dir, const char *name) {
        _cleanup_close_ int state = -EBADF, dir = -EBADF;
        char dname[64];

        if (dir_name(name, dname, sizeof dname) < 0)
                return -ENAMETOOLONG;
        state = open(state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (state < 0)
                return negative_errno();
        dir = openat(state, dname, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0)
                return errno == ENOENT ? 0 : negative_errno();
        /* unlinkat() never follows: a symlink put there goes, not its target */
        if (unlinkat(dir, "bus", 0) < 0 && errno != ENOENT)
                return negative_errno();
        if (unlinkat(state, dname, AT_REMOVEDIR) < 0)
                return negative_errno();
        return 0;
}

/* The proxy's argv: its own name, the sync fd, the bus, its socket, then
 * the rules. At most 3 defaults + 3 × 16 names. */
#define PROXY_ARGS_MAX (8 + 3 + 3 * PLAN_DBUS_NAMES_MAX)

_Noreturn static void proxy_exec(const Plan *p, int sync_w, int dir_fd) {
        char *argv[PROXY_ARGS_MAX + 1], fd_arg[32], bus[64], sock[64];
        char rules[3 * PLAN_DBUS_NAMES_MAX + 3][300];
        size_t n = 0, k = 0;

        /* Only the sync pipe and the directory cross the exec; the app's
         * uid and gid, nothing more. */
        if (helper_drop(p->uid, p->gid, (const int[]) { sync_w, dir_fd }, 2) < 0)
                _exit(126);

        snprintf(fd_arg, sizeof fd_arg, "--fd=%d", sync_w);
        snprintf(bus, sizeof bus, "unix:path=/run/user/%u/bus", (unsigned) p->uid);
        snprintf(sock, sizeof sock, "/proc/self/fd/%d/bus", dir_fd);
        argv[n++] = (char *) "xdg-dbus-proxy";
        argv[n++] = fd_arg;
        argv[n++] = bus;
        argv[n++] = sock;
        argv[n++] = (char *) "--filter";
        for (size_t i = 0; default_talk[i]; i++) {
                snprintf(rules[k], sizeof rules[k], "--talk=%s", default_talk[i]);
                argv[n++] = rules[k++];
        }
        for (size_t i = 0; i < p->n_dbus_talk; i++) {
                snprintf(rules[k], sizeof rules[k], "--talk=%s", p->dbus_talk[i]);
                argv[n++] = rules[k++];
        }
        for (size_t i = 0; i < p->n_dbus_own; i++) {
                snprintf(rules[k], sizeof rules[k], "--own=%s", p->dbus_own[i]);
                argv[n++] = rules[k++];
        }
        for (size_t i = 0; i < p->n_dbus_see; i++) {
                snprintf(rules[k], sizeof rules[k], "--see=%s", p->dbus_see[i]);
                argv[n++] = rules[k++];
        }
        argv[n] = NULL;
        execve(BUS_PROXY_PATH, argv, helper_environ);
        _exit(127);
}

int bus_proxy_start(const Plan *p, const char *state_dir, const char *name, BusProxy *ret, RkError *err) {
        _cleanup_close_ int state = -EBADF, dir = -EBADF, sync_r = -EBADF, sync_w = -EBADF, pidfd = -EBADF;
        _cleanup_free_ char *socket = NULL;
        char dname[64];
        int pipefd[2], r;
        pid_t pid;

        if (access(BUS_PROXY_PATH, X_OK) < 0) {
                r = negative_errno();
                return rk_error(err, r, "SessionBus=filtered needs %s (Debian package xdg-dbus-proxy): %s; install it, "
                                "or give the app SessionBus=none", BUS_PROXY_PATH, strerror(-r));
        }
        r = dir_name(name, dname, sizeof dname);
        if (r < 0 || asprintf(&socket, "%s/%s/bus", state_dir, dname) < 0) {
                socket = NULL;
                return rk_error(err, r < 0 ? r : -ENOMEM, "session bus proxy: out of memory");
        }
        state = open(state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (state < 0)
                goto fail_errno;
        /* A stale one of an earlier rockerd (names are random: rare). */
        (void) bus_proxy_remove_dir(state_dir, name);
        if (mkdirat(state, dname, 0700) < 0)
                goto fail_errno;
        dir = openat(state, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0 || fchown(dir, p->uid, p->gid) < 0)
                goto fail_dir;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                goto fail_dir;
        sync_r = pipefd[0];
        sync_w = pipefd[1];

        pid = fork();
        if (pid < 0)
                goto fail_dir;
        if (pid == 0)
                proxy_exec(p, sync_w, dir);
        pidfd = pidfd_open(pid, 0);
        if (pidfd < 0) {
                r = negative_errno();
                (void) kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                (void) bus_proxy_remove_dir(state_dir, name);
                return rk_error(err, r, "session bus proxy: pidfd_open: %s", strerror(-r));
        }
        ret->pidfd = TAKE_FD(pidfd);
        ret->sync_fd = TAKE_FD(sync_r);
        ret->socket = TAKE_PTR(socket);
        /* sync_w closes here: from now on only the proxy holds the write
         * end, so the guard reads EOF if it dies before it is ready. */
        return 0;

fail_dir:
        r = negative_errno();
        (void) bus_proxy_remove_dir(state_dir, name);
        return rk_error(err, r, "session bus proxy: cannot set up %s: %s", socket, strerror(-r));
fail_errno:
        r = negative_errno();
        return rk_error(err, r, "session bus proxy: cannot set up %s: %s", socket, strerror(-r));
}
